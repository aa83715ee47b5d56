"""Secrets at rest: mail passwords and tokens are sealed with Fernet before they are stored.

Where the key comes from (``load_or_create_key``), first match wins:

1. ``POSTROOM_SECRET_KEY`` (``Settings.secret_key``), when set; the key file is then ignored.
2. The key file ``Settings.key_path`` (``$POSTROOM_HOME/secret.key``), made on first use.

Invariants:

* The key file is created atomically with mode 0600: the key is written to a temporary file
  opened with ``O_CREAT | O_EXCL`` and mode 0600, flushed to disk, then hard-linked to its
  final name. A reader never sees a half-written key, and two processes starting at once never
  overwrite each other's key: the loser of the race reads the winner's.
* A key file readable or writable by group or others is refused (``ConfigError``), and so is a
  malformed key: Postroom never guesses a key, since a new one would orphan every stored secret.
* ``Keyring.open`` raises ``SecretError`` when the key is not the one that sealed the bytes.
* A ``Secret`` prints as ``**********`` (``str``, ``repr``, f-strings, logging), so a password
  never reaches a log or a traceback by accident; ``reveal()`` is the one way to read it.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import stat
from pathlib import Path
from typing import NoReturn

from cryptography.fernet import Fernet, InvalidToken

from postroom.config import Settings
from postroom.errors import ConfigError, SecretError

log = logging.getLogger(__name__)

MASK = "**********"

_KEY_ADVICE = (
    "make a new key with: python -c "
    "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
    " (stored passwords must then be entered again)"
)


class Secret:
    """A string that hides itself: ``str(Secret("pw"))`` -> ``'**********'``.

    ``repr`` gives ``'**********'`` too (quoted, so ``Account(password='**********')`` reads
    naturally). Equality is constant-time; a Secret is not hashable.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself. Call it only where the value is needed (login, sealing)."""
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"'{MASK}'"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")


class Keyring:
    """Seals and opens secrets with one Fernet key (AES-128-CBC + HMAC-SHA256, timestamped)."""

    __slots__ = ("_fernet", "_key")

    def __init__(self, key: bytes, *, source: str = "the secret key") -> None:
        """Raises ``ConfigError`` when ``key`` is not a Fernet key (32 url-safe base64 bytes);
        ``source`` names where it came from in that message."""
        try:
            self._fernet = Fernet(key)
            self._key = key
        except ValueError as exc:  # binascii.Error is a ValueError
            raise ConfigError(
                f"{source} is malformed: a Fernet key is 32 url-safe base64-encoded bytes",
                advice=_KEY_ADVICE,
            ) from exc

    @staticmethod
    def generate_key() -> bytes:
        """A new random Fernet key, e.g. for ``POSTROOM_SECRET_KEY``."""
        return Fernet.generate_key()

    def __repr__(self) -> str:
        return "Keyring(key=**********)"

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (``"web session"``), derived from this one with
        HMAC-SHA256: one key file serves every purpose, and no derived key reveals it."""
        return hmac.new(self._key, b"postroom " + purpose.encode("utf-8"), "sha256").digest()

    def seal(self, plain: str | Secret) -> bytes:
        """The Fernet token of ``plain`` (ASCII bytes, different on every call)."""
        text = plain.reveal() if isinstance(plain, Secret) else plain
        return self._fernet.encrypt(text.encode("utf-8"))

    def open(self, sealed: bytes) -> str:
        """The text ``sealed`` holds; raises ``SecretError`` when this key did not seal it."""
        try:
            return self._fernet.decrypt(sealed).decode("utf-8")
        except InvalidToken as exc:
            raise SecretError("a stored secret cannot be decrypted with this key") from exc

    def open_secret(self, sealed: bytes) -> Secret:
        """``open`` wrapped in a ``Secret``."""
        return Secret(self.open(sealed))


def load_or_create_key(settings: Settings) -> Keyring:
    """The keyring for ``settings``: the environment's key, else the key file (made if missing).

    Raises ``ConfigError`` for a malformed key, a key file readable by group or others, or a
    data folder where the key file cannot be made.
    """
    if settings.secret_key:
        key = settings.secret_key.strip().encode("ascii", errors="replace")
        return Keyring(key, source="POSTROOM_SECRET_KEY")
    path = settings.key_path
    if not path.exists():
        _create_key_file(path)
    return Keyring(_read_key_file(path), source=f"the key file {path}")


def _read_key_file(path: Path) -> bytes:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"the key file {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if os.name == "posix" and mode & 0o077:
            raise ConfigError(
                f"the key file {path} is open to group or others (mode {mode:04o})",
                advice=f"run: chmod 600 {path}",
            )
        return path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"the key file {path} cannot be read: {exc.strerror}") from exc


def _create_key_file(path: Path) -> None:
    """Write a new key to ``path`` atomically (see the module invariants); a key another
    process wrote there first is kept."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"the data folder {path.parent} cannot be made: {exc.strerror}") from exc
    key = Fernet.generate_key()
    temp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)
            log.info("created the secret key file %s", path)
        except FileExistsError:
            log.info("another process created the secret key file %s first", path)
        _fsync_folder(path.parent)
    except OSError as exc:
        raise ConfigError(f"the key file {path} cannot be made: {exc.strerror}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _fsync_folder(folder: Path) -> None:
    """Make the new directory entry durable (best effort: not every system can)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
