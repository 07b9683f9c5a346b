"""The entry rules of an automation, as a table: re-entry, the cool-down, the control group
and a person busy in another conversation; and which words end a run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from threadline.consent.keywords import KeywordKind
from threadline.flows import entry
from threadline.flows import format as f
from threadline.policy.holdout import campaign_bucket, in_slice

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def file(**extra: object) -> f.FlowFile:
    data = {
        "format": 1,
        "flow": "cart",
        "name": "Cart",
        "start": "w",
        "nodes": [
            {"id": "w", "type": "wait", "for": "1h", "next": "e"},
            {"id": "e", "type": "end"},
        ],
        **extra,
    }
    return f.FlowFile.model_validate(yaml.safe_load(yaml.safe_dump(data)))


def facts(contact_id: str = "con_1", **given: object) -> entry.Facts:
    values: dict[str, object] = {
        "running": False,
        "last_started_at": None,
        "busy": False,
        "starts_asleep": True,
        **given,
    }
    return entry.Facts(contact_id=contact_id, **values)  # type: ignore[arg-type]


def treated_contact(flow_key: str, percent: float) -> str:
    return next(
        c
        for c in (f"con_{i}" for i in range(1000))
        if not in_slice(campaign_bucket(c, entry.holdout_key(flow_key)), percent)
    )


def held_contact(flow_key: str, percent: float) -> str:
    return next(
        c
        for c in (f"con_{i}" for i in range(1000))
        if in_slice(campaign_bucket(c, entry.holdout_key(flow_key)), percent)
    )


@pytest.mark.parametrize(
    ("extra", "given", "expected"),
    [
        ({}, {}, entry.Entry.START),
        ({}, {"running": True}, entry.Entry.ALREADY_IN),
        ({"reentry": {"while_active": "restart"}}, {"running": True}, entry.Entry.RESTART),
        (
            {"reentry": {"after": "30d"}},
            {"last_started_at": NOW - timedelta(days=29)},
            entry.Entry.TOO_SOON,
        ),
        (
            {"reentry": {"after": "30d"}},
            {"last_started_at": NOW - timedelta(days=31)},
            entry.Entry.START,
        ),
        ({}, {"busy": True}, entry.Entry.START),  # starts with a wait: needs no conversation
        ({}, {"busy": True, "starts_asleep": False}, entry.Entry.BUSY),
    ],
)
def test_who_enters(extra: dict[str, object], given: dict[str, object], expected: str) -> None:
    contact = treated_contact("cart", 0)
    assert entry.decide(file(**extra), facts(contact, **given), NOW) is expected


def test_the_control_group_is_stable_and_about_its_share() -> None:
    flow = file(holdout_percent=20)
    held = [
        c
        for c in (f"con_{i}" for i in range(2000))
        if entry.decide(flow, facts(c), NOW) is entry.Entry.HELD_OUT
    ]
    assert 300 <= len(held) <= 500  # 20 % of 2,000, give or take the hash
    again = [c for c in held if entry.decide(flow, facts(c), NOW) is entry.Entry.HELD_OUT]
    assert again == held
    # a held-out contact stays held out when busy or re-entering: the comparison stays clean
    one = held_contact("cart", 20)
    assert entry.decide(flow, facts(one, busy=True, starts_asleep=False), NOW) == "held_out"


@pytest.mark.parametrize(
    ("extra", "keyword", "sleeping", "expected"),
    [
        ({"purpose": "marketing"}, KeywordKind.OPT_OUT, True, ("abandoned", "opted_out")),
        ({"purpose": "utility"}, KeywordKind.OPT_OUT, True, None),  # STOP is for marketing
        ({"purpose": "utility"}, KeywordKind.OPT_OUT_ALL, True, ("abandoned", "opted_out")),
        (
            {"purpose": "utility", "exit_on": [{"opt_out": True, "outcome": "resolved"}]},
            KeywordKind.OPT_OUT,
            True,
            ("resolved", "opted_out"),
        ),
        ({"exit_on": [{"reply": True}]}, KeywordKind.NONE, True, ("resolved", "replied")),
        ({"exit_on": [{"reply": True}]}, KeywordKind.NONE, False, None),
        ({}, KeywordKind.NONE, True, None),
    ],
)
def test_which_words_end_a_run(
    extra: dict[str, object],
    keyword: KeywordKind,
    sleeping: bool,
    expected: tuple[str, str] | None,
) -> None:
    assert entry.exit_for_words(file(**extra), keyword, sleeping=sleeping) == expected


def test_an_exit_on_an_event_matches_its_kind_and_name() -> None:
    flow = file(
        exit_on=[
            {"event": {"kind": "purchase"}, "outcome": "purchased"},
            {"event": {"kind": "custom", "name": "unsubscribed"}},
        ]
    )
    rule = entry.exit_for_event(flow, "purchase", None)
    assert rule is not None and rule.outcome == "purchased"
    assert entry.exit_for_event(flow, "custom", "unsubscribed") is not None
    assert entry.exit_for_event(flow, "custom", "demo_booked") is None
    assert entry.exit_for_event(flow, "cart_updated", None) is None
