"""`decide(context) -> Decision`: the one place where a channel's rules are applied.

Each check looks at one rule and returns a Decision when that rule stops the send. The
order is the precedence: an opt-out outranks everything; quiet hours come last because they
only delay a message that every other rule already lets through.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from threadline.channels.kinds import Channel
from threadline.policy.holdout import in_slice
from threadline.policy.quiet_hours import next_allowed
from threadline.policy.rules import whatsapp_marketing_blocked
from threadline.policy.types import (
    TRANSACTIONAL_PURPOSES,
    ConsentStatus,
    Decision,
    Outcome,
    Purpose,
    Quality,
    Reason,
    SendContext,
    TemplateCategory,
    WindowFacts,
)

Check = Callable[[SendContext], Decision | None]

# Channels where only the customer can open a conversation.
_USER_INITIATED_ONLY = frozenset({Channel.MESSENGER, Channel.INSTAGRAM, Channel.APPLE})

_CATEGORY_FOR_PURPOSE = {
    Purpose.MARKETING: TemplateCategory.MARKETING,
    Purpose.UTILITY: TemplateCategory.UTILITY,
    Purpose.AUTHENTICATION: TemplateCategory.AUTHENTICATION,
}


def _refuse(ctx: SendContext, reason: Reason, detail: str, *requires: str) -> Decision:
    return Decision(
        outcome=Outcome.REFUSED,
        reason=reason,
        detail=detail,
        requires=requires,
        cost_estimate=ctx.cost_estimate,
    )


def _defer(ctx: SendContext, reason: Reason, detail: str, until: datetime) -> Decision:
    return Decision(
        outcome=Outcome.DEFERRED,
        reason=reason,
        detail=detail,
        cost_estimate=ctx.cost_estimate,
        defer_until=until,
    )


def check_opt_out(ctx: SendContext) -> Decision | None:
    # A reply to the person's own message is not outreach (it is also how an opt-out is
    # confirmed), so service messages are the one purpose an opt-out does not stop.
    if ctx.purpose is Purpose.MARKETING and ctx.consent.marketing is ConsentStatus.REVOKED:
        return _refuse(
            ctx, Reason.OPTED_OUT, f"contact opted out of '{ctx.topic}' on {ctx.channel}"
        )
    if ctx.purpose in TRANSACTIONAL_PURPOSES and ctx.consent.transactional is ConsentStatus.REVOKED:
        return _refuse(ctx, Reason.OPTED_OUT, f"contact opted out of all messages on {ctx.channel}")
    return None


def free_form_allowed(
    window: WindowFacts,
    channel: Channel,
    now: datetime,
    *,
    purpose: Purpose = Purpose.SERVICE,
    human_agent: bool = False,
) -> bool:
    """Free-form messages may go: a service or entry-point window is open, or a human agent
    answers within the Messenger/Instagram human-agent extension. (Flows ask this to choose
    between their text and their template.)"""
    if window.any_free_window_open(now):
        return True
    # The HUMAN_AGENT tag may carry no promotional content.
    return (
        human_agent
        and purpose is not Purpose.MARKETING
        and channel in (Channel.MESSENGER, Channel.INSTAGRAM)
        and window.human_agent_open(now)
    )


def _window_open(ctx: SendContext) -> bool:
    return free_form_allowed(
        ctx.window, ctx.channel, ctx.now, purpose=ctx.purpose, human_agent=ctx.human_agent
    )


def check_channel_can_initiate(ctx: SendContext) -> Decision | None:
    if ctx.channel not in _USER_INITIATED_ONLY or _window_open(ctx):
        return None
    if ctx.channel is Channel.APPLE:
        return _refuse(
            ctx, Reason.CHANNEL_CANNOT_INITIATE, "Apple Messages: only the customer starts a chat"
        )
    return _refuse(
        ctx,
        Reason.CHANNEL_CANNOT_INITIATE,
        f"{ctx.channel}: the 24 h window is closed (a human agent may reply for 7 days)",
        "inbound_message",
    )


def check_window(ctx: SendContext) -> Decision | None:
    if ctx.template is not None and ctx.channel is Channel.WHATSAPP:
        return None
    if ctx.channel is Channel.WHATSAPP and ctx.purpose is Purpose.AUTHENTICATION:
        return _refuse(
            ctx,
            Reason.TEMPLATE_REQUIRED,
            "WhatsApp one-time codes must use an authentication template",
            "template:authentication",
        )
    window_open = _window_open(ctx)
    if ctx.purpose is Purpose.SERVICE and not window_open:
        requires = ("template",) if ctx.channel is Channel.WHATSAPP else ("inbound_message",)
        return _refuse(
            ctx,
            Reason.WINDOW_CLOSED,
            "no customer-service window is open: the contact has not written in the last 24 h",
            *requires,
        )
    if ctx.channel is Channel.WHATSAPP and not window_open:
        return _refuse(
            ctx,
            Reason.TEMPLATE_REQUIRED,
            "outside the 24 h window WhatsApp accepts only approved templates",
            f"template:{ctx.purpose}",
        )
    return None


def check_template_status(ctx: SendContext) -> Decision | None:
    if ctx.template is None or ctx.template.status == "approved":
        return None
    return _refuse(
        ctx,
        Reason.TEMPLATE_NOT_APPROVED,
        f"template '{ctx.template.name}' is {ctx.template.status}, not approved",
        "template:approved",
    )


def check_template_category(ctx: SendContext) -> Decision | None:
    if ctx.template is None:
        return None
    expected = _CATEGORY_FOR_PURPOSE.get(ctx.purpose)
    if expected is None:
        return _refuse(
            ctx,
            Reason.CATEGORY_MISMATCH,
            f"service replies are free-form; template '{ctx.template.name}' makes this a "
            f"{ctx.template.category} message: send it with purpose '{ctx.template.category}'",
        )
    if ctx.template.category is not expected:
        return _refuse(
            ctx,
            Reason.CATEGORY_MISMATCH,
            f"template '{ctx.template.name}' is {ctx.template.category}, purpose is {ctx.purpose}",
            f"template:{expected}",
        )
    return None


def check_consent(ctx: SendContext) -> Decision | None:
    if ctx.purpose is Purpose.MARKETING and ctx.consent.marketing is not ConsentStatus.GRANTED:
        pending = ctx.consent.marketing is ConsentStatus.PENDING
        detail = (
            f"opt-in to '{ctx.topic}' on {ctx.channel} awaits the contact's confirmation"
            if pending
            else f"no recorded opt-in to '{ctx.topic}' on {ctx.channel}"
        )
        return _refuse(ctx, Reason.NO_CONSENT, detail, "consent:" + ctx.topic)
    if (
        ctx.purpose in TRANSACTIONAL_PURPOSES
        and ctx.consent.transactional is not ConsentStatus.GRANTED
        and not ctx.window.any_free_window_open(ctx.now)
    ):
        return _refuse(
            ctx,
            Reason.NO_CONSENT,
            f"no transactional basis recorded on {ctx.channel} and no open window",
            "consent:transactional",
        )
    return None


def check_region(ctx: SendContext) -> Decision | None:
    if ctx.channel is not Channel.WHATSAPP or ctx.purpose is not Purpose.MARKETING:
        return None
    why = whatsapp_marketing_blocked(ctx.recipient.region)
    if why is None:
        return None
    return _refuse(ctx, Reason.REGION_BLOCKED, why)


def check_holdout(ctx: SendContext) -> Decision | None:
    holdout = ctx.holdout
    if ctx.purpose is Purpose.MARKETING and in_slice(
        ctx.recipient.holdout_bucket, holdout.global_control_percent
    ):
        return _refuse(ctx, Reason.HOLDOUT, "contact is in the global control group")
    if holdout.campaign_id and in_slice(holdout.campaign_bucket, holdout.campaign_holdout_percent):
        return _refuse(
            ctx, Reason.HOLDOUT, f"contact is in the control group of {holdout.campaign_id}"
        )
    return None


def check_quality(ctx: SendContext) -> Decision | None:
    if (
        ctx.channel is Channel.WHATSAPP
        and ctx.purpose is Purpose.MARKETING
        and ctx.channel_state.quality is Quality.RED
    ):
        return _refuse(
            ctx, Reason.QUALITY_PAUSED, "the sending number's quality is RED: marketing paused"
        )
    return None


def check_budget(ctx: SendContext) -> Decision | None:
    if ctx.cost_estimate is None:
        return None
    if ctx.budget_remaining is not None and ctx.cost_estimate > ctx.budget_remaining:
        return _refuse(
            ctx,
            Reason.BUDGET_EXCEEDED,
            f"estimated cost {ctx.cost_estimate} exceeds the remaining monthly budget "
            f"{ctx.budget_remaining}",
        )
    remaining = ctx.campaign_budget_remaining
    if remaining is not None and ctx.cost_estimate > remaining:
        return _refuse(
            ctx,
            Reason.BUDGET_EXCEEDED,
            f"estimated cost {ctx.cost_estimate} exceeds what is left of campaign "
            f"{ctx.holdout.campaign_id}'s budget ({remaining})",
        )
    return None


def check_frequency(ctx: SendContext) -> Decision | None:
    if ctx.purpose is not Purpose.MARKETING:
        return None
    for cap in ctx.caps:
        since = ctx.now - cap.window
        sent = sum(
            1
            for send in ctx.recent_marketing
            if since < send.sent_at <= ctx.now
            and (cap.channel is None or send.channel is cap.channel)
        )
        if sent >= cap.max_messages:
            scope = cap.channel.value if cap.channel else "all channels"
            label = f" ({cap.label})" if cap.label else ""
            return _refuse(
                ctx,
                Reason.FREQUENCY_CAP,
                f"{sent} marketing messages on {scope} in the last {cap.window}; "
                f"cap is {cap.max_messages}{label}",
            )
    return None


def check_messaging_limit(ctx: SendContext) -> Decision | None:
    state = ctx.channel_state
    if (
        ctx.channel is not Channel.WHATSAPP
        or ctx.window.any_free_window_open(ctx.now)
        or state.messaging_limit is None
        or state.recipient_already_counted
        or state.recipients_24h < state.messaging_limit
    ):
        return None
    detail = (
        f"{state.recipients_24h} unique recipients outside windows in 24 h; "
        f"the number's limit is {state.messaging_limit}"
    )
    if state.limit_frees_at is not None and state.limit_frees_at > ctx.now:
        return _defer(ctx, Reason.MESSAGING_LIMIT, detail, state.limit_frees_at)
    return _refuse(ctx, Reason.MESSAGING_LIMIT, detail)


def check_quiet_hours(ctx: SendContext) -> Decision | None:
    if ctx.purpose is not Purpose.MARKETING:
        return None
    until = next_allowed(ctx.quiet_hours, ctx.now, ctx.recipient.timezones)
    if until is None:
        return None
    hours = ctx.quiet_hours
    return _defer(
        ctx,
        Reason.QUIET_HOURS,
        f"outside {hours.start:%H:%M}-{hours.end:%H:%M} in {', '.join(ctx.recipient.timezones)}",
        until,
    )


CHECKS: tuple[Check, ...] = (
    check_opt_out,
    check_channel_can_initiate,
    check_window,
    check_template_status,
    check_template_category,
    check_consent,
    check_region,
    check_holdout,
    check_quality,
    check_budget,
    check_frequency,
    check_messaging_limit,
    check_quiet_hours,
)


def decide(ctx: SendContext) -> Decision:
    for check in CHECKS:
        verdict = check(ctx)
        if verdict is not None:
            return verdict
    return Decision(
        outcome=Outcome.ALLOWED, detail=_allowed_detail(ctx), cost_estimate=ctx.cost_estimate
    )


def _allowed_detail(ctx: SendContext) -> str:
    if ctx.template is not None:
        return f"approved {ctx.template.category} template '{ctx.template.name}'"
    if ctx.window.any_free_window_open(ctx.now):
        return "inside the customer-service window"
    return f"{ctx.purpose} message on {ctx.channel}"
