"""Measurement: how many replies each reply splitter splits exactly right, per set.

    .venv/bin/pip install mail-parser-reply==1.36 quotequail==0.5.4 talon==1.4.4 \\
        email-reply-parser==0.5.12
    .venv/bin/python -m benchmarks.reply_libraries [--corpus ../shared/corpus]

Not a speed benchmark: it scores ``postroom.mail.reply.split_reply`` and every maintained library
that is installed on the sets of ``tests/unit/mail/test_reply_corpus.py`` (ours, 16 languages;
talon's and quotequail's own test cases; the shared English corpus when given), the way that test
scores our split. It is how the split was chosen (docs/concepts.md, "Replies"): a library not
installed is named and left out. The libraries are not Postroom's dependencies.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path

from tests.unit.mail.test_reply_corpus import iter_sets, score

from postroom.mail.reply import split_reply

Splitter = Callable[[str], str]

MAIL_PARSER_REPLY_LANGUAGES = [
    "en",
    "de",
    "cs",
    "da",
    "es",
    "fr",
    "it",
    "ja",
    "nl",
    "pl",
    "sv",
    "zh",
]
"""Every language mail-parser-reply 1.36 knows (``mailparser_reply.constants.MAIL_LANGUAGES``)
but Korean and its test-only ``david``: all switched on, as a multilingual user would."""


def mail_parser_reply() -> Splitter:
    parser = importlib.import_module("mailparser_reply").EmailReplyParser(
        languages=MAIL_PARSER_REPLY_LANGUAGES
    )
    return lambda text: parser.parse_reply(text) or ""


def quotequail() -> Splitter:
    unwrap = importlib.import_module("quotequail").unwrap

    def split(text: str) -> str:
        found = unwrap(text)  # None, or the parts: the reply is what stands above the quote
        return text if found is None else str(found.get("text_top", ""))

    return split


def talon() -> Splitter:
    quotations = importlib.import_module("talon.quotations")
    return lambda text: str(quotations.extract_from_plain(text))


def email_reply_parser() -> Splitter:
    parser = importlib.import_module("email_reply_parser").EmailReplyParser
    return lambda text: str(parser.parse_reply(text))


LIBRARIES: dict[str, Callable[[], Splitter]] = {
    "mail-parser-reply": mail_parser_reply,
    "quotequail": quotequail,
    "talon": talon,
    "email-reply-parser": email_reply_parser,
}


def splitters() -> dict[str, Splitter]:
    found: dict[str, Splitter] = {"postroom": split_reply}
    for name, load in LIBRARIES.items():
        try:
            found[name] = load()
        except ImportError:
            print(f"{name}: not installed, left out")
    return found


def guarded(split: Splitter) -> Splitter:
    """``split``, with an exception counted as a wrong split (its name as the result)."""

    def run(text: str) -> str:
        try:
            return split(text)
        except Exception as error:  # a library's bug on one case must not end the measurement
            return f"<{type(error).__name__}>"

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, help="the shared corpus folder, for the English set")
    args = parser.parse_args()
    chosen = splitters()
    print(f"{'set':<12} {'cases':>5}  " + "  ".join(f"{name:>18}" for name in chosen))
    for set_name, cases in iter_sets(args.corpus):
        cells = []
        for split in chosen.values():
            found = score(cases, guarded(split))
            cells.append(f"{found.right:>4} = {found.percent:5.1f}%".rjust(18))
        print(f"{set_name:<12} {len(cases):>5}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
