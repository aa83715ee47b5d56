"""``shown`` and ``fail``: text from outside is printed as it is, never as Rich markup or as
terminal control (issue 11, item 4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text

from postroom.cli import runtime
from postroom.cli.runtime import fail, printable, shown

HOSTILE = "hello [/b] world [link=http://x]y[/link] \x1b[31mred\u202e \\[b]"

_ALPHABET = st.sampled_from([*"[]/\\ab=@#:. ", "link", "\x1b", "\u202e", ":smile:"])
TEMPLATES = ("[bold]{}[/]", "x {} [dim](y)[/]", "[red]{}[/red][b]x[/b]", "{}x")


def rendered(markup: str) -> str:
    return Text.from_markup(markup, emoji=False).plain


def test_markup_links_and_escape_sequences_print_as_plain_text():
    assert rendered(f"[bold]{shown(HOSTILE)}[/]") == (
        "hello [/b] world [link=http://x]y[/link] [31mred \\[b]"
    )


@given(st.lists(_ALPHABET, max_size=20).map("".join))
def test_any_text_in_any_template_prints_exactly_without_its_control_characters(text):
    """Exactly, but for the one thing markup cannot say without knowing what follows: a
    trailing backslash not followed by a tag shows doubled."""
    for template in TEMPLATES:
        clean = printable(text)
        if clean.endswith("\\") and not template.split("{}")[1].startswith("["):
            clean += "\\" * (len(clean) - len(clean.rstrip("\\")))
        expected = rendered(template.format("Q")).replace("Q", clean)
        assert rendered(template.format(shown(text))) == expected


def test_a_message_that_is_no_markup_is_printed_as_it_is(capsys, monkeypatch):
    monkeypatch.setattr(runtime.err_console, "width", 400)

    with pytest.raises(SystemExit) as exit_:
        fail("login refused: [/oops] \x1b]8;;http://x\x07 [link=http://x]y", "see [/b]")

    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err == "error: login refused: [/oops] ]8;;http://x [link=http://x]y (see [/b])\n"


def test_an_object_whose_text_fails_is_still_printed():
    class Broken:
        def __str__(self) -> str:
            raise ValueError("no text")

    assert printable(Broken()) == "<Broken>"
