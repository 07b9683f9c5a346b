"""`decide(context) -> Decision`: the one place where a channel's rules are applied.

Each check looks at one rule and returns a Decision when that rule stops the send. The
order is the precedence: an opt-out outranks everything; quiet hours come last because they
only delay a message that every other rule already lets through.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from threadline.channels.rules import Basis, ChannelRules, Outreach
from threadline.policy.holdout import in_slice
from threadline.policy.quiet_hours import next_allowed
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


def _span(span: timedelta) -> str:
    whole_days = span >= timedelta(days=2) and not span % timedelta(days=1)
    return f"{span.days} days" if whole_days else f"{span // timedelta(hours=1)} h"


def _window_name(rules: ChannelRules) -> str:
    span = rules.service_window
    return f"the {_span(span)} window" if span is not None else "the conversation"


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


def free_form_basis(
    window: WindowFacts,
    rules: ChannelRules,
    now: datetime,
    *,
    purpose: Purpose = Purpose.SERVICE,
    human_agent: bool = False,
) -> Basis | None:
    """The window that lets a free-form message go now, if any: the service window, the
    free window an ad opened, or a human agent's reply within the type's human-agent window."""
    if window.service_open(now):
        return Basis.SERVICE_WINDOW
    if window.entry_point_open(now):
        return Basis.AD_WINDOW
    # The HUMAN_AGENT tag may carry no promotional content, and a bot is no human agent.
    if (
        human_agent
        and purpose is not Purpose.MARKETING
        and rules.human_agent_window is not None
        and window.human_agent_open(now)
    ):
        return Basis.HUMAN_AGENT
    return None


def free_form_allowed(
    window: WindowFacts,
    rules: ChannelRules,
    now: datetime,
    *,
    purpose: Purpose = Purpose.SERVICE,
    human_agent: bool = False,
) -> bool:
    """Free-form messages may go now. (Flows ask this to choose between their text and their
    template.)"""
    basis = free_form_basis(window, rules, now, purpose=purpose, human_agent=human_agent)
    return basis is not None


def template_instead(free_form_open: bool, rules: ChannelRules) -> bool:
    """A flow's fallback template goes instead of its text: no free window is open and the
    type writes outside the window with templates (elsewhere a template would not help)."""
    return not free_form_open and Outreach.TEMPLATE in rules.outreach


def _private_reply_closed(ctx: SendContext) -> str | None:
    """Why the comment this send answers can no longer be answered in private (None: it can)."""
    comment, span = ctx.comment, ctx.rules.private_reply_window
    if comment is None:
        return None
    if span is None:
        return f"{ctx.channel} has no private replies to comments"
    if ctx.purpose is Purpose.MARKETING:
        return "a private reply answers the comment: it cannot carry marketing"
    if comment.answered:
        return f"comment {comment.comment_id} already has its one private reply"
    if ctx.now >= comment.commented_at + span:
        return f"comment {comment.comment_id} is older than {_span(span)}"
    return None


def _free_window(ctx: SendContext) -> Basis | None:
    if ctx.comment is not None:
        # Addressed to the comment, not to the thread: only the comment's own rule applies.
        return None if _private_reply_closed(ctx) else Basis.PRIVATE_REPLY
    return free_form_basis(
        ctx.window, ctx.rules, ctx.now, purpose=ctx.purpose, human_agent=ctx.human_agent
    )


def check_private_reply(ctx: SendContext) -> Decision | None:
    why = _private_reply_closed(ctx)
    if why is None:
        return None
    return _refuse(ctx, Reason.PRIVATE_REPLY_CLOSED, why, "inbound_message")


def send_basis(ctx: SendContext) -> Basis | None:
    """Why this send may go, ignoring consent and pressure: a template where the type takes
    them, else an open window, else the type's outreach outside every window. None: no way."""
    outreach = ctx.rules.outreach
    if ctx.comment is not None:
        return _free_window(ctx)
    if ctx.template is not None and Outreach.TEMPLATE in outreach:
        return Basis.TEMPLATE
    window = _free_window(ctx)
    if window is not None:
        return window
    if ctx.purpose is Purpose.SERVICE:
        return None  # a reply needs the person's own message to answer
    if ctx.purpose is Purpose.MARKETING and Outreach.SUBSCRIPTION in outreach and ctx.subscribed():
        return Basis.SUBSCRIPTION
    if Outreach.CONSENT in outreach:
        return Basis.CONSENT
    return None


def _outreach_covers(ctx: SendContext) -> bool:
    """The type offers some way to send this purpose outside every window (whether or not
    this send has it ready: a later check names what is missing)."""
    outreach = ctx.rules.outreach
    return (
        Outreach.TEMPLATE in outreach
        or (Outreach.SUBSCRIPTION in outreach and ctx.purpose is Purpose.MARKETING)
        or (Outreach.CONSENT in outreach and ctx.purpose is not Purpose.SERVICE)
    )


def check_channel_can_initiate(ctx: SendContext) -> Decision | None:
    rules = ctx.rules
    if not rules.customer_must_start or _free_window(ctx) is not None or _outreach_covers(ctx):
        return None
    if rules.service_window is None:
        # No reply deadline: nothing is open only because the customer never started.
        return _refuse(
            ctx, Reason.CHANNEL_CANNOT_INITIATE, f"{ctx.channel}: only the customer starts a chat"
        )
    agent = rules.human_agent_window
    extension = f" (a human agent may reply for {_span(agent)})" if agent is not None else ""
    return _refuse(
        ctx,
        Reason.CHANNEL_CANNOT_INITIATE,
        f"{ctx.channel}: {_window_name(rules)} is closed{extension}",
        "inbound_message",
    )


def check_window(ctx: SendContext) -> Decision | None:
    rules = ctx.rules
    if ctx.template is not None and Outreach.TEMPLATE in rules.outreach:
        return None
    if rules.authentication_needs_template and ctx.purpose is Purpose.AUTHENTICATION:
        return _refuse(
            ctx,
            Reason.TEMPLATE_REQUIRED,
            f"{ctx.channel}: one-time codes must use an authentication template",
            "template:authentication",
        )
    if ctx.purpose is Purpose.SERVICE and _free_window(ctx) is None:
        requires = "template" if Outreach.TEMPLATE in rules.outreach else "inbound_message"
        span = rules.service_window
        since = f"written in the last {_span(span)}" if span else "started a conversation"
        return _refuse(
            ctx,
            Reason.WINDOW_CLOSED,
            f"no customer-service window is open: the contact has not {since}",
            requires,
        )
    return None


def check_outreach(ctx: SendContext) -> Decision | None:
    """Outside every window a send goes only by the type's outreach; name what is missing."""
    if send_basis(ctx) is not None:
        return None
    rules = ctx.rules
    window = _window_name(rules)
    if Outreach.TEMPLATE in rules.outreach:
        return _refuse(
            ctx,
            Reason.TEMPLATE_REQUIRED,
            f"outside {window} {ctx.channel} accepts only approved templates",
            f"template:{ctx.purpose}",
        )
    if ctx.purpose is Purpose.MARKETING and Outreach.SUBSCRIPTION in rules.outreach:
        return _refuse(
            ctx,
            Reason.SUBSCRIPTION_REQUIRED,
            f"outside {window} {ctx.channel} takes marketing only on the contact's "
            "marketing-messages subscription, and none is live",
            "subscription:marketing",
        )
    # Only reached by a type that declares neither a customer-started rule nor an outreach
    # covering this purpose: nothing may go outside the window.
    return _refuse(
        ctx,
        Reason.WINDOW_CLOSED,
        f"outside {window} {ctx.channel} offers no way to write first",
        "inbound_message",
    )


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
    if ctx.purpose is not Purpose.MARKETING:
        return None
    why = ctx.rules.marketing_blocked(ctx.recipient.region)
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
        ctx.rules.quality_pauses_marketing
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
        not ctx.rules.messaging_limit
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
    check_private_reply,
    check_channel_can_initiate,
    check_window,
    check_outreach,
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
    basis = send_basis(ctx)
    # check_outreach refuses every send without a basis, so one is always found here.
    assert basis is not None
    return Decision(
        outcome=Outcome.ALLOWED,
        detail=_allowed_detail(ctx, basis),
        cost_estimate=ctx.cost_estimate,
        basis=basis,
    )


def _allowed_detail(ctx: SendContext, basis: Basis) -> str:
    if basis is Basis.TEMPLATE and ctx.template is not None:
        return f"approved {ctx.template.category} template '{ctx.template.name}'"
    if basis is Basis.SERVICE_WINDOW:
        return "inside the customer-service window"
    if basis is Basis.AD_WINDOW:
        return "inside the free window the contact's ad entry opened"
    if basis is Basis.HUMAN_AGENT:
        return "a human agent's reply within the human-agent window"
    if basis is Basis.SUBSCRIPTION and ctx.subscription_until is not None:
        return (
            f"marketing on the contact's subscription, live until "
            f"{ctx.subscription_until.isoformat()}"
        )
    return f"{ctx.purpose} message on {ctx.channel} with recorded consent"
