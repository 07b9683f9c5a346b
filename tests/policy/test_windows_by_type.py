"""Each channel type's windows, from its declaration to the verdict: the person wrote (or an
ad brought them) some hours ago; may this send go, and on which basis (the basis is what
the adapter renders: Messenger's messaging_type and tag)?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from threadline.channels import registry
from threadline.channels.kinds import Channel
from threadline.channels.rules import Basis
from threadline.conversations.windows import windows_under
from threadline.policy.decide import decide, template_instead
from threadline.policy.types import (
    ConsentFacts,
    ConsentStatus,
    Outcome,
    Purpose,
    Reason,
    Recipient,
    SendContext,
    TemplateCategory,
    TemplateFacts,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
WA, FB, IG = Channel.WHATSAPP, Channel.MESSENGER, Channel.INSTAGRAM
SERVICE, UTILITY, MARKETING = Purpose.SERVICE, Purpose.UTILITY, Purpose.MARKETING
GRANTED = ConsentStatus.GRANTED


@dataclass(frozen=True)
class Case:
    kind: Channel
    purpose: Purpose
    hours_since_message: float | None  # None: the person never wrote
    by_agent: bool = False
    hours_since_ad: float | None = None
    subscribed: bool = False
    template: TemplateCategory | None = None


def verdict(case: Case) -> tuple[Outcome, Reason | None, Basis | None]:
    rules = registry.rules_for(case.kind)

    def ago(hours: float | None) -> datetime | None:
        return NOW - timedelta(hours=hours) if hours is not None else None

    window = windows_under(rules, ago(case.hours_since_message), ago(case.hours_since_ad))
    template = TemplateFacts("t", case.template, "approved") if case.template is not None else None
    decision = decide(
        SendContext(
            now=NOW,
            channel=case.kind,
            purpose=case.purpose,
            recipient=Recipient(contact_id="c1", region="DE", timezones=("Europe/Berlin",)),
            rules=rules,
            template=template,
            human_agent=case.by_agent,
            consent=ConsentFacts(marketing=GRANTED, transactional=GRANTED),
            window=window,
            subscription_until=NOW + timedelta(days=90) if case.subscribed else None,
        )
    )
    return decision.outcome, decision.reason, decision.basis


ALLOWED, REFUSED = Outcome.ALLOWED, Outcome.REFUSED
CASES: list[tuple[str, Case, tuple[Outcome, Reason | None, Basis | None]]] = [
    # Messenger and Instagram: 24 h after the person's message, anything free-form.
    ("fb-reply-at-23h", Case(FB, SERVICE, 23), (ALLOWED, None, Basis.SERVICE_WINDOW)),
    ("ig-reply-at-23h", Case(IG, SERVICE, 23), (ALLOWED, None, Basis.SERVICE_WINDOW)),
    ("fb-update-at-23h", Case(FB, UTILITY, 23), (ALLOWED, None, Basis.SERVICE_WINDOW)),
    ("fb-promo-at-23h", Case(FB, MARKETING, 23), (ALLOWED, None, Basis.SERVICE_WINDOW)),
    # After 24 h only a person's reply, tagged HUMAN_AGENT, until 7 days.
    ("fb-bot-at-25h", Case(FB, SERVICE, 25), (REFUSED, Reason.CHANNEL_CANNOT_INITIATE, None)),
    ("ig-bot-at-25h", Case(IG, SERVICE, 25), (REFUSED, Reason.CHANNEL_CANNOT_INITIATE, None)),
    (
        "fb-agent-at-6-days",
        Case(FB, SERVICE, 24 * 6, by_agent=True),
        (ALLOWED, None, Basis.HUMAN_AGENT),
    ),
    (
        "ig-agent-at-6-days",
        Case(IG, SERVICE, 24 * 6, by_agent=True),
        (ALLOWED, None, Basis.HUMAN_AGENT),
    ),
    (
        "fb-agent-after-7-days",
        Case(FB, SERVICE, 24 * 7 + 1, by_agent=True),
        (REFUSED, Reason.CHANNEL_CANNOT_INITIATE, None),
    ),
    (
        "fb-agent-update-at-3-days",
        Case(FB, UTILITY, 72, by_agent=True),
        (ALLOWED, None, Basis.HUMAN_AGENT),
    ),
    # The tag carries no promotion, even from a person.
    (
        "fb-agent-promo-at-3-days",
        Case(FB, MARKETING, 72, by_agent=True),
        (REFUSED, Reason.SUBSCRIPTION_REQUIRED, None),
    ),
    (
        "ig-agent-promo-at-3-days",
        Case(IG, MARKETING, 72, by_agent=True),
        (REFUSED, Reason.CHANNEL_CANNOT_INITIATE, None),
    ),
    # An ad opens 7 days of free messages, for bots too.
    (
        "fb-ad-entry-at-5-days",
        Case(FB, SERVICE, 24 * 5, hours_since_ad=24 * 5),
        (ALLOWED, None, Basis.AD_WINDOW),
    ),
    (
        "ig-ad-entry-at-5-days",
        Case(IG, UTILITY, 24 * 5, hours_since_ad=24 * 5),
        (ALLOWED, None, Basis.AD_WINDOW),
    ),
    (
        "fb-ad-entry-after-7-days",
        Case(FB, SERVICE, 24 * 8, hours_since_ad=24 * 8),
        (REFUSED, Reason.CHANNEL_CANNOT_INITIATE, None),
    ),
    # Outside every window, Messenger marketing goes only on a subscription token.
    (
        "fb-promo-outside-no-token",
        Case(FB, MARKETING, 48),
        (REFUSED, Reason.SUBSCRIPTION_REQUIRED, None),
    ),
    (
        "fb-promo-never-wrote-no-token",
        Case(FB, MARKETING, None),
        (REFUSED, Reason.SUBSCRIPTION_REQUIRED, None),
    ),
    (
        "fb-promo-outside-with-token",
        Case(FB, MARKETING, 48, subscribed=True),
        (ALLOWED, None, Basis.SUBSCRIPTION),
    ),
    (
        "fb-update-outside-with-token",
        Case(FB, UTILITY, 48, subscribed=True),
        (REFUSED, Reason.CHANNEL_CANNOT_INITIATE, None),
    ),
    (
        "ig-promo-outside-has-no-subscriptions",
        Case(IG, MARKETING, 48, subscribed=True),
        (REFUSED, Reason.CHANNEL_CANNOT_INITIATE, None),
    ),
    # WhatsApp: 24 h, then only templates; an ad opens 72 h; no human-agent extension.
    ("wa-reply-at-23h", Case(WA, SERVICE, 23), (ALLOWED, None, Basis.SERVICE_WINDOW)),
    ("wa-reply-at-25h", Case(WA, SERVICE, 25), (REFUSED, Reason.WINDOW_CLOSED, None)),
    (
        "wa-agent-at-25h",
        Case(WA, SERVICE, 25, by_agent=True),
        (REFUSED, Reason.WINDOW_CLOSED, None),
    ),
    (
        "wa-ad-entry-at-70h",
        Case(WA, SERVICE, 70, hours_since_ad=70),
        (ALLOWED, None, Basis.AD_WINDOW),
    ),
    (
        "wa-update-outside-free-form",
        Case(WA, UTILITY, 48),
        (REFUSED, Reason.TEMPLATE_REQUIRED, None),
    ),
    (
        "wa-update-outside-template",
        Case(WA, UTILITY, 48, template=TemplateCategory.UTILITY),
        (ALLOWED, None, Basis.TEMPLATE),
    ),
]


@pytest.mark.parametrize(("case", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_window_verdict_and_basis_per_type(
    case: Case, expected: tuple[Outcome, Reason | None, Basis | None]
) -> None:
    assert verdict(case) == expected


def test_the_declared_spans_are_the_platforms() -> None:
    messenger, instagram, whatsapp = (registry.rules_for(k) for k in (FB, IG, WA))
    for rules in (messenger, instagram):
        assert rules.service_window == timedelta(hours=24)
        assert rules.human_agent_window == timedelta(days=7)
        assert rules.ad_entry_window == timedelta(days=7)
        assert rules.customer_must_start
    assert whatsapp.ad_entry_window == timedelta(hours=72)
    assert whatsapp.human_agent_window is None


@pytest.mark.parametrize(
    ("kind", "free_form_open", "expected"),
    [(WA, False, True), (WA, True, False), (FB, False, False), (IG, False, False)],
)
def test_a_flow_sends_its_template_only_where_templates_reach_outside_the_window(
    kind: Channel, free_form_open: bool, expected: bool
) -> None:
    assert template_instead(free_form_open, registry.rules_for(kind)) is expected
