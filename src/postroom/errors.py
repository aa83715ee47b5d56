"""The error tree. Every error Postroom raises on purpose is a ``PostroomError``.

::

    PostroomError
     +-- ConfigError            settings or the key file are unusable
     +-- SecretError            a stored secret cannot be decrypted with this key
     +-- StoreError
     |    +-- NotFound          a record, account or message id does not exist
     |    +-- Conflict          the change would break a uniqueness rule
     +-- InputError             a file or value given by the user is unusable
     +-- MessageParseError      a message cannot be turned into a ParsedMessage

``retryable`` says whether doing the same thing again later may succeed. ``advice`` is the
one line a user reads to know what to do next. Third-party exceptions are translated at the
boundary (``raise ... from exc``).
"""

from __future__ import annotations


class PostroomError(Exception):
    """Root of every error Postroom raises on purpose."""

    retryable: bool = False
    advice: str = ""

    def __init__(self, message: str, *, advice: str | None = None) -> None:
        super().__init__(message)
        if advice is not None:
            self.advice = advice

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} ({self.advice})" if self.advice else text


class ConfigError(PostroomError):
    """Raised when a setting, the data folder or the key file cannot be used."""


class SecretError(PostroomError):
    """Raised when a stored secret cannot be decrypted: the key is not the one that sealed it."""

    advice = (
        "restore the key file that was used when the secret was stored, or enter the password again"
    )


class StoreError(PostroomError):
    """Raised by the storage layer."""


class NotFound(StoreError):
    """Raised when a record, account or message id does not exist."""


class Conflict(StoreError):
    """Raised when a change would break a uniqueness rule (a duplicate)."""


class InputError(PostroomError):
    """Raised when a file or a value given by the user cannot be used as it is."""


class MessageParseError(PostroomError):
    """Raised when a message's bytes cannot be turned into a ParsedMessage at all."""
