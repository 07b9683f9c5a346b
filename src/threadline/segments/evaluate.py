"""The segment language evaluated in plain Python, one contact at a time: the reference that
the SQL of compile.py is held against (tests/segments/test_compile_matches_python.py).

Slow and literal on purpose; each rule is written once, here:

- text (name, language, timezone, text fields): only = and !=, exact and case-sensitive;
- number fields: as floats; boolean fields: = and != with true / false; date fields (ISO
  `YYYY-MM-DD`): as strings, with a quoted literal, all six comparisons;
- `created_at`, `last_inbound` and `<kind>.last` are compared with `now - span`;
- events count when they happened by `now` (never later) and, with a window, no earlier than
  `now - window` (inclusive); `count` and `sum` compare as numbers (`sum` exactly, as Decimal,
  0 when there is nothing to add);
- a missing value (None, an absent field, no event for `last`, no inbound message) compares
  false, `!=` too; `not` is plain negation, so `not` of such a comparison is true.

A field value that is not of its declared type (the contacts service stores them coerced,
see `contacts.service.coerce_field`) counts as missing. A query that is not well typed (an
undeclared field, text compared with `<`, a time compared with a number) raises ValueError."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, assert_never

from threadline.channels.kinds import Channel
from threadline.channels.registry import urn_scheme_for
from threadline.segments import syntax as s

# (kind, value, occurred_at), as in contact_events.
Event = tuple[str, Decimal | None, datetime]
LONG_AGO = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    """What a query can ask about one contact."""

    id: str
    name: str = ""
    language: str | None = None
    timezone: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    interests: Sequence[str] = ()
    tags: Set[str] = frozenset()
    # URN schemes the contact has an address in (tel, mailto, whatsapp, ...).
    schemes: Set[str] = frozenset()
    holdout_bucket: int = 0
    created_at: datetime = LONG_AGO
    events: Sequence[Event] = ()
    # The latest inbound message over all of the contact's conversations.
    last_inbound: datetime | None = None


def matches(node: s.Node, person: Person, *, now: datetime, fields: Mapping[str, str]) -> bool:
    """Whether `node` matches `person`, `now` being when it is asked and `fields` the
    declared custom fields (key -> text | number | date | boolean)."""
    match node:
        case s.Everyone():
            return True
        case s.Not(operand):
            return not matches(operand, person, now=now, fields=fields)
        case s.And(operands):
            return all(matches(o, person, now=now, fields=fields) for o in operands)
        case s.Or(operands):
            return any(matches(o, person, now=now, fields=fields) for o in operands)
        case s.HasTag(tag):
            return tag in person.tags
        case s.HasInterest(interest):
            return interest in person.interests
        case s.Reachable(channel):
            return urn_scheme_for(Channel(channel)) in person.schemes
        case s.Bucket(op, value):
            return s.holds(op, person.holdout_bucket, value)
        case s.Compare():
            return _compare(node, person, now, fields)
        case s.EventCondition():
            return _event(node, person, now)
        case s.LastInbound(op, value):
            return s.holds(op, person.last_inbound, _instant(value, now))
        case _:
            assert_never(node)


def _compare(node: s.Compare, person: Person, now: datetime, fields: Mapping[str, str]) -> bool:
    if isinstance(node.field, s.Builtin):
        if node.field is s.Builtin.CREATED_AT:
            return s.holds(node.op, person.created_at, _instant(node.value, now))
        column: str | None = getattr(person, node.field.value)
        return s.holds(node.op, column, _text(node))
    value_type = fields.get(node.field)
    if value_type is None:
        raise ValueError(f"undeclared field 'fields.{node.field}'")
    stored = person.fields.get(node.field)
    if value_type == "number":
        if not isinstance(node.value, Decimal):
            raise ValueError(f"fields.{node.field} is a number: compare it with one")
        number = None
        if isinstance(stored, int | float) and not isinstance(stored, bool):
            number = float(stored)
        return s.holds(node.op, number, float(node.value))
    if value_type == "boolean":
        if not isinstance(node.value, bool) or node.op not in (s.Op.EQ, s.Op.NE):
            raise ValueError(f"fields.{node.field} is true or false: use = or !=")
        return s.holds(node.op, stored if isinstance(stored, bool) else None, node.value)
    if value_type == "date":
        if not isinstance(node.value, str):
            raise ValueError(f"fields.{node.field} is a date: compare it with a quoted one")
        return s.holds(node.op, stored if isinstance(stored, str) else None, node.value)
    if value_type == "text":
        return s.holds(node.op, stored if isinstance(stored, str) else None, _text(node))
    raise ValueError(f"fields.{node.field} has an unknown type '{value_type}'")


def _text(node: s.Compare) -> str:
    if node.op not in (s.Op.EQ, s.Op.NE):
        raise ValueError(f"{node.field} is text: only = and != compare it")
    if not isinstance(node.value, str):
        raise ValueError(f"{node.field} is text: compare it with a quoted text")
    return node.value


def _event(node: s.EventCondition, person: Person, now: datetime) -> bool:
    since = None if node.window is None else now - node.window
    happened = [
        (value, at)
        for kind, value, at in person.events
        if kind == node.kind and at <= now and (since is None or at >= since)
    ]
    if node.aggregate is s.Aggregate.LAST:
        latest = max((at for _, at in happened), default=None)
        return s.holds(node.op, latest, _instant(node.value, now))
    if not isinstance(node.value, Decimal):
        raise ValueError(f"{node.kind}.{node.aggregate.value}() is compared with a number")
    if node.aggregate is s.Aggregate.COUNT:
        return s.holds(node.op, Decimal(len(happened)), node.value)
    total = sum((value for value, _ in happened if value is not None), Decimal(0))
    return s.holds(node.op, total, node.value)


def _instant(value: s.Value | Decimal, now: datetime) -> datetime:
    if not isinstance(value, s.Ago):
        raise ValueError("times are compared with a relative time such as -30d")
    return now - value.span


__all__ = ["Event", "Person", "matches"]
