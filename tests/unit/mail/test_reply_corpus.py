"""The reply split, scored: the share of replies that ``split_reply`` splits exactly right, per set.

Sets (each case: a whole body and the exact reply a recruiter should see):

* ``ours``: ``tests/data/replies/*.txt``, written for Postroom: 16 languages (en, fr, de, nl, it,
  es, pt, pl, ru, fi, sv, no, da, cs, zh, ja) in the forms of Gmail, Apple Mail, Thunderbird,
  Outlook desktop / web / mobile, Lotus Notes and mobile sign-offs, quoted with ``>`` and not;
  ``edge.txt`` holds lines that only look like a quote header or a signature.
* ``talon``: the plain-text cases of talon's ``tests/text_quotations_test.py`` (sdist pinned in
  ``tests/support/corpora.py``): the input and the expected reply of each ``extract_from_plain``
  assertion.
* ``quotequail``: the reply part of each case of quotequail's ``tests/test_quote.py``.
* ``english``: the shared corpus's reply expectations (``test_corpus.py`` checks each of them,
  with the listed exceptions); left out without the shared corpus.

"Exactly right" compares text with runs of whitespace made one space. Each test prints its
percentage and the failing cases (``pytest -s`` shows them; a failure shows them too) and fails
under its target. ``TARGETS`` says what each set must reach and why.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from postroom.mail.reply import split_reply
from tests.support.corpora import QUOTEQUAIL, TALON, sdist_dir

REPLIES = Path(__file__).resolve().parents[2] / "data" / "replies"


@dataclass(frozen=True)
class ReplyCase:
    name: str
    text: str
    reply: str


def normalize(text: str) -> str:
    return " ".join(text.split())


# --- the sets ----------------------------------------------------------------------------------

_CASE = re.compile(r"^=== case: (.+)\n", re.MULTILINE)


def our_cases() -> list[ReplyCase]:
    """``tests/data/replies/*.txt``: after ``# `` comment lines, cases of the form
    ``=== case: NAME`` / body lines / ``=== reply`` / expected reply lines."""
    cases = []
    for path in sorted(REPLIES.glob("*.txt")):
        content = path.read_text(encoding="utf-8")
        parts = _CASE.split(content)[1:]
        for name, block in zip(parts[::2], parts[1::2], strict=True):
            text, reply = block.split("=== reply\n")
            cases.append(ReplyCase(f"{path.stem}: {name}", text, reply))
    return cases


class _Captured:
    """What the stubbed ``extract_from_plain`` returns: the text it was given."""

    def __init__(self, text: str) -> None:
        self.text = text


def talon_cases() -> list[ReplyCase]:
    """Every ``eq_(expected, quotations.extract_from_plain(body))`` of talon's plain-text tests.

    The test module runs with stubs (no talon, nose or six needed): ``extract_from_plain``
    returns its input and ``eq_`` records the pair. Tests that patch talon or call other talon
    functions are left out.
    """
    source = (sdist_dir(TALON) / "tests" / "text_quotations_test.py").read_text(encoding="utf-8")
    module = ast.parse(source)
    module.body = [
        node
        for node in module.body
        if not isinstance(node, ast.Import | ast.ImportFrom)
        and not (isinstance(node, ast.FunctionDef) and node.decorator_list)
    ]
    found: list[tuple[str, str]] = []

    def eq_(expected: object, actual: object, *_: object) -> None:
        if isinstance(actual, _Captured) and isinstance(expected, str):
            found.append((actual.text, expected))

    def unavailable(*_: object) -> None:
        raise LookupError("not a plain-text split")

    quotations = types.SimpleNamespace(
        extract_from_plain=_Captured,
        mark_message_lines=unavailable,
        process_marked_lines=unavailable,
        preprocess=unavailable,
        split_emails=unavailable,
    )
    six = types.SimpleNamespace(text_type=str)
    namespace: dict[str, object] = {"eq_": eq_, "quotations": quotations, "six": six}
    exec(compile(module, "talon/tests/text_quotations_test.py", "exec"), namespace)  # noqa: S102
    cases = []
    for name, function in list(namespace.items()):
        if not (name.startswith("test_") and callable(function)):
            continue
        before = len(found)
        try:
            function()
        except (LookupError, AttributeError, NameError, TypeError):
            del found[before:]
            continue
        for number, (text, reply) in enumerate(found[before:], 1):
            cases.append(ReplyCase(f"{name}#{number}", text, reply))
    return cases


def quotequail_cases() -> list[ReplyCase]:
    """quotequail's ``test_quote`` cases: the text and its first, unquoted part (with the intro
    line counted as quote), or the whole text when quotequail finds no quote."""
    source = (sdist_dir(QUOTEQUAIL) / "tests" / "test_quote.py").read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == "test_quote":
            (decorator,) = node.decorator_list
            assert isinstance(decorator, ast.Call)
            rows = ast.literal_eval(decorator.args[1])
            break
    else:
        raise LookupError("quotequail's test_quote is gone")
    cases = []
    for number, (text, _, parts) in enumerate(rows, 1):
        new, *rest = parts
        reply = new[1] if new[0] and rest else text
        cases.append(ReplyCase(f"test_quote#{number}", text, reply))
    return cases


def english_cases(corpus_dir: Path) -> list[ReplyCase]:
    """The shared corpus's ``.txt`` reply bodies with an upstream expectation."""
    mail = corpus_dir / "mail"
    cases = []
    for folder in ("gh-email_reply_parser-github", "gh-email-reply-parser-zapier"):
        for path in sorted((mail / folder).glob("*.expected.json")):
            expected = json.loads(path.read_text(encoding="utf-8"))
            text = path.with_name(path.name.removesuffix(".expected.json") + ".txt")
            cases.append(
                ReplyCase(
                    f"{folder}/{text.name}",
                    text.read_text(encoding="utf-8"),
                    str(expected["visible_text"]),
                )
            )
    return cases


# --- scoring -----------------------------------------------------------------------------------

ACCEPTED: dict[str, tuple[str, str]] = {
    "test_dont_parse_quotations_for_forwarded_messages#1": (
        "FYI",
        "talon keeps a forwarded message in the reply; Postroom shows the sender's cover note "
        "(the forwarded text is someone else's words; quotequail splits forwards the same way)",
    ),
}
"""Cases of the libraries' sets whose upstream expectation is not what Postroom shows: by name,
what Postroom shows instead and why. Such a case counts as right only with that result."""


def with_accepted(cases: list[ReplyCase]) -> list[ReplyCase]:
    return [
        ReplyCase(case.name, case.text, ACCEPTED[case.name][0]) if case.name in ACCEPTED else case
        for case in cases
    ]


@dataclass(frozen=True)
class Score:
    right: int
    failing: list[tuple[ReplyCase, str]]

    @property
    def total(self) -> int:
        return self.right + len(self.failing)

    @property
    def percent(self) -> float:
        return 100 * self.right / self.total

    def report(self, name: str) -> str:
        lines = [
            f"reply split, {name}: {self.right}/{self.total} = {self.percent:.1f}% exactly right"
        ]
        for case, got in self.failing:
            lines.append(f"  FAIL {case.name}")
            lines.append(
                textwrap.indent(f"expected: {case.reply.strip()!r}\ngot:      {got!r}", "    ")
            )
        return "\n".join(lines)


def score(cases: list[ReplyCase], split: Callable[[str], str] = split_reply) -> Score:
    right, failing = 0, []
    for case in cases:
        got = split(case.text)
        if normalize(got) == normalize(case.reply):
            right += 1
        else:
            failing.append((case, got))
    return Score(right, failing)


TARGETS = {"ours": 95.0, "talon": 80.0, "quotequail": 100.0, "english": 100.0}
"""Issue 10: at least 95% of a multilingual set exactly right (``ours``: every language and client
form). The libraries' sets score the same split on others' cases (mostly English; French,
German, Polish, Dutch, Swedish, Norwegian, Danish too): their targets are what the split
reaches today (email-reply-parser before it: talon 45.8%, quotequail 83.3%); talon's remaining
failures are reply text on the attribution's own line and quotes broken by unquoted link
fragments. ``english`` is the shared corpus after ``test_corpus.py``'s documented exceptions."""


def assert_target(name: str, found: Score) -> None:
    print("\n" + found.report(name))
    assert found.percent >= TARGETS[name], found.report(name)


def test_our_multilingual_replies_are_split_right():
    cases = our_cases()
    assert len(cases) >= 200
    assert_target("ours", score(cases))


def test_talon_replies_are_split_right():
    cases = with_accepted(talon_cases())
    assert len(cases) >= 40
    assert set(ACCEPTED) <= {case.name for case in cases}
    assert_target("talon", score(cases))


def test_quotequail_replies_are_split_right():
    cases = quotequail_cases()
    assert len(cases) >= 5
    assert_target("quotequail", score(cases))


def test_english_corpus_replies_are_split_right(corpus_dir: Path):
    from tests.unit.mail.test_corpus import REPLY_EXCEPTIONS

    cases = []
    for case in english_cases(corpus_dir):
        exception = REPLY_EXCEPTIONS.get(case.name.replace(".txt", ".expected.json"))
        cases.append(case if exception is None else ReplyCase(case.name, case.text, exception[0]))
    assert len(cases) == 12
    assert_target("english", score(cases))


def iter_sets(corpus_dir: Path | None) -> Iterator[tuple[str, list[ReplyCase]]]:
    """Every set by name: ``score(cases, other_splitter)`` scores another splitter the same way
    (how ``benchmarks/reply_libraries.py`` measures mail-parser-reply, quotequail, talon and
    email-reply-parser)."""
    yield "ours", our_cases()
    yield "talon", talon_cases()
    yield "quotequail", quotequail_cases()
    if corpus_dir is not None:
        yield "english", english_cases(corpus_dir)


@pytest.mark.parametrize("case", our_cases(), ids=lambda case: case.name)
def test_our_cases_are_well_formed(case: ReplyCase):
    assert case.reply.strip()
    text_lines = {line.strip() for line in case.text.splitlines()}
    assert all(line.strip() in text_lines for line in case.reply.splitlines())
