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


def test_split_reply_is_fast_on_text_that_makes_the_library_backtrack():
    # Unguarded, email_reply_parser needs about 6 s for 1000 of these lines and grows cubically.
    text = "On x\n" * 20_000
    started = time.perf_counter()
    split_reply(text)
    assert time.perf_counter() - started < 5
