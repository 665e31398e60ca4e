"""Expected send times: due times held back by the mailbox's window, daily cap and spacing."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from outreach.mail.estimate import Expected, expected_send_times
from outreach.models.mail import Mailbox

MONDAY = datetime(2026, 12, 7, tzinfo=UTC)  # a Monday


def mailbox(**overrides: object) -> Mailbox:
    values: dict[str, object] = dict(daily_cap=0, min_spacing_seconds=0, jitter_seconds=0, next_send_at=None,
                                     window_days="1,2,3,4,5", window_start_hour=9, window_end_hour=17,
                                     timezone="UTC", is_active=True)
    values.update(overrides)
    return Mailbox(**values)


def at(hours: float, day: int = 0) -> datetime:
    return MONDAY + timedelta(days=day, hours=hours)


def test_a_due_message_in_an_open_window_goes_now() -> None:
    got = expected_send_times([(1, at(8)), (2, at(12))], mailbox(), now=at(10), sent_today=0)
    assert got == {1: Expected(at(10), ""), 2: Expected(at(12), "")}


def test_spacing_queues_messages_one_after_another() -> None:
    box = mailbox(min_spacing_seconds=120, jitter_seconds=60)
    got = expected_send_times([(i, at(10)) for i in range(3)], box, now=at(10), sent_today=0)
    assert [e.at for e in got.values()] == [at(10), at(10) + timedelta(seconds=150), at(10) + timedelta(seconds=300)]
    assert [e.held_by for e in got.values()] == ["", "spacing", "spacing"]


def test_the_daily_cap_moves_the_rest_to_the_next_working_days_window() -> None:
    box = mailbox(daily_cap=2)
    got = expected_send_times([(i, at(10)) for i in range(4)], box, now=at(10, day=4), sent_today=1)  # Friday
    assert got[0] == Expected(at(10, day=4), "")
    assert got[1] == Expected(at(9, day=7), "daily cap")  # Friday's cap is used up: Monday 09:00
    assert got[2] == Expected(at(9, day=7), "daily cap")  # behind it, and Monday's cap is 2
    assert got[3] == Expected(at(9, day=8), "daily cap")


def test_outside_the_window_it_waits_for_the_next_opening_in_the_mailboxs_zone() -> None:
    box = mailbox(timezone="America/New_York")  # 09:00 in New York is 14:00 UTC in December
    got = expected_send_times([(1, at(3))], box, now=at(3), sent_today=0)
    assert got[1] == Expected(at(14), "sending window")


def test_times_are_given_in_utc_and_the_weightiest_hold_is_named() -> None:
    box = mailbox(timezone="Europe/Berlin", daily_cap=2, min_spacing_seconds=180)  # 09:00 Berlin = 08:00 UTC
    got = expected_send_times([(i, at(1)) for i in range(4)], box, now=at(1), sent_today=0)
    assert [(e.at, e.held_by) for e in got.values()] == [
        (at(8), "sending window"), (at(8) + timedelta(minutes=3), "sending window"),
        (at(8, day=1), "daily cap"), (at(8, day=1) + timedelta(minutes=3), "daily cap")]
    assert all(e.at.tzinfo == UTC for e in got.values())


def test_a_mailbox_waiting_out_its_spacing_holds_the_first_message() -> None:
    box = mailbox(next_send_at=at(10) + timedelta(seconds=90))
    got = expected_send_times([(1, at(9))], box, now=at(10), sent_today=0)
    assert got[1] == Expected(at(10) + timedelta(seconds=90), "spacing")
