"""The bounce score: real and hand-made bounces, delay warnings and ordinary mail, classified.

Areas and targets (issue 10, docs/testing.md):

* ``permanent``: a permanent bounce is a BOUNCE with exactly its failed recipients
  (case-insensitive) - at least 98%.
* ``no-address``: a notice that names no valid failed recipient (only the returned original
  does, or an address is obfuscated) is not a bounce - 100%.
* ``delay``: a delay warning is not a bounce - 100%.
* ``ordinary``: ordinary mail (also mail that talks about bounces) is not a bounce - 100%.

Sources: flufl.bounce 6.0.0's test data (~115 real bounces from many MTAs; the expected
addresses are read from its ``tests/test_detectors.py`` by ``literal_eval``, never imported;
``tests.support.corpora`` fetches the pinned sdist), our own cases in ``tests/data/bounces``
(``expected.json``: area, failed recipients, what each shows), and every ``.eml`` of the
shared corpus when it is there (the few real bounces in it are listed below; every other
message is ordinary).

Each test prints its percentage per area and the failing items (``pytest -s`` or ``-rP``
shows them; a failing test shows them in its message). The figures:
``.venv/bin/pytest -p no:cacheprovider -q -rP tests/unit/mail/test_bounce_corpus.py``.
"""

from __future__ import annotations

import ast
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from postroom.mail.parse import parse_message
from postroom.mail.types import MessageKind
from tests.support.corpora import FLUFL_BOUNCE, sdist_dir

OWN = Path(__file__).resolve().parents[2] / "data" / "bounces"
TARGETS = {"permanent": 0.98, "no-address": 1.0, "delay": 1.0, "ordinary": 1.0}

SHARED_BOUNCES: dict[str, tuple[str, ...]] = {
    "deb-cpython-test_email/msg_16.eml": ("jangel1@cougar.noc.ucla.edu",),
    "deb-cpython-test_email/msg_43.eml": tuple(
        f"{'x' * n}@dot.ca.gov" for n in (3, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16)
    ),
    **{
        f"gh-imap_tools/multipart_report_emails__multi_address_bounce{n}.eml": (
            "bbbbvhvbbvkjbhfbvbvjhb@gmail.com",
            "bscdbcjhasbcjhbdscbhbsdhcbj@gmail.com",
            "egyfefsdvsfvvhjsd@gmail.com",
            "kfhejkfbsjkjsbhds@gmail.com",
            "qfvhgsvhgsduiohncdhcvhsdfvsfygusd@gmail.com",
        )
        for n in (1, 2)
    },
    "gh-imap_tools/multipart_report_emails__multipart_report_multiple_status.eml": ("u@ci.com",),
    "gh-imap_tools/multipart_report_emails__report_530.eml": ("edwin@zzzzzzz.com",),
    "pypi-mail-parser/mail_malformed_2.eml": ("abh@netpar.com.br",),
}
"""The real bounces among the shared corpus's messages, with their failed recipients (read
from each one's report by hand); every other message there is ordinary."""


@dataclass(frozen=True)
class Case:
    name: str
    area: str
    failed: frozenset[str]
    raw: bytes


@dataclass
class Score:
    passed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failures: list[str] = field(default_factory=list)

    def add(self, case: Case) -> None:
        got = bounce_recipients(case.raw)
        want = case.failed if case.area == "permanent" else None
        self.total[case.area] += 1
        if got == want:
            self.passed[case.area] += 1
        else:
            expected = sorted(want) if want is not None else "not a bounce"
            found = sorted(got) if got is not None else "not a bounce"
            self.failures.append(f"{case.area} {case.name}: expected {expected}, got {found}")

    def report(self, title: str) -> str:
        lines = [f"bounce score, {title}:"]
        for area in TARGETS:
            if self.total[area]:
                share = self.passed[area] / self.total[area]
                lines.append(
                    f"  {area:10} {share:7.1%} ({self.passed[area]}/{self.total[area]}),"
                    f" target {TARGETS[area]:.0%}"
                )
        lines += [f"  FAIL {line}" for line in self.failures]
        return "\n".join(lines)

    def check(self, title: str) -> None:
        report = self.report(title)
        print(report)
        below = [
            area
            for area, target in TARGETS.items()
            if self.total[area] and self.passed[area] / self.total[area] < target
        ]
        assert not below, f"under target in {below}\n{report}"


def bounce_recipients(raw: bytes) -> frozenset[str] | None:
    """The failed recipients (lower case) when the message is classified a bounce, else None."""
    classification = parse_message(raw).classification
    if classification.kind is not MessageKind.BOUNCE:
        return None
    assert classification.bounce is not None
    return frozenset(a.lower() for a in classification.bounce.failed_recipients)


def load_flufl_cases() -> list[Case]:
    """flufl.bounce's test data with the expectations of its ``test_detectors.py``: a file's
    addresses are the union of its rows; a temporary row is a delay; a file with no address
    (or not in the list) is a notice that names none, or not a bounce at all."""
    root = sdist_dir(FLUFL_BOUNCE)
    source = (root / "tests" / "test_detectors.py").read_text(encoding="utf-8")
    start = source.index("DETECTORS = [") + len("DETECTORS = ")
    rows = ast.literal_eval(source[start : source.index("\n]\n", start) + 2])
    addresses: dict[str, set[str]] = defaultdict(set)
    temporary: dict[str, bool] = {}
    for _detector, filename, expected, is_temporary in rows:
        addresses[filename] |= {a.decode("ascii").lower() for a in expected}
        temporary[filename] = is_temporary
    cases = []
    for path in sorted((root / "tests" / "data").glob("*.txt")):
        failed = frozenset(addresses.get(path.name, ()))
        area = "delay" if temporary.get(path.name) else "permanent" if failed else "no-address"
        cases.append(Case(f"flufl.bounce/{path.name}", area, failed, path.read_bytes()))
    return cases


def load_own_cases() -> list[Case]:
    expected = json.loads((OWN / "expected.json").read_text(encoding="utf-8"))
    return [
        Case(
            f"bounces/{name}.eml",
            entry["area"],
            frozenset(a.lower() for a in entry["failed"]),
            (OWN / f"{name}.eml").read_bytes(),
        )
        for name, entry in expected.items()
    ]


def test_own_cases_are_all_listed():
    listed = set(json.loads((OWN / "expected.json").read_text(encoding="utf-8")))
    assert {p.stem for p in OWN.glob("*.eml")} == listed


def test_own_cases_cover_every_area():
    areas = {case.area for case in load_own_cases()}
    assert areas == set(TARGETS)


def test_bounce_score_on_flufl_and_own_cases():
    score = Score()
    for case in [*load_flufl_cases(), *load_own_cases()]:
        score.add(case)
    assert score.total["permanent"] >= 135  # 100 from flufl.bounce, the rest our own
    score.check("flufl.bounce 6.0.0 test data + tests/data/bounces")


def test_bounce_score_with_the_shared_corpus(corpus_dir: Path):
    score = Score()
    mail = corpus_dir / "mail"
    paths = sorted(mail.glob("*/*.eml"))
    assert paths
    for path in paths:
        name = str(path.relative_to(mail))
        failed = SHARED_BOUNCES.get(name)
        area = "permanent" if failed else "ordinary"
        score.add(Case(f"shared/{name}", area, frozenset(failed or ()), path.read_bytes()))
    assert set(SHARED_BOUNCES) <= {str(p.relative_to(mail)) for p in paths}
    for case in [*load_flufl_cases(), *load_own_cases()]:
        score.add(case)
    score.check("shared corpus + flufl.bounce 6.0.0 test data + tests/data/bounces")


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9])
def test_a_cut_short_message_never_breaks_classification(fraction: float):
    """The sync fetches a possible bounce under a size cap: any cut is classified."""
    for case in load_own_cases():
        raw = case.raw[: int(len(case.raw) * fraction)]
        got = bounce_recipients(raw)
        if case.area != "permanent":
            assert got is None, case.name
        elif got is not None:
            assert got <= case.failed, case.name
