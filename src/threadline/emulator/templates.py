"""Template lifecycle on the emulated platform.

Creation through `POST /{waba_id}/message_templates` with the platform's validation
(`templates_validation`), review by rules once the emulator clock passes the review delay
(`templates_review`), quality feedback that pauses (3 h, then 6 h) and finally disables a
template, edits with the platform's edit limits, deletion, and the three template webhooks
(`templates_hooks`) posted signed to the WABA's callback URL.

Nothing here runs on its own: `advance()` does whatever the emulator clock has made due, and
the routes that can observe a template (clock advance, template routes, sends) call it first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from threadline.emulator.runtime import Runtime
from threadline.emulator.state import EmulatorState, Refusal, TemplateDef, WabaTemplates
from threadline.emulator.templates_hooks import emit, ids, record, set_status
from threadline.emulator.templates_review import review
from threadline.emulator.templates_validation import (
    CATEGORIES,
    invalid,
    validate,
    validate_components,
)

QUALITIES = ("GREEN", "YELLOW", "RED")
EDITABLE = ("APPROVED", "REJECTED", "PAUSED")
CREATIONS_PER_HOUR = 100
EDITS_PER_30_DAYS = 10
EDIT_GAP = timedelta(hours=24)
EDIT_WINDOW = timedelta(days=30)
NAME_REUSE_AFTER_DELETE = timedelta(days=30)
PAUSE_HOURS = (3, 6)  # the third pause disables the template


def _waba(state: EmulatorState, waba_id: str) -> WabaTemplates:
    return state.wabas[waba_id]


def create(rt: Runtime, waba_id: str, body: Any) -> TemplateDef:
    state = rt.state
    now = state.now()
    submission = validate(body)
    if state.template(waba_id, submission.name, submission.language) is not None:
        raise invalid(
            "name",
            f"a template named {submission.name!r} already exists in {submission.language}",
        )
    waba = _waba(state, waba_id)
    deleted_at = waba.deleted_names.get(submission.name)
    if deleted_at is not None and now - deleted_at < NAME_REUSE_AFTER_DELETE:
        raise invalid(
            "name", f"{submission.name!r} was deleted less than 30 days ago and cannot be reused"
        )
    while waba.created and now - waba.created[0] >= timedelta(hours=1):
        waba.created.popleft()
    if len(waba.created) >= CREATIONS_PER_HOUR:
        raise Refusal(
            80007,
            f"(#80007) Rate limit hit: at most {CREATIONS_PER_HOUR} message templates "
            "can be created per hour in a WhatsApp Business Account",
            state.throttle_http_status,
        )
    waba.created.append(now)
    content = submission.content
    template = TemplateDef(
        id=state.new_template_id(),
        waba_id=waba_id,
        name=submission.name,
        language=submission.language,
        category=submission.category,
        status="PENDING",
        body=content.body,
        header=content.header,
        buttons=content.buttons,
        components=content.components,
        parameter_format=submission.parameter_format,
        review_due=now + timedelta(seconds=waba.review_delay),
    )
    record(template, now, "PENDING", category=template.category)
    state.templates[template.id] = template
    return template


def feedback(rt: Runtime, template: TemplateDef, quality: str) -> None:
    """A new quality assessment: a change emits message_template_quality_update; RED on an
    approved template pauses it (3 h, then 6 h) and the third time disables it."""
    at = rt.state.now()
    previous = template.quality
    if quality != previous:
        template.quality = quality
        record(template, at, "QUALITY", previous=previous, new=quality)
        value = {
            "previous_quality_score": previous,
            "new_quality_score": quality,
            **ids(template),
        }
        emit(rt, template.waba_id, "message_template_quality_update", value, at)
    if quality != "RED" or template.status != "APPROVED":
        return
    template.pause_count += 1
    if template.pause_count > len(PAUSE_HOURS):
        template.paused_until = None
        set_status(
            rt,
            template,
            "DISABLED",
            at,
            disable_info={"disable_date": int(at.timestamp())},
            other_info={
                "title": "DISABLED",
                "description": "Your WhatsApp message template has been disabled because "
                "it continued to receive negative feedback.",
            },
        )
        return
    hours = PAUSE_HOURS[template.pause_count - 1]
    template.paused_until = at + timedelta(hours=hours)
    title = "FIRST_PAUSE" if template.pause_count == 1 else "SECOND_PAUSE"
    until = template.paused_until.strftime("%b %d, %Y at %H:%M UTC")
    set_status(
        rt,
        template,
        "PAUSED",
        at,
        other_info={
            "title": title,
            "description": f"Your WhatsApp message template has been paused for {hours} hours "
            f"until {until} because it continued to have issues.",
        },
    )


def _unpause(rt: Runtime, template: TemplateDef, at: datetime) -> None:
    template.paused_until = None
    set_status(
        rt,
        template,
        "APPROVED",
        at,
        other_info={
            "title": "UNPAUSE",
            "description": "Your WhatsApp message template has been unpaused.",
        },
    )


def advance(rt: Runtime) -> int:
    """Everything the emulator clock has made due, in the order it fell due: reviews of
    PENDING templates and the ends of pauses. Returns how many happened."""
    now = rt.state.now()
    due: list[tuple[datetime, str, TemplateDef]] = []
    for template in rt.state.templates.values():
        if template.status == "PENDING" and template.review_due and template.review_due <= now:
            due.append((template.review_due, template.id, template))
        elif template.status == "PAUSED" and template.paused_until and template.paused_until <= now:
            due.append((template.paused_until, template.id, template))
    for at, _, template in sorted(due, key=lambda d: (d[0], d[1])):
        if template.status == "PENDING":
            review(rt, template, at)
        else:
            _unpause(rt, template, at)
    return len(due)


def review_now(rt: Runtime, waba_id: str | None = None) -> list[TemplateDef]:
    """Review every PENDING template (of one WABA, or all) at once."""
    now = rt.state.now()
    pending = [
        t
        for t in rt.state.templates.values()
        if t.status == "PENDING" and (waba_id is None or t.waba_id == waba_id)
    ]
    for template in pending:
        review(rt, template, now)
    return pending


def edit(rt: Runtime, template: TemplateDef, body: Any) -> None:
    """`POST /{template_id}`: new components and/or category, then review again."""
    state = rt.state
    now = state.now()
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    unknown = sorted(set(body) - {"category", "components"})
    if unknown:
        raise invalid(unknown[0], "cannot be edited")
    if not body:
        raise invalid("components", "give components and/or category to edit")
    if template.status not in EDITABLE:
        raise invalid(
            "status",
            f"only {', '.join(EDITABLE)} templates can be edited (this one is {template.status})",
        )
    category = body.get("category", template.category)
    if category not in CATEGORIES:
        raise invalid("category", f"must be one of {', '.join(CATEGORIES)}")
    if "components" in body:
        content = validate_components(body["components"], category, template.parameter_format)
    elif "AUTHENTICATION" in (category, template.category) and category != template.category:
        raise invalid("components", "are required to change to or from AUTHENTICATION")
    else:
        content = validate_components(
            [dict(c) for c in template.components] or [{"type": "BODY", "text": template.body}],
            category,
            template.parameter_format,
        )
    if template.status == "APPROVED":
        recent = [e for e in template.edits if now - e < EDIT_WINDOW]
        if len(recent) >= EDITS_PER_30_DAYS:
            raise invalid(
                "edit limit",
                f"an approved template can be edited {EDITS_PER_30_DAYS} times in 30 days",
            )
        if recent and now - recent[-1] < EDIT_GAP:
            raise invalid("edit limit", "an approved template can be edited once in 24 hours")
        template.edits = [*recent, now]
    template.category = category
    template.components = content.components
    template.body, template.header, template.buttons = (
        content.body,
        content.header,
        content.buttons,
    )
    template.paused_until = None
    template.review_due = now + timedelta(seconds=_waba(state, template.waba_id).review_delay)
    record(template, now, "EDITED", category=category)
    set_status(rt, template, "PENDING", now)


def delete(rt: Runtime, waba_id: str, name: str | None, hsm_id: str | None) -> int:
    """`DELETE /{waba_id}/message_templates?name=…[&hsm_id=…]`: every language of the name,
    or the one template with that id. A deleted approved name is kept from reuse 30 days."""
    state = rt.state
    if not name:
        raise invalid("name", "is required")
    doomed = [
        t
        for t in state.templates.values()
        if t.waba_id == waba_id and t.name == name and (hsm_id is None or t.id == hsm_id)
    ]
    if not doomed:
        raise invalid("name", f"no message template named {name!r}")
    for template in doomed:
        del state.templates[template.id]
        if template.status in ("APPROVED", "PAUSED", "DISABLED"):
            _waba(state, waba_id).deleted_names[name] = state.now()
    return len(doomed)


def describe(template: TemplateDef, *, full: bool = False) -> dict[str, Any]:
    """A template as the Graph API lists it (and, with `full`, its emulator bookkeeping)."""
    components = template.components or [{"type": "BODY", "text": template.body}]
    data: dict[str, Any] = {
        "id": template.id,
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "status": template.status,
        "parameter_format": template.parameter_format,
        "components": components,
        "quality_score": {"score": template.quality},
    }
    if template.rejection_reason:
        data["rejected_reason"] = template.rejection_reason
    if full:
        data.update(
            waba_id=template.waba_id,
            pause_count=template.pause_count,
            paused_until=template.paused_until.isoformat() if template.paused_until else None,
            review_due=template.review_due.isoformat() if template.review_due else None,
            edits=[e.isoformat() for e in template.edits],
            history=template.history,
        )
    return data
