"""The new part of a reply: what the sender wrote, without the quoted history or signature.

A pure function over ``str``; nothing raises and the work is bounded (see :func:`split_reply`).
``email_reply_parser`` (zapier's port of GitHub's parser) finds the quoted history.
"""

from __future__ import annotations

import re
from itertools import islice

from email_reply_parser import EmailReplyParser

REPLY_PREFIX_CHARS = 16 * 1024
""":func:`split_reply` shows its library at most this many characters of a text, ..."""

REPLY_PREFIX_ON_WORDS = 20
"""... cut before the 21st ``On``: the library's quote-header regex backtracks cubically in the
number of ``On`` it sees (1000 of them in 5 KB took 6 s)."""

_ON_WORD = re.compile("On")


def split_reply(text: str) -> str:
    """The new part of a reply: quoted history, its ``On ... wrote:`` / Outlook header and a
    trailing signature removed (``email_reply_parser``).

    Guards around the library:

    * it sees at most :data:`REPLY_PREFIX_CHARS` characters, cut before the
      :data:`REPLY_PREFIX_ON_WORDS` + 1st ``On`` (a reply is at the top; beyond that the library's
      regexes are too slow). If the library finds nothing to remove in a prefix shorter than the
      text, the whole text is new and is returned as it is.
    * if the library returns nothing for a text that has content (a message that is all quote
      or all signature), the text is returned stripped, as the reply.

    >>> split_reply("Thanks, see you then.\\n\\nOn Mon, 1 Jan 2024, Anna wrote:\\n> Shall we meet?")
    'Thanks, see you then.'
    """
    prefix = text[:REPLY_PREFIX_CHARS]
    one_on_too_many = next(islice(_ON_WORD.finditer(prefix), REPLY_PREFIX_ON_WORDS, None), None)
    if one_on_too_many is not None:
        prefix = prefix[: one_on_too_many.start()]
    reply: str = EmailReplyParser.parse_reply(prefix).strip()
    if not reply:
        return text.strip()
    if len(prefix) < len(text) and reply == prefix.replace("\r\n", "\n").strip():
        return text.strip()
    return reply
