from hypothesis import given, settings
from hypothesis import strategies as st

from postroom.imap import UID_MAX
from postroom.sync.plan import (
    FolderOpening,
    FolderPosition,
    ServerView,
    compress_ranges,
    count_batches,
    find_missing,
    find_untaken,
    iter_history,
    needs_expunge_check,
    plan_batches,
    plan_folder,
    uidnext_after,
)

NEVER = FolderPosition(None, None, None, None, None)


def test_first_sync_starts_the_live_edge_at_uidnext_and_keeps_the_modseq_for_later():
    plan = plan_folder(NEVER, ServerView(uidvalidity=7, uidnext=501, exists=480, highestmodseq=99))
    assert plan.opening is FolderOpening.FIRST_SYNC
    assert plan.start == {
        "uidvalidity": 7,
        "uidnext_seen": 501,
        "backfill_low": 501,
        "modseq_at_backfill": 99,
        "highestmodseq": None,
    }
    assert (plan.uidnext_seen, plan.backfill_low, plan.has_new_mail) == (501, 501, False)


def test_a_new_uidvalidity_is_a_reset_from_scratch():
    position = FolderPosition(7, 501, 1, 120, 99)
    plan = plan_folder(position, ServerView(uidvalidity=8, uidnext=21, exists=20, highestmodseq=5))
    assert plan.opening is FolderOpening.RESET
    assert plan.start["uidvalidity"] == 8
    assert plan.start["highestmodseq"] is None
    assert plan.vanished == ()


def test_resume_takes_vanished_only_from_qresync_and_sees_no_new_mail_when_uidnext_is_unchanged():
    position = FolderPosition(7, 501, 1, 120, 99)
    view = ServerView(7, 501, 470, 130, vanished=((3, 9),), used_qresync=True)
    plan = plan_folder(position, view)
    assert plan.opening is FolderOpening.RESUME
    assert plan.vanished == ((3, 9),)
    assert plan.has_new_mail is False
    assert plan_folder(position, ServerView(7, 505, 474, 130)).has_new_mail is True
    assert plan_folder(position, ServerView(7, None, 474, None)).has_new_mail is True


def test_batches_go_newest_first_for_history_and_oldest_first_for_new_mail():
    assert plan_batches([5, 1, 9, 3, 7], 2, newest_first=True) == [[9, 7], [5, 3], [1]]
    assert plan_batches([5, 1, 9, 3, 7], 2, newest_first=False) == [[1, 3], [5, 7], [9]]


def test_expunges_are_found_as_ranges():
    assert needs_expunge_check(exists=9, linked=10, used_qresync=False)
    assert not needs_expunge_check(exists=9, linked=10, used_qresync=True)
    assert find_missing([1, 2, 3, 4, 7, 8, 10], [(1, 1), (4, 4), (8, 8)]) == [
        (2, 3),
        (7, 7),
        (10, 10),
    ]
    assert find_missing([1, 2, 3], [(1, 100_000)]) == []
    assert find_missing([5, 6], []) == [(5, 6)]
    assert compress_ranges([]) == []


def test_messages_a_sync_missed_are_found_without_listing_every_uid():
    linked = [1, 2, 3, 6, 7, 10]
    assert find_untaken([(1, 10)], linked, skip=set()) == [4, 5, 8, 9]
    assert find_untaken([(1, 10)], linked, skip={8}) == [4, 5, 9]
    assert find_untaken([(1, 3), (6, 7), (10, 10)], linked, skip=set()) == []
    assert find_untaken([(11, 12)], linked, skip=set()) == [11, 12]
    assert find_untaken([(1, 4)], [], skip={2}) == [1, 3, 4]
    assert find_untaken([], linked, skip=set()) == []


@settings(max_examples=300)
@given(
    st.sets(st.integers(1, 60)),
    st.sets(st.integers(1, 60)),
    st.sets(st.integers(1, 60)),
)
def test_the_range_walks_agree_with_plain_set_arithmetic(server, linked, skip):
    ranges = compress_ranges(sorted(server))
    assert find_untaken(ranges, sorted(linked), skip) == sorted(server - linked - skip)
    assert find_missing(sorted(linked), ranges) == compress_ranges(sorted(linked - server))


@settings(max_examples=300)
@given(st.sets(st.integers(1, 80)), st.integers(1, 9))
def test_history_batches_are_made_from_ranges_as_from_the_list(uids, size):
    ranges = compress_ranges(sorted(uids))
    batches = list(iter_history(ranges, size))
    assert batches == plan_batches(sorted(uids), size, newest_first=True)
    assert count_batches(ranges, size) == len(batches)


def test_history_of_a_big_folder_is_made_one_batch_at_a_time():
    history = iter_history([(1, 4_000_000_000)], 500)
    assert next(history) == list(range(4_000_000_000, 3_999_999_500, -1))
    assert count_batches([(1, 4_000_000_000)], 500) == 8_000_000


def test_the_live_edge_moves_one_past_the_highest_uid_taken():
    assert uidnext_after([3]) == 4
    assert uidnext_after([9, 2, 41, 7]) == 42
    assert uidnext_after(range(1, 1001)) == 1001
    assert uidnext_after([UID_MAX - 1]) == UID_MAX
    assert UID_MAX == 2**32 - 1  # RFC 9051 section 2.3.1.1: UIDs are 32-bit
