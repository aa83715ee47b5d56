"""A file name from a message made safe to show and to offer as a download name.

A sender chooses an attachment's name freely: ``../../.ssh/authorized_keys``, ``cv\\x00.exe``,
``invoice\\u202efdp.exe`` (shown as ``invoiceexe.pdf``), ``<img src=x onerror=...>.pdf``, or
ten thousand characters. Postroom keeps the name as sent (``Attachment.filename``, the
``filename`` of ``activity.attachments``) and every consumer (the timeline, Open original, the
download's ``Content-Disposition``, the API, the CLI) shows :func:`display_filename` instead.
Pure; a name is never used as a path.

Rules, in order:

* Unicode NFC; white space of any kind (tabs, line breaks, no-break spaces) becomes U+0020,
  runs of it one; every other invisible or control character (categories Cc, Cf, Cs, Co, Cn:
  NUL, zero-width and bidirectional marks, the byte order mark) is removed.
* Only the last path segment is kept (``/`` and ``\\`` both separate).
* ``<``, ``>`` and ``"`` become ``_``: no markup and no quoting can be formed, whatever the
  consumer does with the name.
* Dots and spaces at either end are dropped (``..``, ``.hidden``, ``name.`` on Windows).
* At most :data:`MAX_DISPLAY_NAME` characters, the extension kept (``long…name.pdf``).
* Never empty: the caller's ``fallback`` instead.
"""

from __future__ import annotations

import re
import unicodedata

MAX_DISPLAY_NAME = 120
"""The longest display name, in characters (well under the 255 bytes file systems allow)."""

MAX_EXTENSION = 12
"""A suffix longer than this after the last dot is no extension to keep when cutting."""

_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_MARKUP = str.maketrans({"<": "_", ">": "_", '"': "_"})
_SEPARATORS = re.compile(r"[/\\]")


def display_filename(name: str | None, fallback: str) -> str:
    """The name to show for an attachment sent as ``name`` (see the module's rules).

    >>> display_filename("../../etc/passwd", "file")
    'passwd'
    >>> display_filename("invoice\\u202efdp.exe", "file")
    'invoicefdp.exe'
    >>> display_filename("<img src=x onerror=alert(1)>.pdf", "file")
    '_img src=x onerror=alert(1)_.pdf'
    >>> display_filename("\\x00", "file")
    'file'
    """
    if not name:
        return fallback
    cleaned = _remove_invisible(unicodedata.normalize("NFC", name))
    cleaned = _SEPARATORS.split(cleaned)[-1].translate(_MARKUP).strip(" .")
    if len(cleaned) > MAX_DISPLAY_NAME:
        cleaned = _shorten(cleaned)
    return cleaned or fallback


def unnamed_label(content_type: str | None) -> str:
    """What a file sent without a name is called (an inline logo, most often).

    >>> unnamed_label("image/png"), unnamed_label("application/pdf")
    ('inline image', 'unnamed file')
    """
    return "inline image" if (content_type or "").startswith("image/") else "unnamed file"


def _remove_invisible(text: str) -> str:
    if text.isascii() and text.isprintable():
        return " ".join(text.split()) if "  " in text else text
    kept = []
    for char in text:
        if char.isspace():
            kept.append(" ")
        elif unicodedata.category(char) not in _REMOVED_CATEGORIES:
            kept.append(char)
    return " ".join("".join(kept).split())


def _shorten(name: str) -> str:
    """``name`` cut to :data:`MAX_DISPLAY_NAME` characters in its middle, the extension kept."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > MAX_EXTENSION:
        return name[: MAX_DISPLAY_NAME - 1].rstrip(" .") + "…"
    room = MAX_DISPLAY_NAME - len(extension) - 2  # the "…" and the dot
    return f"{stem[:room].rstrip(' .')}….{extension}"
