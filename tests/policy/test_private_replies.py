"""Private replies to comments: a send whose reply_to is a person's public comment goes to the
comment (basis PRIVATE_REPLY) once, within the type's private-reply window, whatever the DM
window says; elsewhere it is refused with `private_reply_closed` and the reason in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from threadline.channels import registry
from threadline.channels.kinds import Channel
from threadline.channels.rules import Basis
from threadline.conversations.windows import windows_under
from threadline.policy.decide import decide
from threadline.policy.types import (
    CommentFacts,
    ConsentFacts,
    ConsentStatus,
    Outcome,
    Purpose,
    Reason,
    Recipient,
    SendContext,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
IG, FB = Channel.INSTAGRAM, Channel.MESSENGER
ALLOWED, REFUSED = Outcome.ALLOWED, Outcome.REFUSED
CLOSED = Reason.PRIVATE_REPLY_CLOSED


@dataclass(frozen=True)
class Case:
    kind: Channel
    days_since_comment: float
    hours_since_message: float | None = None  # None: the person never wrote a DM
    answered: bool = False
    purpose: Purpose = Purpose.SERVICE
    by_agent: bool = False


def decision_for(case: Case) -> tuple[Outcome, Reason | None, Basis | None, str]:
    rules = registry.rules_for(case.kind)
    wrote = (
        NOW - timedelta(hours=case.hours_since_message)
        if case.hours_since_message is not None
        else None
    )
    comment = CommentFacts(
        "17900000000000042", NOW - timedelta(days=case.days_since_comment), case.answered
    )
    decision = decide(
        SendContext(
            now=NOW,
            channel=case.kind,
            purpose=case.purpose,
            recipient=Recipient(contact_id="c1", region="BR", timezones=("America/Sao_Paulo",)),
            rules=rules,
            human_agent=case.by_agent,
            consent=ConsentFacts(
                marketing=ConsentStatus.GRANTED, transactional=ConsentStatus.GRANTED
            ),
            window=windows_under(rules, wrote, None),
            comment=comment,
        )
    )
    return decision.outcome, decision.reason, decision.basis, decision.detail


CASES: list[tuple[str, Case, tuple[Outcome, Reason | None, Basis | None], str]] = [
    ("an-hour-old-comment", Case(IG, 1 / 24), (ALLOWED, None, Basis.PRIVATE_REPLY), ""),
    ("six-days-old", Case(IG, 6.9), (ALLOWED, None, Basis.PRIVATE_REPLY), ""),
    ("just-over-seven-days", Case(IG, 7.01), (REFUSED, CLOSED, None), "older than 7 days"),
    # A DM window being open does not turn the answer to a comment into a DM.
    (
        "dm-window-open",
        Case(IG, 1, hours_since_message=2),
        (ALLOWED, None, Basis.PRIVATE_REPLY),
        "",
    ),
    (
        "dm-window-open-but-comment-too-old",
        Case(IG, 8, hours_since_message=2),
        (REFUSED, CLOSED, None),
        "older than 7 days",
    ),
    ("second-reply", Case(IG, 1, answered=True), (REFUSED, CLOSED, None), "one private reply"),
    ("an-agent-replies", Case(IG, 2, by_agent=True), (ALLOWED, None, Basis.PRIVATE_REPLY), ""),
    ("an-update", Case(IG, 2, purpose=Purpose.UTILITY), (ALLOWED, None, Basis.PRIVATE_REPLY), ""),
    (
        "marketing",
        Case(IG, 1, purpose=Purpose.MARKETING),
        (REFUSED, CLOSED, None),
        "cannot carry marketing",
    ),
    ("messenger-has-none", Case(FB, 1), (REFUSED, CLOSED, None), "no private replies"),
]


@pytest.mark.parametrize(
    ("case", "expected", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_private_reply_verdicts(
    case: Case, expected: tuple[Outcome, Reason | None, Basis | None], says: str
) -> None:
    outcome, reason, basis, detail = decision_for(case)
    assert (outcome, reason, basis) == expected
    assert says in detail


def test_a_send_that_answers_no_comment_keeps_the_dm_rules() -> None:
    """Without a comment, an Instagram bot message 25 h after the last DM is still refused:
    the private-reply rule opens nothing else."""
    rules = registry.rules_for(IG)
    decision = decide(
        SendContext(
            now=NOW,
            channel=IG,
            purpose=Purpose.SERVICE,
            recipient=Recipient(contact_id="c1", region="BR", timezones=("America/Sao_Paulo",)),
            rules=rules,
            window=windows_under(rules, NOW - timedelta(hours=25), None),
        )
    )
    assert decision.reason is Reason.CHANNEL_CANNOT_INITIATE
