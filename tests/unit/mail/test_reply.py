"""Tests for postroom.mail.reply: the new part of a reply."""

from __future__ import annotations

import time

from postroom.mail.reply import split_reply


def test_split_reply_removes_on_wrote_header_and_quote():
    text = (
        "Yes, Tuesday works for me.\n\n"
        "On Mon, 4 Mar 2024 at 10:00, Jobs <jobs@example.org> wrote:\n"
        "> Would Tuesday suit you?\n> Best, Jobs\n"
    )
    assert split_reply(text) == "Yes, Tuesday works for me."


def test_split_reply_removes_outlook_original_message_block():
    text = (
        "I attached my CV.\n\n"
        "-----Original Message-----\n"
        "From: Jobs <jobs@example.org>\n"
        "Sent: Monday, March 4, 2024 10:00 AM\n"
        "To: Anna Berg\n"
        "Subject: Your application\n\n"
        "Could you send your CV?\n"
    )
    assert split_reply(text) == "I attached my CV."


def test_split_reply_removes_outlook_from_sent_block_without_separator():
    text = (
        "Thanks!\n\n"
        "From: Jobs <jobs@example.org>\n"
        "Sent: Monday, March 4, 2024 10:00 AM\n"
        "To: Anna Berg\n"
        "Subject: Interview\n\n"
        "See you on Tuesday.\n"
    )
    assert split_reply(text) == "Thanks!"


def test_split_reply_keeps_a_message_without_quote():
    assert split_reply("Hello,\n\nhere is my application.\n") == "Hello,\n\nhere is my application."


def test_split_reply_of_an_all_quoted_message_returns_the_text():
    text = "> only a quote\n> nothing new\n"
    assert split_reply(text) == text.strip()


def test_split_reply_keeps_a_long_new_part_beyond_the_prefix_whole():
    text = "A long letter with no quote at all.\n" * 2000
    assert split_reply(text) == text.strip()


def test_split_reply_is_fast_on_many_on_lines():
    # email_reply_parser, the previous splitter, needed about 6 s for 1000 of these lines.
    text = "On x\n" * 20_000
    started = time.perf_counter()
    split_reply(text)
    assert time.perf_counter() - started < 5


def test_split_reply_keeps_a_hyphen_sign_off():
    text = "Yes, Tuesday works.\n\n-Anna\n\nOn Mon, 3 Jun 2024, Jobs <j@example.org> wrote:\n> Ok?"
    assert split_reply(text) == "Yes, Tuesday works.\n\n-Anna"


def test_split_reply_keeps_a_sentence_that_begins_sent_from_my():
    text = "Here is my CV.\n\nSent from my desk, which is much easier than my mobile phone.\n"
    assert split_reply(text) == text.strip()


def test_split_reply_drops_a_trailing_mobile_sign_off_in_any_language():
    for sign_off in (
        "Sent from my iPhone",
        "Envoyé de mon iPhone",
        "Von meinem iPhone gesendet",
        "Enviado desde mi iPhone",
        "Inviato da iPhone",
        "Verzonden vanaf mijn iPhone",
        "Отправлено с iPhone",
        "Skickat från min iPhone",
        "Get Outlook for iOS<https://aka.ms/o0ukef>",
        "iPhoneから送信",
        "发自我的iPhone",
    ):
        assert split_reply(f"Yes, Tuesday works.\n\n{sign_off}\n") == "Yes, Tuesday works."


def test_split_reply_keeps_a_mobile_sign_off_inside_the_reply():
    text = "Sent from my iPhone\nsorry for the typos, more tomorrow."
    assert split_reply(text) == text


def test_split_reply_removes_a_localized_outlook_block():
    text = (
        "Anbei mein Lebenslauf.\n\n"
        "-----Ursprüngliche Nachricht-----\n"
        "Von: Jobs <jobs@example.org>\n"
        "Gesendet: Montag, 3. Juni 2024 10:00\n"
        "An: Anna Berg\n"
        "Betreff: Ihre Bewerbung\n\n"
        "Könnten Sie uns Ihren Lebenslauf senden?\n"
    )
    assert split_reply(text) == "Anbei mein Lebenslauf."


def test_split_reply_removes_a_wrapped_attribution_and_an_unquoted_history():
    text = (
        "Merci, à mardi.\n\n"
        "Le lun. 3 juin 2024 à 10:00, Jobs <\njobs@example.org> a écrit :\n\n"
        "Bonjour, mardi vous convient-il ?\n"
    )
    assert split_reply(text) == "Merci, à mardi."


def test_split_reply_keeps_the_answer_below_a_quote():
    text = "Am 03.06.24 um 10:00 schrieb Jobs:\n> Passt Dienstag?\n\nJa, Dienstag passt.\n"
    assert split_reply(text) == "Ja, Dienstag passt."


def test_split_reply_keeps_from_and_to_lines_of_the_reply():
    text = "My availability:\nFrom: Monday 9:00\nTo: Friday 17:00\nDate: any week in June\n"
    assert split_reply(text) == text.strip()


def test_split_reply_reads_crlf_line_ends():
    text = "Sounds good.\r\n\r\nOn Mon, 3 Jun 2024, Jobs <j@example.org> wrote:\r\n> Ok?\r\n"
    assert split_reply(text) == "Sounds good."


def test_split_reply_drops_the_signature_after_the_rfc_3676_separator():
    assert split_reply("Sounds good.\n\n-- \nAnna Berg\nRecruiter\n") == "Sounds good."


HOSTILE_BYTES = 256 * 1024


def hostile_texts() -> list[str]:
    """256 KB each of lines that look like the start of a history without being one: header
    fields without a block, attributions that never end, quote markers, separators."""

    def repeat(unit: str) -> str:
        return unit * (HOSTILE_BYTES // len(unit))

    return [
        repeat("From: a\n"),
        repeat("From: a\nFrom: b\nFrom: c\nFrom: d\nFrom: e\nFrom: f\nFrom: g\nFrom: h\n"),
        repeat("Von: 1\nAn: 2\n"),
        repeat("On 1 <\n"),
        repeat("Am 1. schrieb a@b\n"),
        repeat("1 wrote " * 40 + "\n"),
        repeat("<a@b> 1 " * 40 + ":\n"),
        repeat(">"),
        repeat("--\n"),
        repeat("-" * 60 + "\n"),
        repeat("Sent from my iPhone\n"),
        repeat("x" * 1000 + " wrote:\n"),
        "x" * HOSTILE_BYTES,
        "-" * HOSTILE_BYTES,
        "a" + " " * HOSTILE_BYTES + "b",
        "Sent from my iPhone" + " " * HOSTILE_BYTES + "<x",
        "\n" * HOSTILE_BYTES,
        "On " + "1 " * (HOSTILE_BYTES // 2) + "wrote:",
    ]


def test_split_reply_does_bounded_work_on_hostile_text():
    # Each line is read a bounded number of times (at most a few lines ahead, of bounded length),
    # so the work is linear: every hostile text finishes, and the reply is made of its lines.
    for text in hostile_texts():
        reply = split_reply(text)
        assert reply or not text.strip()
        lines = {line.strip() for line in text.splitlines()}
        assert all(line.strip() in lines for line in reply.splitlines())


def test_an_attribution_without_a_date_digit_above_a_quote_is_history():
    text = "Yes.\n\nOn Mon, Robin wrote:\n> Can we talk?\n"
    assert split_reply(text) == "Yes."


def test_a_line_that_only_names_a_writer_above_a_quote_is_the_senders():
    text = "As Robin wrote:\n> Can we talk?\nI agree with that."
    assert split_reply(text) == "As Robin wrote:\n\nI agree with that."
