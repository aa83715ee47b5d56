"""A private, real Dovecot IMAP server for the tests (Debian's ``dovecot-imapd`` 2.3).

``DovecotServer()`` writes a config into a fresh temp folder (``base_dir``, ``state_dir``, log,
users, homes, TLS files all inside it), runs ``dovecot -F -c CONFIG`` as a child process, and
returns once a LOGIN works. It listens on 127.0.0.1 only, on two free ports: plain IMAP on
``port`` (STARTTLS offered) and implicit TLS on ``tls_port`` with a certificate from a ``trustme``
CA whose certificate is in ``ca_pem_path``. ``stop()`` ends it and deletes the folder.

Variants:

* ``DovecotServer()`` ("full"): Dovecot's own capability list (CONDSTORE, QRESYNC, ESEARCH, MOVE,
  SPECIAL-USE, NOTIFY, UIDPLUS, ...) and special-use folders Sent, Drafts, Trash, Junk, Archive.
* ``DovecotServer(basic=True)``: a plain IMAP4rev1 server. ``imap_capability`` is cut down to
  ``IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ UIDPLUS NAMESPACE CHILDREN`` and the
  folders carry no special-use attributes (they still exist, by name). Dovecot still *accepts*
  ENABLE QRESYNC, CONDSTORE, MOVE... when a client sends them anyway, so a test of the client must
  also check the wire (``TcpProxy.client_bytes()``) for commands that were not advertised.

Users: ``add_user()`` makes a fresh mailbox user each call (uid/gid 65534, home chowned to it),
with its own passwd-file (``passwd/<name>``), so a new user can log in at once: Dovecot re-reads
one shared passwd-file only when its mtime changes, i.e. at most once a second. Logging in once
also creates the Maildir and the special folders.

Failed logins: Dovecot's auth penalty (per client IP, tracked by ``anvil``) would delay *every*
later login from 127.0.0.1 by 2-15 s after a wrong password. The server removes the
``anvil-auth-penalty`` socket before the first login, which disables the penalty (auth treats a
missing socket as "penalty off"). A failed LOGIN still takes about 0.5 s (Dovecot's failure queue
is flushed every 500 ms even with ``auth_failure_delay = 0``).

Runs as root (the tests and CI do): Dovecot needs it to switch to the mail user.
"""

from __future__ import annotations

import contextlib
import ctypes
import imaplib
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from tests.support import tls

MAIL_UID = 65534  # nobody
MAIL_GID = 65534  # nogroup
SPECIAL_FOLDERS = ("Sent", "Drafts", "Trash", "Junk", "Archive")
BASIC_CAPABILITY = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ UIDPLUS NAMESPACE CHILDREN"
)
START_TIMEOUT = 10.0
FOLDER_PREFIX = "postroom-dovecot-"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
_instances = itertools.count(1)


@dataclass(frozen=True)
class MailUser:
    """A mailbox account on a :class:`DovecotServer`."""

    username: str
    password: str
    home: Path
    maildir: Path
    separator: str = "/"
    uid: int = MAIL_UID
    gid: int = MAIL_GID

    @property
    def address(self) -> str:
        """The user's email address (the default user names are addresses already)."""
        return self.username if "@" in self.username else f"{self.username}@example.test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGTERM the child (Dovecot's master) when the test process dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _sweep_stale_folders() -> None:
    """Delete the folders of servers whose test process died without cleaning up (SIGKILL):
    their Dovecot is gone too (it gets SIGTERM when its parent dies)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*"):
        try:
            owner = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if not Path(f"/proc/{owner}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == str(pid):
                found.append(int(entry))
    return found


def _terminate_only(proc: subprocess.Popen[bytes]) -> None:
    """Stop Dovecot fast: SIGTERM the master and SIGKILL its children, so the master reaps them
    and exits at once (a plain SIGTERM makes it wait about a second for its services)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        for child in _children(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _terminate(proc: subprocess.Popen[bytes], folder: Path) -> None:
    _terminate_only(proc)
    shutil.rmtree(folder, ignore_errors=True)


class DovecotServer:
    """A running private Dovecot; see the module docstring. Usable as a context manager."""

    host = "127.0.0.1"

    def __init__(
        self,
        basic: bool = False,
        *,
        tls_hostnames: Sequence[str] = tls.DEFAULT_HOSTNAMES,
        separator: Literal["/", "."] = "/",
        special_use: bool | None = None,
    ) -> None:
        if os.geteuid() != 0:
            raise RuntimeError("DovecotServer needs root (Dovecot switches to the mail user)")
        if shutil.which("dovecot") is None:
            raise RuntimeError("dovecot is not installed: run .ci/run (apt dovecot-imapd)")
        self.basic = basic
        self.capabilities_variant: Literal["full", "basic"] = "basic" if basic else "full"
        self.separator = separator
        self.special_use = (not basic) if special_use is None else special_use
        self.instance_name = f"postroom-{os.getpid()}-{next(_instances)}"
        _sweep_stale_folders()
        # Not under pytest's basetemp: that is 0700 and the mail user must reach its home.
        self.folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))
        self.folder.chmod(0o755)
        (self.folder / "owner.pid").write_text(str(os.getpid()))
        for sub in ("run", "state", "log", "home", "passwd", "tls"):
            (self.folder / sub).mkdir()
        (self.folder / "home").chmod(0o755)
        self.config_path = self.folder / "dovecot.conf"
        self.log_path = self.folder / "log" / "dovecot.log"
        ca = tls.new_ca()
        self.ca_pem_path = tls.write_ca_pem(ca, self.folder / "tls" / "ca.pem")
        self._cert_path, self._key_path = tls.issue_server_cert(
            ca, self.folder / "tls", tls_hostnames
        )
        self._user_numbers = itertools.count(1)
        self._users: dict[str, MailUser] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self.port = 0
        self.tls_port = 0
        self.start_seconds = 0.0
        self._probe = self._write_user("probe", "probe-secret")
        try:
            self._start()
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    # -- lifecycle -----------------------------------------------------------------------------

    def _start(self, *, new_ports: bool = True) -> None:
        began = time.monotonic()
        last_error = ""
        for _attempt in range(3 if new_ports else 1):
            if new_ports:  # a free port can be taken between probing and Dovecot's bind: retry
                self.port, self.tls_port = free_port(), free_port()
            self.config_path.write_text(self._config())
            with contextlib.suppress(FileNotFoundError):
                self.log_path.rename(self.log_path.with_suffix(".log.old"))
            with open(self.folder / "log" / "stderr.log", "wb") as stderr:
                proc = subprocess.Popen(
                    ["dovecot", "-F", "-c", str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            self._proc = proc
            last_error = self._wait_ready(proc, began + START_TIMEOUT)
            if not last_error:
                if self._finalizer is not None:
                    self._finalizer.detach()
                self._finalizer = weakref.finalize(self, _terminate, proc, self.folder)
                self.start_seconds = time.monotonic() - began
                return
            _terminate_only(proc)
            if "Address already in use" not in last_error:
                break
        raise RuntimeError(
            f"Dovecot did not start within {START_TIMEOUT:.0f} s: {last_error}\n"
            f"--- {self.log_path} ---\n{self.read_log()}"
        )

    def _wait_ready(self, proc: subprocess.Popen[bytes], deadline: float) -> str:
        """Empty string once a LOGIN works, else why not."""
        penalty_socket = self.folder / "run" / "anvil-auth-penalty"
        penalty_removed = False
        last = "no sockets in base_dir yet"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                stderr = (self.folder / "log" / "stderr.log").read_text(errors="replace")
                return f"dovecot exited with {proc.returncode}: {stderr.strip()}"
            if not penalty_removed:
                # Before any login: auth connects to this socket when it starts (see docstring).
                if not penalty_socket.exists():
                    time.sleep(0.01)
                    continue
                penalty_socket.unlink()
                penalty_removed = True
            try:
                with self.imap(self._probe):
                    return ""
            except (OSError, imaplib.IMAP4.error) as exc:
                last = f"{type(exc).__name__}: {exc}"
                time.sleep(0.02)
        return f"timed out ({last})"

    def restart(self) -> None:
        """Kill Dovecot (every open connection drops) and start it again on the same ports with
        the same users and mail: a server restart as a client sees it."""
        if self._proc is not None:
            _terminate_only(self._proc)
        self._start(new_ports=False)

    def stop(self) -> None:
        """Stop Dovecot and delete its folder (idempotent)."""
        if self._finalizer is not None:
            self._finalizer()
        elif self._proc is not None:
            _terminate(self._proc, self.folder)

    def __enter__(self) -> DovecotServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        """The master process: the imap processes it starts are its children."""
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"

    # -- users ---------------------------------------------------------------------------------

    def add_user(self, name: str | None = None, password: str | None = None) -> MailUser:
        """A fresh user (``userN@example.test`` unless named), logged in once so its Maildir and
        special folders exist."""
        if name is None:
            name = f"user{next(self._user_numbers)}-{os.getpid()}@example.test"
        if password is None:
            password = f"pw-{os.urandom(6).hex()}"
        user = self._write_user(name, password)
        with self.imap(user) as conn:
            conn.list()
        return user

    def _write_user(self, name: str, password: str) -> MailUser:
        if not _NAME_RE.match(name):
            raise ValueError(f"user name {name!r}: use letters, digits and . _ @ + -")
        if any(c in password for c in ":\n\r"):
            raise ValueError("password must not contain ':' or line breaks")
        if name in self._users:
            raise ValueError(f"user {name!r} exists already on this server")
        home = self.folder / "home" / name
        home.mkdir(mode=0o700)
        os.chown(home, MAIL_UID, MAIL_GID)
        line = f"{name}:{{PLAIN}}{password}:{MAIL_UID}:{MAIL_GID}::{home}::\n"
        passwd = self.folder / "passwd" / name
        passwd.write_text(line)
        passwd.chmod(0o644)  # read by the auth process (user dovecot)
        user = MailUser(name, password, home, home / "Maildir", self.separator)
        self._users[name] = user
        return user

    # -- a stdlib client -----------------------------------------------------------------------

    @contextlib.contextmanager
    def imap(self, user: MailUser, *, use_tls: bool = False) -> Iterator[imaplib.IMAP4]:
        """A logged-in stdlib ``imaplib`` connection (plain, or implicit TLS trusting our CA)."""
        conn: imaplib.IMAP4
        if use_tls:
            conn = imaplib.IMAP4_SSL(
                self.host,
                self.tls_port,
                ssl_context=tls.client_context(self.ca_pem_path),
                timeout=10,
            )
        else:
            conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            conn.login(user.username, user.password)
            yield conn
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                conn.logout()

    # -- config --------------------------------------------------------------------------------

    def _config(self) -> str:
        f = self.folder
        mailboxes = "\n".join(
            f"  mailbox {name} {{\n"
            + (f"    special_use = \\{name}\n" if self.special_use else "")
            + "    auto = subscribe\n  }"
            for name in SPECIAL_FOLDERS
        )
        capability = f"  imap_capability = {BASIC_CAPABILITY}\n" if self.basic else ""
        return f"""# written by tests/support/dovecot.py
base_dir = {f}/run
state_dir = {f}/state
instance_name = {self.instance_name}
log_path = {self.log_path}
listen = 127.0.0.1
protocols = imap
ssl = yes
ssl_cert = <{self._cert_path}
ssl_key = <{self._key_path}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:~/Maildir
mailbox_idle_check_interval = 1 secs
mail_max_userip_connections = 2000
default_client_limit = 4000
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {f}/passwd/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {f}/passwd/%u
}}
namespace inbox {{
  inbox = yes
  separator = {self.separator}
{mailboxes}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
  service_count = 0
  client_limit = 2000
}}
service imap {{
  process_limit = 2000
}}
protocol imap {{
{capability}}}
"""
