"""The consent ledger fold `status()`: grants, revokes (specific and wide), restores, double
opt-in, and lines from the future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.consent.projection import (
    ALL_MARKETING,
    ANY,
    DOUBLE_OPT_IN_EXPIRY_DAYS,
    TRANSACTIONAL,
    Action,
    LedgerLine,
    status,
)
from threadline.policy.types import ConsentStatus

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)

GRANTED = ConsentStatus.GRANTED
REVOKED = ConsentStatus.REVOKED
PENDING = ConsentStatus.PENDING
NONE = ConsentStatus.NONE

CHANNELS = ("sms", "whatsapp", "email")
TOPICS = ("offers", "news", TRANSACTIONAL)


def ledger(*entries: tuple[Action, str, str]) -> list[LedgerLine]:
    """Lines one hour apart from T0, in order; REQUEST lines expire as the service sets them."""
    lines: list[LedgerLine] = []
    for i, (action, channel, topic) in enumerate(entries):
        at = T0 + timedelta(hours=i)
        expires = (
            at + timedelta(days=DOUBLE_OPT_IN_EXPIRY_DAYS) if action is Action.REQUEST else None
        )
        lines.append(LedgerLine(action, channel, topic, at, expires))
    return lines


GRANT = Action.GRANT
REVOKE = Action.REVOKE
RESTORE = Action.RESTORE
REQUEST = Action.REQUEST
CONFIRM = Action.CONFIRM


@pytest.mark.parametrize(
    ("entries", "topic", "expected"),
    [
        pytest.param((), "offers", NONE, id="empty-ledger-none"),
        pytest.param(((GRANT, "sms", "offers"),), "offers", GRANTED, id="grant"),
        pytest.param(((GRANT, "sms", "offers"),), "news", NONE, id="grant-is-per-topic"),
        pytest.param(
            ((GRANT, "sms", "offers"), (REVOKE, "sms", "offers")), "offers", REVOKED, id="revoke"
        ),
        pytest.param(
            ((REVOKE, "sms", "offers"),), "offers", REVOKED, id="revoke-without-grant-is-revoked"
        ),
        pytest.param(
            ((GRANT, "sms", "offers"), (REVOKE, "sms", "offers"), (GRANT, "sms", "offers")),
            "offers",
            GRANTED,
            id="re-grant-after-revoke",
        ),
        pytest.param(
            ((GRANT, "sms", "offers"), (REVOKE, "sms", "news")),
            "offers",
            GRANTED,
            id="revoking-another-topic-leaves-this-one",
        ),
        pytest.param(
            ((GRANT, "sms", TRANSACTIONAL), (REVOKE, "sms", ANY)),
            TRANSACTIONAL,
            REVOKED,
            id="wildcard-revoke-covers-transactional",
        ),
        pytest.param(
            ((GRANT, "sms", "offers"), (REVOKE, "sms", ANY)),
            "offers",
            REVOKED,
            id="wildcard-revoke-covers-marketing",
        ),
        pytest.param(
            ((GRANT, "sms", "offers"), (REVOKE, "sms", ALL_MARKETING)),
            "offers",
            REVOKED,
            id="all-marketing-revoke-covers-a-marketing-topic",
        ),
        pytest.param(
            ((GRANT, "sms", TRANSACTIONAL), (REVOKE, "sms", ALL_MARKETING)),
            TRANSACTIONAL,
            GRANTED,
            id="all-marketing-revoke-spares-transactional",
        ),
        pytest.param(
            ((GRANT, "sms", "offers"), (REVOKE, ANY, "offers")),
            "offers",
            REVOKED,
            id="any-channel-revoke-covers-this-channel",
        ),
        pytest.param(
            ((GRANT, "sms", "offers"), (REVOKE, "email", ANY)),
            "offers",
            GRANTED,
            id="revoke-on-another-channel-leaves-this-one",
        ),
    ],
)
def test_status(
    entries: tuple[tuple[Action, str, str], ...], topic: str, expected: ConsentStatus
) -> None:
    assert status(ledger(*entries), "sms", topic, NOW) is expected


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("topic", TOPICS)
def test_revoke_everything_everywhere(channel: str, topic: str) -> None:
    lines = ledger(*((GRANT, c, t) for c in CHANNELS for t in TOPICS), (REVOKE, ANY, ANY))
    assert status(lines, channel, topic, NOW) is REVOKED


# ------------------------------------------------------------------------- restore


@pytest.mark.parametrize(
    ("entries", "topic", "expected"),
    [
        pytest.param(
            ((GRANT, "sms", "offers"), (REVOKE, "sms", ANY), (RESTORE, "sms", ANY)),
            "offers",
            GRANTED,
            id="stop-start-gives-back-a-grant",
        ),
        pytest.param(
            ((GRANT, "sms", "offers"), (REVOKE, "sms", ANY), (RESTORE, "sms", ANY)),
            "news",
            NONE,
            id="restore-never-creates-consent-from-nothing",
        ),
        pytest.param(
            ((REVOKE, "sms", ANY), (RESTORE, "sms", ANY)),
            TRANSACTIONAL,
            NONE,
            id="restore-with-no-prior-grant-is-none",
        ),
        pytest.param(
            ((REQUEST, "sms", "offers"), (REVOKE, "sms", ANY), (RESTORE, "sms", ANY)),
            "offers",
            PENDING,
            id="restore-gives-back-a-pending-request",
        ),
        pytest.param(
            ((GRANT, "sms", "offers"), (RESTORE, "sms", ANY)),
            "offers",
            GRANTED,
            id="restore-without-revoke-changes-nothing",
        ),
        pytest.param(
            ((RESTORE, "sms", ANY),),
            "offers",
            NONE,
            id="restore-on-empty-ledger-is-none",
        ),
        pytest.param(
            (
                (GRANT, "sms", "offers"),
                (REVOKE, "sms", ANY),
                (REVOKE, "sms", ANY),
                (RESTORE, "sms", ANY),
            ),
            "offers",
            GRANTED,
            id="stop-stop-start-resubscribes",
        ),
        pytest.param(
            (
                (GRANT, "sms", "offers"),
                (REVOKE, "sms", ANY),
                (RESTORE, "sms", ANY),
                (REVOKE, "sms", ANY),
            ),
            "offers",
            REVOKED,
            id="stop-after-restore-revokes-again",
        ),
        pytest.param(
            (
                (GRANT, "sms", "offers"),
                (REVOKE, "sms", ANY),
                (RESTORE, "sms", ANY),
                (REVOKE, "sms", ANY),
                (RESTORE, "sms", ANY),
            ),
            "offers",
            GRANTED,
            id="second-stop-start-cycle",
        ),
        pytest.param(
            (
                (GRANT, "sms", TRANSACTIONAL),
                (REVOKE, "whatsapp", ANY),
                (RESTORE, "whatsapp", ANY),
            ),
            TRANSACTIONAL,
            GRANTED,
            id="restore-on-another-channel-does-not-touch-this-one",
        ),
    ],
)
def test_restore_gives_back_exactly_the_prior_state(
    entries: tuple[tuple[Action, str, str], ...], topic: str, expected: ConsentStatus
) -> None:
    assert status(ledger(*entries), "sms", topic, NOW) is expected


def test_restore_gives_back_a_grant_made_between_two_stops() -> None:
    lines = ledger(
        (GRANT, "sms", "offers"),
        (REVOKE, "sms", ANY),
        (GRANT, "sms", "news"),
        (REVOKE, "sms", ANY),
        (RESTORE, "sms", ANY),
    )
    assert status(lines, "sms", "news", NOW) is GRANTED
    assert status(lines, "sms", TRANSACTIONAL, NOW) is NONE


# ------------------------------------------------------------------------- double opt-in


def test_double_opt_in_request_is_pending_until_confirmed() -> None:
    lines = ledger((REQUEST, "email", "news"))
    assert status(lines, "email", "news", NOW) is PENDING
    confirmed = ledger((REQUEST, "email", "news"), (CONFIRM, "email", "news"))
    assert status(confirmed, "email", "news", NOW) is GRANTED


def test_double_opt_in_request_expires_after_30_days() -> None:
    lines = ledger((REQUEST, "email", "news"))
    expiry = T0 + timedelta(days=DOUBLE_OPT_IN_EXPIRY_DAYS)
    assert DOUBLE_OPT_IN_EXPIRY_DAYS == 30
    assert status(lines, "email", "news", expiry - timedelta(seconds=1)) is PENDING
    assert status(lines, "email", "news", expiry) is NONE


def test_request_does_not_downgrade_an_existing_grant() -> None:
    lines = ledger((GRANT, "email", "news"), (REQUEST, "email", "news"))
    assert status(lines, "email", "news", NOW) is GRANTED
    later = T0 + timedelta(days=DOUBLE_OPT_IN_EXPIRY_DAYS + 5)
    assert status(lines, "email", "news", later) is GRANTED


def test_revoke_after_request_is_revoked() -> None:
    lines = ledger((REQUEST, "email", "news"), (REVOKE, "email", ANY))
    assert status(lines, "email", "news", NOW) is REVOKED


# ------------------------------------------------------------------------- time


def test_lines_after_now_are_ignored() -> None:
    lines = ledger((GRANT, "sms", "offers"), (REVOKE, "sms", ANY))
    revoked_at = lines[1].occurred_at
    assert status(lines, "sms", "offers", revoked_at - timedelta(seconds=1)) is GRANTED
    assert status(lines, "sms", "offers", revoked_at) is REVOKED
    assert status(lines, "sms", "offers", T0 - timedelta(seconds=1)) is NONE


# ------------------------------------------------------------------------- properties

LEDGER_CHANNELS = (*CHANNELS, ANY)
LEDGER_TOPICS = (*TOPICS, ALL_MARKETING, ANY)
# Grants and requests are always specific (the service refuses wide ones).
specific_lines = st.tuples(
    st.sampled_from([GRANT, REQUEST, CONFIRM]), st.sampled_from(CHANNELS), st.sampled_from(TOPICS)
)
wide_lines = st.tuples(
    st.sampled_from([REVOKE, RESTORE]),
    st.sampled_from(LEDGER_CHANNELS),
    st.sampled_from(LEDGER_TOPICS),
)
ledgers = st.lists(specific_lines | wide_lines, max_size=12)
instants = st.integers(0, 60 * 24).map(lambda hours: T0 + timedelta(hours=hours))


@settings(max_examples=200, deadline=None)
@given(ledgers, st.sampled_from(LEDGER_CHANNELS), instants)
def test_revoke_everything_on_a_channel_always_wins(
    entries: list[tuple[Action, str, str]], channel: str, now: datetime
) -> None:
    lines = ledger(*entries, (REVOKE, channel, ANY))
    now = max(now, lines[-1].occurred_at)
    channels = CHANNELS if channel == ANY else (channel,)
    for affected in channels:
        for topic in TOPICS:
            assert status(lines, affected, topic, now) is REVOKED


@settings(max_examples=200, deadline=None)
@given(st.lists(wide_lines, max_size=12), st.sampled_from(CHANNELS), st.sampled_from(TOPICS))
def test_revokes_and_restores_never_create_consent(
    entries: list[tuple[Action, str, str]], channel: str, topic: str
) -> None:
    assert status(ledger(*entries), channel, topic, NOW + timedelta(days=1)) in (NONE, REVOKED)


@settings(max_examples=200, deadline=None)
@given(ledgers, st.sampled_from(CHANNELS), st.sampled_from(TOPICS))
def test_restore_right_after_a_revoke_gives_back_the_state_before_it(
    entries: list[tuple[Action, str, str]], channel: str, topic: str
) -> None:
    later = T0 + timedelta(days=400)  # every line in the past; requests expired alike
    before = status(ledger(*entries), channel, topic, later)
    undone = ledger(*entries, (REVOKE, channel, ANY), (RESTORE, channel, ANY))
    if before is not REVOKED:
        assert status(undone, channel, topic, later) is before
