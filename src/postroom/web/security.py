"""The web's security rules: session cookie contents, CSRF tokens, sign-in throttling, headers.

* The session is Starlette's signed cookie (itsdangerous, HMAC-SHA256; HttpOnly,
  SameSite=Lax), keyed by a key derived from the secret key (``Keyring.derive``). It holds
  the user id and the ``auth_epoch`` it was made in, so a password change ends old sessions.
* Every request that changes something and rides on the cookie carries the session's CSRF
  token, as the form field ``csrf_token`` or the header ``X-CSRF-Token``. Requests with an
  ``Authorization: Bearer`` API token are not ambient, so they need none.
* Sign-in failures are counted per address and per client; past ``MAX_FAILURES`` in
  ``WINDOW`` seconds, that address or client waits (``LoginThrottle``). The count lives in the
  process: one ``postroom serve`` is one process.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from typing import Any

SESSION_COOKIE = "postroom_session"
SESSION_MAX_AGE = 14 * 24 * 3600
"""Seconds a session lasts without being used again."""

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'self'; form-action 'self'"
)
"""For every page: nothing from elsewhere, no inline script or style."""

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, made on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def is_csrf_valid(session: dict[str, Any], given: str | None) -> bool:
    expected = session.get("csrf")
    return (
        isinstance(expected, str)
        and given is not None
        and secrets.compare_digest(expected.encode(), given.encode())
    )


class LoginThrottle:
    """Failed sign-ins per key (an address, a client) in a sliding window."""

    MAX_FAILURES = 5
    WINDOW = 15 * 60.0

    def __init__(self, *, max_failures: int = MAX_FAILURES, window: float = WINDOW) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, *keys: str) -> float:
        """Seconds until any of ``keys`` may try again; 0 when all may now."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._prune(key, now)
                if len(times) >= self.max_failures:
                    wait = max(wait, times[0] + self.window - now)
        return wait

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._prune(key, now).append(now)

    def succeed(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _prune(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times
