"""Settings, read once from the environment.

``POSTROOM_HOME``          data folder (default ``$XDG_DATA_HOME/postroom``,
                           else ``~/.local/share/postroom``)
``POSTROOM_DATABASE_URL``  SQLAlchemy URL (default: SQLite file ``postroom.db`` in the data folder)
``POSTROOM_SECRET_KEY``    Fernet key for secrets at rest (default: key file ``secret.key``,
                           made on first run with mode 0600)
``POSTROOM_IMAP_CA_FILE``  extra CA certificates (PEM) trusted for IMAP servers, beside the
                           system's (a firm's private CA); certificate checks stay on
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    database_url: str
    secret_key: str | None
    """The key itself when given by the environment; else it lives in ``key_path``."""
    imap_ca_file: Path | None = None

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
        )
