"""`{{...}}` placeholders in flow text and `branch` conditions, evaluated on a state."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from threadline.channels.choices import plain
from threadline.flows.format import Condition
from threadline.flows.state import FlowState

_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][\w.]*)\s*\}\}")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def lookup(state: FlowState, dotted: str) -> Any:
    """`contact.name`, `contact.<field>`, `answers.<name>[.<key>...]`, `params.<name>`,
    `score`; None when absent."""
    head, _, rest = dotted.partition(".")
    value: Any
    if head == "contact":
        if rest == "name":
            return state.contact.name or None
        value = state.contact.fields
    elif head == "answers":
        value = state.answers
    elif head == "params":
        value = state.params
    elif head == "score" and not rest:
        return state.score
    else:
        return None
    return dig(value, rest) if rest else value


def dig(value: Any, dotted: str) -> Any:
    """`a.b.0.c` inside nested dicts and lists; None where the path leads nowhere."""
    for part in dotted.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _secret(name: str) -> bool:
    # Secrets are filled in by the worker at the moment of a webhook call, never here: what
    # the engine produces is stored (state state, pending calls) and must not hold them.
    return name.startswith("secrets.")


def interpolate(text: str, state: FlowState) -> str:
    return _PLACEHOLDER.sub(
        lambda m: m.group(0) if _secret(m.group(1)) else _shown(lookup(state, m.group(1))), text
    )


def interpolate_value(value: Any, state: FlowState) -> Any:
    """Placeholders in a structure (webhook bodies, set values). A string that is exactly one
    placeholder keeps the value's type."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value.strip())
        if whole and not _secret(whole.group(1)):
            return lookup(state, whole.group(1))
        return interpolate(value, state)
    if isinstance(value, dict):
        return {k: interpolate_value(v, state) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_value(v, state) for v in value]
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return plain(a) == plain(b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, str | int | float) and isinstance(b, str | int | float):
        return plain(str(a)) == plain(str(b))  # choice id "1" and YAML's 1 are the same answer
    return bool(a == b)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def _value_test(condition: Condition, value: Any) -> bool:
    if condition.exists is not None and (value is not None) != condition.exists:
        return False
    if condition.equals is not None and not _same(value, condition.equals):
        return False
    if condition.one_of is not None and not any(_same(value, v) for v in condition.one_of):
        return False
    if condition.contains is not None and (
        value is None or plain(condition.contains) not in plain(str(value))
    ):
        return False
    number = _number(value)
    if condition.at_least is not None and (number is None or number < condition.at_least):
        return False
    return not (condition.at_most is not None and (number is None or number > condition.at_most))


def _local(state: FlowState, now: datetime) -> datetime:
    try:
        return now.astimezone(ZoneInfo(state.contact.timezone or "UTC"))
    except (KeyError, ValueError):
        return now


def holds(condition: Condition, state: FlowState, now: datetime) -> bool:
    if condition.all is not None:
        return all(holds(c, state, now) for c in condition.all)
    if condition.any is not None:
        return any(holds(c, state, now) for c in condition.any)
    if condition.not_ is not None:
        return not holds(condition.not_, state, now)
    if condition.answer is not None:
        return _value_test(condition, lookup(state, f"answers.{condition.answer}"))
    if condition.field is not None:
        return _value_test(condition, state.contact.fields.get(condition.field))
    if condition.tag is not None:
        return condition.tag in state.contact.tags
    if condition.interest is not None:
        return condition.interest in state.contact.interests
    if condition.channel is not None:
        return state.channel is condition.channel
    if condition.trigger is not None:
        return state.trigger == condition.trigger
    if condition.hours is not None:
        start, end = condition.hours
        hour = _local(state, now).hour
        return start <= hour < end if start <= end else (hour >= start or hour < end)
    if condition.weekdays is not None:
        return _WEEKDAYS[_local(state, now).weekday()] in condition.weekdays
    if condition.event is not None:
        since = now - condition.within
        return any(k == condition.event and t >= since for k, t in state.contact.events)
    if condition.score_at_least is not None:
        return state.score >= condition.score_at_least
    raise AssertionError("validated condition has a subject")
