from datetime import UTC, datetime, timedelta, timezone

from postroom.domain.identity import fingerprint, identity_key

WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_copies_share_a_fingerprint_whatever_the_time_zone_or_case():
    a = fingerprint(
        message_id="<ABC@x>", date=WHEN, date_raw=None, from_keys=["a@x.com"], subject="Hi"
    )
    b = fingerprint(
        message_id=" <abc@x> ",
        date=WHEN.astimezone(timezone(timedelta(hours=5))),
        date_raw="other",
        from_keys=["a@x.com", "a@x.com"],
        subject="Re: other",
    )
    assert a == b
    assert a.startswith("f:")
    assert len(a) == 66


def test_without_message_id_subject_and_internaldate_tell_messages_apart():
    one = fingerprint(
        message_id=None,
        date=WHEN,
        date_raw=None,
        from_keys=["a@x.com"],
        subject="One",
        internaldate=WHEN,
    )
    two = fingerprint(
        message_id=None,
        date=WHEN,
        date_raw=None,
        from_keys=["a@x.com"],
        subject="Two",
        internaldate=WHEN,
    )
    assert one != two


def test_server_ids_win_over_the_fingerprint():
    assert identity_key(fingerprint="f:1", emailid="M123") == "e:M123"
    assert identity_key(fingerprint="f:1", gm_msgid=42) == "g:42"
    assert identity_key(fingerprint="f:1") == "f:1"
