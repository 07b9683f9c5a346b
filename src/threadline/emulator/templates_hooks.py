"""The emulated platform's template webhooks (`message_template_status_update`,
`template_category_update`, `message_template_quality_update`), posted signed to the WABA's
callback URL in the order they happened, and the history kept of each template."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from threadline.emulator.hooks import envelope
from threadline.emulator.runtime import Runtime
from threadline.emulator.state import TemplateDef

HOOK_SPACING = 0.1  # seconds between template webhooks, so they arrive in order


def emit(rt: Runtime, waba_id: str, field_name: str, value: dict[str, Any], at: datetime) -> None:
    """Post one template webhook to the WABA's callback, after any earlier one."""
    number = next(
        (n for n in rt.state.numbers.values() if n.waba_id == waba_id and n.callback_url), None
    )
    if number is None:
        return
    wall = time.monotonic()
    due = max(wall, rt.state.template_hooks_due)
    rt.state.template_hooks_due = due + HOOK_SPACING
    rt.hooks.schedule(number, envelope(number, field_name, value, at), due - wall)


def ids(template: TemplateDef) -> dict[str, Any]:
    return {
        "message_template_id": int(template.id) if template.id.isdigit() else template.id,
        "message_template_name": template.name,
        "message_template_language": template.language,
    }


def record(template: TemplateDef, at: datetime, event: str, **detail: Any) -> None:
    template.history.append({"at": at.isoformat(), "event": event, **detail})


def set_status(
    rt: Runtime,
    template: TemplateDef,
    status: str,
    at: datetime,
    reason: str = "NONE",
    **extra: Any,
) -> None:
    template.status = status
    record(template, at, status, reason=reason, **extra)
    value = {
        "event": status,
        **ids(template),
        "reason": reason,
        "message_template_category": template.category,
        **extra,
    }
    emit(rt, template.waba_id, "message_template_status_update", value, at)
