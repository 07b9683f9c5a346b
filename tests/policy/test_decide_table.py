"""Table-driven tests for `decide`: every reason code and every allowed path, one row each.

Each row starts from one allowed send (an approved WhatsApp marketing template to a German
contact who opted in, outside any window, at a Tuesday 15:00 UTC) and changes only what the
row is about, so a row reads as "this one fact makes the difference"."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from threadline.channels import registry
from threadline.channels.kinds import Channel
from threadline.policy.decide import decide
from threadline.policy.rules import rules_for
from threadline.policy.types import (
    ChannelFacts,
    CommentFacts,
    ConsentFacts,
    ConsentStatus,
    FrequencyCap,
    HoldoutFacts,
    Outcome,
    Purpose,
    Quality,
    Reason,
    RecentSend,
    Recipient,
    SendContext,
    TemplateCategory,
    TemplateFacts,
    WindowFacts,
)

# A Tuesday: 16:00 in Berlin, 11:00 in New York (EDT), 08:00 in Los Angeles (PDT),
# 05:00 in Honolulu, 20:30 in Kolkata.
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
# The same evening, 20:30 in New York / Miami (EDT, UTC-4).
NOW_2030_EASTERN = datetime(2026, 3, 11, 0, 30, tzinfo=UTC)
# Sunday 2026-03-15, 11:00 in Paris (CET).
SUNDAY_MORNING_PARIS = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)

GRANTED = ConsentStatus.GRANTED
REVOKED = ConsentStatus.REVOKED
PENDING = ConsentStatus.PENDING

BERLIN = Recipient(contact_id="c-de", region="DE", timezones=("Europe/Berlin",))
MIAMI = Recipient(
    contact_id="c-fl", region="US", subdivision="US-FL", timezones=("America/New_York",)
)
NEW_YORK = Recipient(
    contact_id="c-ny", region="US", subdivision="US-NY", timezones=("America/New_York",)
)
LOS_ANGELES = Recipient(
    contact_id="c-ca", region="US", subdivision="US-CA", timezones=("America/Los_Angeles",)
)
HONOLULU = Recipient(
    contact_id="c-hi", region="US", subdivision="US-HI", timezones=("Pacific/Honolulu",)
)
KOLKATA = Recipient(contact_id="c-in", region="IN", timezones=("Asia/Kolkata",))
TOKYO = Recipient(contact_id="c-jp", region="JP", timezones=("Asia/Tokyo",))
PARIS = Recipient(contact_id="c-fr", region="FR", timezones=("Europe/Paris",))

MARKETING_TEMPLATE = TemplateFacts("spring_sale", TemplateCategory.MARKETING, "approved")
UTILITY_TEMPLATE = TemplateFacts("order_shipped", TemplateCategory.UTILITY, "approved")
AUTH_TEMPLATE = TemplateFacts("login_code", TemplateCategory.AUTHENTICATION, "approved")

MARKETING_OK = ConsentFacts(marketing=GRANTED)
TRANSACTIONAL_OK = ConsentFacts(transactional=GRANTED)
NO_CONSENT = ConsentFacts()

OPEN = WindowFacts(service_open_until=NOW + timedelta(hours=20))
CLOSED = WindowFacts(service_open_until=NOW - timedelta(hours=2))
ENTRY_POINT_OPEN = WindowFacts(
    service_open_until=NOW - timedelta(hours=2), entry_point_open_until=NOW + timedelta(hours=40)
)
HUMAN_AGENT_ONLY = WindowFacts(
    service_open_until=NOW - timedelta(days=2), human_agent_open_until=NOW + timedelta(days=5)
)
HUMAN_AGENT_EXPIRED = WindowFacts(
    service_open_until=NOW - timedelta(days=7), human_agent_open_until=NOW - timedelta(hours=1)
)
APPLE_CONVERSATION = WindowFacts(service_open_until=NOW + timedelta(days=3000))

AT_LIMIT = ChannelFacts(messaging_limit=250, recipients_24h=250)

FL = rules_for("US", "US-FL")
NY = rules_for("US", "US-NY")
FR = rules_for("FR", None)

BASE = SendContext(
    now=NOW,
    channel=Channel.WHATSAPP,
    purpose=Purpose.MARKETING,
    recipient=BERLIN,
    rules=registry.rules_for(Channel.WHATSAPP),
    topic="offers",
    template=MARKETING_TEMPLATE,
    consent=MARKETING_OK,
)


def ctx(**changes: Any) -> SendContext:
    """BASE with changes; a changed channel brings its type's declared rules along."""
    if "channel" in changes and "rules" not in changes:
        changes["rules"] = registry.rules_for(changes["channel"])
    return replace(BASE, **changes)


def sms_marketing(recipient: Recipient, now: datetime = NOW, **changes: Any) -> SendContext:
    """A free-form SMS marketing message under the recipient's regional rules."""
    rules = rules_for(recipient.region, recipient.subdivision)
    return ctx(
        channel=Channel.SMS,
        template=None,
        recipient=recipient,
        now=now,
        quiet_hours=rules.quiet_hours,
        caps=rules.caps,
        **changes,
    )


def sends(
    now: datetime, *hours_ago: float, channel: Channel = Channel.SMS
) -> tuple[RecentSend, ...]:
    return tuple(RecentSend(sent_at=now - timedelta(hours=h), channel=channel) for h in hours_ago)


def with_recipient(recipient: Recipient, **fields: Any) -> Recipient:
    return replace(recipient, **fields)


@dataclass(frozen=True)
class Row:
    ctx: SendContext
    outcome: Outcome
    reason: Reason | None = None
    requires: tuple[str, ...] | None = None  # None: not checked
    defer_until: datetime | None = None
    detail_contains: str = ""


def allowed(context: SendContext, detail_contains: str = "") -> Row:
    return Row(context, Outcome.ALLOWED, requires=(), detail_contains=detail_contains)


def refused(
    context: SendContext,
    reason: Reason,
    requires: tuple[str, ...] | None = None,
    detail_contains: str = "",
) -> Row:
    return Row(context, Outcome.REFUSED, reason, requires, detail_contains=detail_contains)


def deferred(context: SendContext, reason: Reason, until: datetime) -> Row:
    return Row(context, Outcome.DEFERRED, reason, requires=(), defer_until=until)


CASES: list[tuple[str, Row]] = [
    # ---------------------------------------------------------------- allowed paths
    (
        "allowed/whatsapp-service-reply-in-window",
        allowed(ctx(purpose=Purpose.SERVICE, template=None, consent=NO_CONSENT, window=OPEN)),
    ),
    (
        "allowed/whatsapp-marketing-template-outside-window-with-consent",
        allowed(BASE, detail_contains="spring_sale"),
    ),
    (
        "allowed/whatsapp-marketing-free-form-inside-window",
        allowed(ctx(template=None, window=OPEN)),
    ),
    (
        "allowed/whatsapp-utility-template-with-transactional-grant",
        allowed(ctx(purpose=Purpose.UTILITY, template=UTILITY_TEMPLATE, consent=TRANSACTIONAL_OK)),
    ),
    (
        "allowed/whatsapp-utility-template-inside-window-without-grant",
        allowed(
            ctx(purpose=Purpose.UTILITY, template=UTILITY_TEMPLATE, consent=NO_CONSENT, window=OPEN)
        ),
    ),
    (
        "allowed/whatsapp-utility-free-form-inside-window",
        allowed(ctx(purpose=Purpose.UTILITY, template=None, consent=NO_CONSENT, window=OPEN)),
    ),
    (
        "allowed/whatsapp-authentication-template",
        allowed(
            ctx(purpose=Purpose.AUTHENTICATION, template=AUTH_TEMPLATE, consent=TRANSACTIONAL_OK)
        ),
    ),
    (
        "allowed/whatsapp-service-reply-in-entry-point-window",
        allowed(
            ctx(
                purpose=Purpose.SERVICE,
                template=None,
                consent=NO_CONSENT,
                window=ENTRY_POINT_OPEN,
            )
        ),
    ),
    (
        "allowed/whatsapp-marketing-free-form-in-entry-point-window",
        allowed(ctx(template=None, window=ENTRY_POINT_OPEN)),
    ),
    (
        "allowed/messenger-service-reply-in-window",
        allowed(
            ctx(
                channel=Channel.MESSENGER,
                purpose=Purpose.SERVICE,
                template=None,
                consent=NO_CONSENT,
                window=OPEN,
            )
        ),
    ),
    (
        "allowed/messenger-human-agent-within-7-days",
        allowed(
            ctx(
                channel=Channel.MESSENGER,
                purpose=Purpose.SERVICE,
                template=None,
                consent=NO_CONSENT,
                window=HUMAN_AGENT_ONLY,
                human_agent=True,
            )
        ),
    ),
    (
        "allowed/instagram-human-agent-within-7-days",
        allowed(
            ctx(
                channel=Channel.INSTAGRAM,
                purpose=Purpose.SERVICE,
                template=None,
                consent=NO_CONSENT,
                window=HUMAN_AGENT_ONLY,
                human_agent=True,
            )
        ),
    ),
    (
        "allowed/apple-reply-in-open-conversation",
        allowed(
            ctx(
                channel=Channel.APPLE,
                purpose=Purpose.SERVICE,
                template=None,
                consent=NO_CONSENT,
                window=APPLE_CONVERSATION,
            )
        ),
    ),
    (
        "allowed/sms-marketing-with-consent-inside-hours",
        allowed(sms_marketing(NEW_YORK)),
    ),
    (
        "allowed/sms-authentication-code-with-transactional-grant",
        allowed(sms_marketing(NEW_YORK, purpose=Purpose.AUTHENTICATION, consent=TRANSACTIONAL_OK)),
    ),
    (
        "allowed/email-marketing-with-consent",
        allowed(ctx(channel=Channel.EMAIL, template=None)),
    ),
    (
        "allowed/email-utility-with-transactional-grant",
        allowed(
            ctx(
                channel=Channel.EMAIL,
                purpose=Purpose.UTILITY,
                template=None,
                consent=TRANSACTIONAL_OK,
            )
        ),
    ),
    (
        "allowed/sms-new-york-at-20:30-under-default-hours",
        allowed(sms_marketing(NEW_YORK, NOW_2030_EASTERN)),
    ),
    (
        "allowed/kolkata-at-20:30-under-default-hours",
        allowed(ctx(recipient=KOLKATA)),
    ),
    (
        "allowed/exactly-08:00-local",
        allowed(sms_marketing(LOS_ANGELES)),
    ),
    (
        "allowed/two-zones-both-inside-hours",
        allowed(
            ctx(recipient=with_recipient(BERLIN, timezones=("Europe/Berlin", "America/New_York")))
        ),
    ),
    (
        "allowed/utility-at-night-is-not-deferred",
        allowed(
            ctx(
                channel=Channel.SMS,
                purpose=Purpose.UTILITY,
                template=None,
                recipient=HONOLULU,
                consent=TRANSACTIONAL_OK,
            )
        ),
    ),
    (
        "allowed/florida-two-marketing-in-24h-under-legal-cap",
        allowed(sms_marketing(MIAMI, recent_marketing=sends(NOW, 1, 23))),
    ),
    (
        "allowed/florida-cap-ignores-sends-older-than-24h",
        allowed(sms_marketing(MIAMI, recent_marketing=sends(NOW, 1, 2, 24, 30))),
    ),
    (
        "allowed/florida-cap-does-not-count-against-utility",
        allowed(
            sms_marketing(
                MIAMI,
                purpose=Purpose.UTILITY,
                consent=TRANSACTIONAL_OK,
                recent_marketing=sends(NOW, 1, 2, 3),
            )
        ),
    ),
    (
        "allowed/per-channel-cap-ignores-other-channels",
        allowed(
            ctx(
                caps=(FrequencyCap(1, timedelta(days=7), Channel.WHATSAPP),),
                recent_marketing=sends(NOW, 1, 2, channel=Channel.EMAIL),
            )
        ),
    ),
    (
        "allowed/global-control-exempts-utility",
        allowed(
            ctx(
                purpose=Purpose.UTILITY,
                template=UTILITY_TEMPLATE,
                consent=TRANSACTIONAL_OK,
                recipient=with_recipient(BERLIN, holdout_bucket=5),
                holdout=HoldoutFacts(global_control_percent=10.0),
            )
        ),
    ),
    (
        "allowed/global-control-bucket-just-outside-slice",
        allowed(
            ctx(
                recipient=with_recipient(BERLIN, holdout_bucket=1000),
                holdout=HoldoutFacts(global_control_percent=10.0),
            )
        ),
    ),
    (
        "allowed/campaign-bucket-outside-campaign-control",
        allowed(
            ctx(
                holdout=HoldoutFacts(
                    campaign_id="spring", campaign_holdout_percent=10.0, campaign_bucket=1000
                )
            )
        ),
    ),
    (
        "allowed/quality-red-does-not-pause-utility",
        allowed(
            ctx(
                purpose=Purpose.UTILITY,
                template=UTILITY_TEMPLATE,
                consent=TRANSACTIONAL_OK,
                channel_state=ChannelFacts(quality=Quality.RED),
            )
        ),
    ),
    (
        "allowed/quality-yellow-marketing",
        allowed(ctx(channel_state=ChannelFacts(quality=Quality.YELLOW))),
    ),
    (
        "allowed/whatsapp-utility-template-to-us",
        allowed(
            ctx(
                purpose=Purpose.UTILITY,
                template=UTILITY_TEMPLATE,
                consent=TRANSACTIONAL_OK,
                recipient=NEW_YORK,
            )
        ),
    ),
    (
        "allowed/service-reply-after-opt-out",
        allowed(
            ctx(
                purpose=Purpose.SERVICE,
                template=None,
                consent=ConsentFacts(marketing=REVOKED, transactional=REVOKED),
                window=OPEN,
            )
        ),
    ),
    (
        "allowed/messaging-limit-recipient-already-counted",
        allowed(ctx(channel_state=replace(AT_LIMIT, recipient_already_counted=True))),
    ),
    (
        "allowed/messaging-limit-not-reached",
        allowed(ctx(channel_state=replace(AT_LIMIT, recipients_24h=249))),
    ),
    (
        "allowed/messaging-limit-does-not-apply-inside-window",
        allowed(ctx(window=OPEN, channel_state=AT_LIMIT)),
    ),
    (
        "allowed/budget-exactly-enough",
        allowed(ctx(cost_estimate=Decimal("0.0613"), budget_remaining=Decimal("0.0613"))),
    ),
    # ---------------------------------------------------------------- opted_out
    (
        "opted_out/marketing-after-opt-out",
        refused(ctx(consent=ConsentFacts(marketing=REVOKED)), Reason.OPTED_OUT, ()),
    ),
    (
        "opted_out/utility-after-opting-out-of-everything",
        refused(
            ctx(
                purpose=Purpose.UTILITY,
                template=UTILITY_TEMPLATE,
                consent=ConsentFacts(transactional=REVOKED),
                window=OPEN,
            ),
            Reason.OPTED_OUT,
            (),
        ),
    ),
    (
        "opted_out/authentication-after-opting-out-of-everything",
        refused(
            ctx(
                purpose=Purpose.AUTHENTICATION,
                template=AUTH_TEMPLATE,
                consent=ConsentFacts(transactional=REVOKED),
            ),
            Reason.OPTED_OUT,
        ),
    ),
    (
        "opted_out/outranks-every-other-rule",
        refused(
            ctx(
                channel=Channel.APPLE,
                consent=ConsentFacts(marketing=REVOKED),
                template=replace(MARKETING_TEMPLATE, status="paused"),
                recipient=with_recipient(NEW_YORK, holdout_bucket=0),
                holdout=HoldoutFacts(global_control_percent=15.0),
                channel_state=ChannelFacts(quality=Quality.RED),
                budget_remaining=Decimal(0),
                cost_estimate=Decimal(1),
            ),
            Reason.OPTED_OUT,
        ),
    ),
    # ---------------------------------------------------------------- channel_cannot_initiate
    (
        "channel_cannot_initiate/apple-without-conversation",
        refused(
            ctx(channel=Channel.APPLE, template=None, window=WindowFacts()),
            Reason.CHANNEL_CANNOT_INITIATE,
            (),
        ),
    ),
    (
        "channel_cannot_initiate/instagram-marketing-window-closed",
        refused(
            ctx(channel=Channel.INSTAGRAM, template=None, window=CLOSED),
            Reason.CHANNEL_CANNOT_INITIATE,
            ("inbound_message",),
        ),
    ),
    (
        "channel_cannot_initiate/messenger-utility-window-closed",
        refused(
            ctx(
                channel=Channel.MESSENGER,
                purpose=Purpose.UTILITY,
                template=None,
                consent=TRANSACTIONAL_OK,
                window=CLOSED,
            ),
            Reason.CHANNEL_CANNOT_INITIATE,
            ("inbound_message",),
        ),
    ),
    # ---------------------------------------------------------------- private_reply_closed
    (
        "private_reply_closed/instagram-comment-older-than-7-days",
        refused(
            ctx(
                channel=Channel.INSTAGRAM,
                purpose=Purpose.SERVICE,
                template=None,
                comment=CommentFacts("c-1", NOW - timedelta(days=8)),
            ),
            Reason.PRIVATE_REPLY_CLOSED,
            ("inbound_message",),
            "older than 7 days",
        ),
    ),
    (
        "allowed/instagram-private-reply-to-a-fresh-comment",
        allowed(
            ctx(
                channel=Channel.INSTAGRAM,
                purpose=Purpose.SERVICE,
                template=None,
                window=CLOSED,
                comment=CommentFacts("c-1", NOW - timedelta(days=1)),
            )
        ),
    ),
    # ---------------------------------------------------------------- subscription_required
    (
        "subscription_required/messenger-marketing-window-closed",
        refused(
            ctx(channel=Channel.MESSENGER, template=None, window=CLOSED),
            Reason.SUBSCRIPTION_REQUIRED,
            ("subscription:marketing",),
        ),
    ),
    (
        "subscription_required/messenger-subscription-expired",
        refused(
            ctx(
                channel=Channel.MESSENGER,
                template=None,
                window=CLOSED,
                subscription_until=NOW - timedelta(minutes=1),
            ),
            Reason.SUBSCRIPTION_REQUIRED,
            ("subscription:marketing",),
        ),
    ),
    (
        "allowed/messenger-marketing-on-a-live-subscription",
        allowed(
            ctx(
                channel=Channel.MESSENGER,
                template=None,
                window=CLOSED,
                subscription_until=NOW + timedelta(days=30),
            ),
            detail_contains="subscription",
        ),
    ),
    (
        "no_consent/messenger-subscription-without-recorded-consent",
        refused(
            ctx(
                channel=Channel.MESSENGER,
                template=None,
                window=CLOSED,
                consent=NO_CONSENT,
                subscription_until=NOW + timedelta(days=30),
            ),
            Reason.NO_CONSENT,
        ),
    ),
    (
        "channel_cannot_initiate/messenger-human-agent-window-but-no-human",
        refused(
            ctx(
                channel=Channel.MESSENGER,
                purpose=Purpose.SERVICE,
                template=None,
                window=HUMAN_AGENT_ONLY,
                human_agent=False,
            ),
            Reason.CHANNEL_CANNOT_INITIATE,
            ("inbound_message",),
        ),
    ),
    (
        "channel_cannot_initiate/messenger-human-agent-after-7-days",
        refused(
            ctx(
                channel=Channel.MESSENGER,
                purpose=Purpose.SERVICE,
                template=None,
                window=HUMAN_AGENT_EXPIRED,
                human_agent=True,
            ),
            Reason.CHANNEL_CANNOT_INITIATE,
            ("inbound_message",),
        ),
    ),
    (
        "subscription_required/messenger-human-agent-tag-carries-no-marketing",
        refused(
            ctx(
                channel=Channel.MESSENGER,
                purpose=Purpose.MARKETING,
                template=None,
                window=HUMAN_AGENT_ONLY,
                human_agent=True,
            ),
            Reason.SUBSCRIPTION_REQUIRED,
            ("subscription:marketing",),
        ),
    ),
    (
        "window_closed/whatsapp-has-no-human-agent-extension",
        refused(
            ctx(
                purpose=Purpose.SERVICE,
                template=None,
                window=HUMAN_AGENT_ONLY,
                human_agent=True,
            ),
            Reason.WINDOW_CLOSED,
            ("template",),
        ),
    ),
    # ---------------------------------------------------------------- window_closed
    (
        "window_closed/whatsapp-service-reply-outside-window",
        refused(
            ctx(purpose=Purpose.SERVICE, template=None, window=CLOSED),
            Reason.WINDOW_CLOSED,
            ("template",),
        ),
    ),
    (
        "window_closed/service-window-ends-exactly-at-24h",
        refused(
            ctx(
                purpose=Purpose.SERVICE,
                template=None,
                window=WindowFacts(service_open_until=NOW),
            ),
            Reason.WINDOW_CLOSED,
            ("template",),
        ),
    ),
    (
        "window_closed/sms-service-reply-without-inbound",
        refused(
            ctx(channel=Channel.SMS, purpose=Purpose.SERVICE, template=None, window=CLOSED),
            Reason.WINDOW_CLOSED,
            ("inbound_message",),
        ),
    ),
    # ---------------------------------------------------------------- template_required
    (
        "template_required/whatsapp-marketing-free-form-outside-window",
        refused(
            ctx(template=None, window=CLOSED), Reason.TEMPLATE_REQUIRED, ("template:marketing",)
        ),
    ),
    (
        "template_required/whatsapp-utility-free-form-outside-window",
        refused(
            ctx(purpose=Purpose.UTILITY, template=None, consent=TRANSACTIONAL_OK),
            Reason.TEMPLATE_REQUIRED,
            ("template:utility",),
        ),
    ),
    (
        "template_required/whatsapp-authentication-free-form-even-inside-window",
        refused(
            ctx(
                purpose=Purpose.AUTHENTICATION,
                template=None,
                consent=TRANSACTIONAL_OK,
                window=OPEN,
            ),
            Reason.TEMPLATE_REQUIRED,
            ("template:authentication",),
        ),
    ),
    # ---------------------------------------------------------------- template_not_approved
    *[
        (
            f"template_not_approved/{status}",
            refused(
                ctx(template=replace(MARKETING_TEMPLATE, status=status)),
                Reason.TEMPLATE_NOT_APPROVED,
                ("template:approved",),
                detail_contains=status,
            ),
        )
        for status in ("pending", "paused", "rejected", "disabled")
    ],
    # ---------------------------------------------------------------- category_mismatch
    (
        "category_mismatch/marketing-template-for-utility-purpose",
        refused(
            ctx(purpose=Purpose.UTILITY, consent=TRANSACTIONAL_OK),
            Reason.CATEGORY_MISMATCH,
            ("template:utility",),
        ),
    ),
    (
        "category_mismatch/utility-template-for-authentication-purpose",
        refused(
            ctx(
                purpose=Purpose.AUTHENTICATION, template=UTILITY_TEMPLATE, consent=TRANSACTIONAL_OK
            ),
            Reason.CATEGORY_MISMATCH,
            ("template:authentication",),
        ),
    ),
    *[
        (
            f"category_mismatch/{template.category}-template-as-service-reply-in-window",
            refused(
                ctx(purpose=Purpose.SERVICE, template=template, window=OPEN),
                Reason.CATEGORY_MISMATCH,
                (),
                detail_contains=f"purpose '{template.category}'",
            ),
        )
        for template in (MARKETING_TEMPLATE, UTILITY_TEMPLATE, AUTH_TEMPLATE)
    ],
    (
        "category_mismatch/marketing-template-as-service-reply-outside-window",
        refused(ctx(purpose=Purpose.SERVICE), Reason.CATEGORY_MISMATCH, ()),
    ),
    # ---------------------------------------------------------------- no_consent
    (
        "no_consent/marketing-without-opt-in",
        refused(ctx(consent=NO_CONSENT), Reason.NO_CONSENT, ("consent:offers",)),
    ),
    (
        "no_consent/marketing-double-opt-in-pending",
        refused(
            ctx(consent=ConsentFacts(marketing=PENDING)),
            Reason.NO_CONSENT,
            ("consent:offers",),
            detail_contains="confirmation",
        ),
    ),
    (
        "no_consent/marketing-opt-in-does-not-cover-utility",
        refused(
            ctx(purpose=Purpose.UTILITY, template=UTILITY_TEMPLATE),
            Reason.NO_CONSENT,
            ("consent:transactional",),
        ),
    ),
    (
        "no_consent/sms-utility-without-transactional-basis",
        refused(
            ctx(channel=Channel.SMS, purpose=Purpose.UTILITY, template=None),
            Reason.NO_CONSENT,
            ("consent:transactional",),
        ),
    ),
    # ---------------------------------------------------------------- region_blocked
    (
        "region_blocked/us-marketing-template-on-whatsapp",
        refused(ctx(recipient=NEW_YORK), Reason.REGION_BLOCKED, ()),
    ),
    (
        "region_blocked/outranks-holdout-and-quality",
        refused(
            ctx(
                recipient=with_recipient(MIAMI, holdout_bucket=0),
                holdout=HoldoutFacts(global_control_percent=10.0),
                channel_state=ChannelFacts(quality=Quality.RED),
            ),
            Reason.REGION_BLOCKED,
        ),
    ),
    # ---------------------------------------------------------------- holdout
    (
        "holdout/global-control-bucket-inside-slice",
        refused(
            ctx(
                recipient=with_recipient(BERLIN, holdout_bucket=999),
                holdout=HoldoutFacts(global_control_percent=10.0),
            ),
            Reason.HOLDOUT,
            (),
            detail_contains="global control",
        ),
    ),
    (
        "holdout/campaign-control",
        refused(
            ctx(
                holdout=HoldoutFacts(
                    campaign_id="spring", campaign_holdout_percent=10.0, campaign_bucket=42
                )
            ),
            Reason.HOLDOUT,
            (),
            detail_contains="spring",
        ),
    ),
    (
        "holdout/campaign-control-applies-to-utility-campaigns-too",
        refused(
            ctx(
                purpose=Purpose.UTILITY,
                template=UTILITY_TEMPLATE,
                consent=TRANSACTIONAL_OK,
                holdout=HoldoutFacts(
                    campaign_id="renewals", campaign_holdout_percent=5.0, campaign_bucket=499
                ),
            ),
            Reason.HOLDOUT,
            detail_contains="renewals",
        ),
    ),
    # ---------------------------------------------------------------- quality_paused
    (
        "quality_paused/red-number-pauses-marketing",
        refused(ctx(channel_state=ChannelFacts(quality=Quality.RED)), Reason.QUALITY_PAUSED, ()),
    ),
    # ---------------------------------------------------------------- budget_exceeded
    (
        "budget_exceeded/cost-above-remaining-budget",
        refused(
            ctx(cost_estimate=Decimal("0.0614"), budget_remaining=Decimal("0.0613")),
            Reason.BUDGET_EXCEEDED,
            (),
        ),
    ),
    (
        "budget_exceeded/campaign-budget-spent-though-the-month-has-room",
        refused(
            ctx(
                cost_estimate=Decimal("0.0614"),
                budget_remaining=Decimal("100"),
                campaign_budget_remaining=Decimal("0.05"),
                holdout=HoldoutFacts(campaign_id="spring", campaign_bucket=9999),
            ),
            Reason.BUDGET_EXCEEDED,
            (),
            detail_contains="campaign spring",
        ),
    ),
    (
        "allowed/campaign-budget-exactly-enough",
        allowed(
            ctx(
                cost_estimate=Decimal("0.05"),
                campaign_budget_remaining=Decimal("0.05"),
                holdout=HoldoutFacts(campaign_id="spring", campaign_bucket=9999),
            )
        ),
    ),
    # ---------------------------------------------------------------- frequency_cap
    (
        "frequency_cap/florida-legal-limit-3-per-24h",
        refused(
            sms_marketing(MIAMI, recent_marketing=sends(NOW, 1, 12, 23.5)),
            Reason.FREQUENCY_CAP,
            (),
            detail_contains="US-FL legal limit",
        ),
    ),
    (
        "frequency_cap/florida-limit-counts-every-channel",
        refused(
            sms_marketing(
                MIAMI,
                recent_marketing=sends(NOW, 1, channel=Channel.EMAIL)
                + sends(NOW, 2, channel=Channel.WHATSAPP)
                + sends(NOW, 3, channel=Channel.SMS),
            ),
            Reason.FREQUENCY_CAP,
        ),
    ),
    (
        "frequency_cap/workspace-cap-per-channel",
        refused(
            ctx(
                caps=(FrequencyCap(1, timedelta(days=7), Channel.WHATSAPP, "weekly"),),
                recent_marketing=sends(NOW, 100, channel=Channel.WHATSAPP),
            ),
            Reason.FREQUENCY_CAP,
            detail_contains="weekly",
        ),
    ),
    (
        "frequency_cap/outranks-quiet-hours",
        refused(
            sms_marketing(
                MIAMI, NOW_2030_EASTERN, recent_marketing=sends(NOW_2030_EASTERN, 1, 2, 3)
            ),
            Reason.FREQUENCY_CAP,
        ),
    ),
    # ---------------------------------------------------------------- messaging_limit
    (
        "messaging_limit/deferred-until-a-slot-frees",
        deferred(
            ctx(channel_state=replace(AT_LIMIT, limit_frees_at=NOW + timedelta(hours=3))),
            Reason.MESSAGING_LIMIT,
            NOW + timedelta(hours=3),
        ),
    ),
    (
        "messaging_limit/refused-when-free-time-unknown",
        refused(ctx(channel_state=AT_LIMIT), Reason.MESSAGING_LIMIT, ()),
    ),
    (
        "messaging_limit/refused-when-free-time-already-past",
        refused(
            ctx(channel_state=replace(AT_LIMIT, limit_frees_at=NOW - timedelta(minutes=1))),
            Reason.MESSAGING_LIMIT,
        ),
    ),
    (
        "messaging_limit/applies-to-utility-templates",
        refused(
            ctx(
                purpose=Purpose.UTILITY,
                template=UTILITY_TEMPLATE,
                consent=TRANSACTIONAL_OK,
                channel_state=AT_LIMIT,
            ),
            Reason.MESSAGING_LIMIT,
        ),
    ),
    # ---------------------------------------------------------------- quiet_hours
    (
        "quiet_hours/florida-20:30-deferred-to-08:00",
        deferred(
            sms_marketing(MIAMI, NOW_2030_EASTERN),
            Reason.QUIET_HOURS,
            datetime(2026, 3, 11, 12, 0, tzinfo=UTC),
        ),
    ),
    (
        "quiet_hours/exactly-21:00-is-outside",
        deferred(
            sms_marketing(NEW_YORK, NOW_2030_EASTERN + timedelta(minutes=30)),
            Reason.QUIET_HOURS,
            datetime(2026, 3, 11, 12, 0, tzinfo=UTC),
        ),
    ),
    (
        "quiet_hours/honolulu-05:00-deferred-to-08:00",
        deferred(
            sms_marketing(HONOLULU),
            Reason.QUIET_HOURS,
            datetime(2026, 3, 10, 18, 0, tzinfo=UTC),
        ),
    ),
    (
        "quiet_hours/strictest-of-profile-and-phone-zones",
        deferred(
            ctx(recipient=with_recipient(BERLIN, timezones=("Europe/Berlin", "Pacific/Honolulu"))),
            Reason.QUIET_HOURS,
            datetime(2026, 3, 10, 18, 0, tzinfo=UTC),
        ),
    ),
    (
        "quiet_hours/france-no-sundays",
        deferred(
            ctx(recipient=PARIS, now=SUNDAY_MORNING_PARIS, quiet_hours=FR.quiet_hours),
            Reason.QUIET_HOURS,
            datetime(2026, 3, 16, 7, 0, tzinfo=UTC),
        ),
    ),
    # ---------------------------------------------------------------- precedence
    # When two rules object, the earlier check in CHECKS gives the answer.
    (
        "precedence/template-not-approved-before-category-mismatch",
        refused(
            ctx(
                purpose=Purpose.UTILITY,
                template=replace(MARKETING_TEMPLATE, status="paused"),
                consent=TRANSACTIONAL_OK,
            ),
            Reason.TEMPLATE_NOT_APPROVED,
        ),
    ),
    (
        "precedence/category-mismatch-before-no-consent",
        refused(ctx(purpose=Purpose.UTILITY, consent=NO_CONSENT), Reason.CATEGORY_MISMATCH),
    ),
    (
        "precedence/no-consent-before-region-blocked",
        refused(ctx(recipient=NEW_YORK, consent=NO_CONSENT), Reason.NO_CONSENT),
    ),
    (
        "precedence/holdout-before-quality-paused",
        refused(
            ctx(
                recipient=with_recipient(BERLIN, holdout_bucket=0),
                holdout=HoldoutFacts(global_control_percent=1.0),
                channel_state=ChannelFacts(quality=Quality.RED),
            ),
            Reason.HOLDOUT,
        ),
    ),
    (
        "precedence/quality-paused-before-budget",
        refused(
            ctx(
                channel_state=ChannelFacts(quality=Quality.RED),
                cost_estimate=Decimal(1),
                budget_remaining=Decimal(0),
            ),
            Reason.QUALITY_PAUSED,
        ),
    ),
    (
        "precedence/budget-before-frequency-cap",
        refused(
            sms_marketing(
                MIAMI,
                recent_marketing=sends(NOW, 1, 2, 3),
                cost_estimate=Decimal(1),
                budget_remaining=Decimal(0),
            ),
            Reason.BUDGET_EXCEEDED,
        ),
    ),
    (
        "precedence/frequency-cap-refuses-before-messaging-limit-defers",
        refused(
            ctx(
                caps=(FrequencyCap(1, timedelta(days=1)),),
                recent_marketing=sends(NOW, 1),
                channel_state=replace(AT_LIMIT, limit_frees_at=NOW + timedelta(hours=3)),
            ),
            Reason.FREQUENCY_CAP,
        ),
    ),
    (
        "precedence/messaging-limit-before-quiet-hours",
        deferred(
            ctx(
                recipient=TOKYO,
                channel_state=replace(AT_LIMIT, limit_frees_at=NOW + timedelta(hours=3)),
            ),
            Reason.MESSAGING_LIMIT,
            NOW + timedelta(hours=3),
        ),
    ),
    (
        "quiet_hours/tokyo-midnight-deferred-to-08:00-local",
        deferred(
            ctx(recipient=TOKYO), Reason.QUIET_HOURS, datetime(2026, 3, 10, 23, 0, tzinfo=UTC)
        ),
    ),
]


@pytest.mark.parametrize("row", [pytest.param(row, id=name) for name, row in CASES])
def test_decide(row: Row) -> None:
    decision = decide(row.ctx)

    assert (decision.outcome, decision.reason) == (row.outcome, row.reason), decision.detail
    if row.requires is not None:
        assert decision.requires == row.requires
    assert decision.defer_until == row.defer_until
    assert decision.cost_estimate == row.ctx.cost_estimate
    assert row.detail_contains in decision.detail
    assert decision.detail, "every decision explains itself"


def test_every_reason_is_reached_by_the_table() -> None:
    reached = {row.reason for _, row in CASES if row.reason is not None}
    assert reached == set(Reason)


def test_every_outcome_is_reached_by_the_table() -> None:
    assert {row.outcome for _, row in CASES} == set(Outcome)


def test_case_ids_are_unique() -> None:
    names = [name for name, _ in CASES]
    assert len(names) == len(set(names))


def test_florida_is_stricter_than_the_default_at_the_same_instant() -> None:
    """The same SMS at 20:30 Eastern: a New York number gets it, a Florida number waits."""
    assert FL.quiet_hours.end < NY.quiet_hours.end
    florida = decide(sms_marketing(MIAMI, NOW_2030_EASTERN))
    new_york = decide(sms_marketing(NEW_YORK, NOW_2030_EASTERN))
    assert florida.outcome is Outcome.DEFERRED
    assert new_york.outcome is Outcome.ALLOWED


def test_florida_cap_allows_the_third_and_stops_the_fourth() -> None:
    base = sms_marketing(MIAMI)
    counts: list[Outcome] = []
    history: tuple[RecentSend, ...] = ()
    for attempt in range(5):
        decision = decide(replace(base, recent_marketing=history))
        counts.append(decision.outcome)
        if decision.allowed:
            history += sends(NOW, 5 - attempt)
    assert counts[:3] == [Outcome.ALLOWED] * 3
    assert counts[3:] == [Outcome.REFUSED] * 2


def test_deferred_quiet_hours_send_goes_out_at_defer_until() -> None:
    context = sms_marketing(MIAMI, NOW_2030_EASTERN)
    first = decide(context)
    assert first.defer_until is not None
    assert decide(replace(context, now=first.defer_until)).outcome is Outcome.ALLOWED
    just_before = first.defer_until - timedelta(seconds=1)
    assert decide(replace(context, now=just_before)).reason is Reason.QUIET_HOURS
