"""Settings, read once from the environment.

``POSTROOM_HOME``          data folder (default ``$XDG_DATA_HOME/postroom``,
                           else ``~/.local/share/postroom``)
``POSTROOM_DATABASE_URL``  SQLAlchemy URL (default: SQLite file ``postroom.db`` in the data folder)
``POSTROOM_SECRET_KEY``    Fernet key for secrets at rest (default: key file ``secret.key``,
                           made on first run with mode 0600)
``POSTROOM_IMAP_CA_FILE``  extra CA certificates (PEM) trusted for IMAP and SMTP servers,
                           beside the system's (a firm's private CA); certificate checks stay on
``POSTROOM_MAX_MESSAGE_MB`` the largest .eml file ``postroom message ingest`` reads, in MB
                           (default 50); a larger one is reported and left unread
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from postroom.errors import ConfigError

MAX_MESSAGE_MB = 50
"""The default of ``POSTROOM_MAX_MESSAGE_MB``."""


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    database_url: str
    secret_key: str | None
    """The key itself when given by the environment; else it lives in ``key_path``."""
    imap_ca_file: Path | None = None
    max_message_mb: int = MAX_MESSAGE_MB
    """The largest message file read (``message ingest``), in MB (2**20 bytes)."""

    @property
    def key_path(self) -> Path:
        return self.home / "secret.key"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if environ is None else environ
        if env.get("POSTROOM_HOME"):
            home = Path(env["POSTROOM_HOME"]).expanduser()
        else:
            base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
            home = Path(base) / "postroom"
        url = env.get("POSTROOM_DATABASE_URL") or f"sqlite:///{home / 'postroom.db'}"
        ca_file = env.get("POSTROOM_IMAP_CA_FILE")
        return cls(
            home=home,
            database_url=url,
            secret_key=env.get("POSTROOM_SECRET_KEY") or None,
            imap_ca_file=Path(ca_file).expanduser() if ca_file else None,
            max_message_mb=_megabytes(env, "POSTROOM_MAX_MESSAGE_MB", MAX_MESSAGE_MB),
        )


def _megabytes(env: dict[str, str], name: str, default: int) -> int:
    """A whole number of MB from ``env[name]``; a ``ConfigError`` naming it when it is not."""
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(
            f"{name}={value!r} is not a size in MB",
            advice=f"set it to a whole number, e.g. {default}",
        )
    return int(value)
