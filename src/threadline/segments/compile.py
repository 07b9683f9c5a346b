"""A segment's syntax tree as one SQL query: the ids of the workspace's contacts it matches,
on SQLite and PostgreSQL alike. Every predicate is a condition on the contacts row (EXISTS or
a correlated aggregate), so the database plans the whole audience in one statement and the
application never holds it in memory. `evaluate.py` is the same semantics in plain Python,
which the property tests hold this against."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, not_, or_, select, true

from threadline.channels import registry
from threadline.channels.kinds import Channel
from threadline.contacts.models import Contact, ContactEvent, ContactTag, ContactURN
from threadline.conversations.models import Conversation
from threadline.kit.scoped import workspace_column
from threadline.segments import syntax as s

TEXT_BUILTINS = {
    s.Builtin.NAME: Contact.name,
    s.Builtin.LANGUAGE: Contact.language,
    s.Builtin.TIMEZONE: Contact.timezone,
}
# Field types whose values have an order the databases agree on (numbers, ISO dates).
ORDERED_TYPES = frozenset({"number", "date"})


class SegmentError(ValueError):
    """A query that parses but cannot be run here (an undeclared field, a text field
    compared with <), with what to write instead."""


def compile_query(
    node: s.Node,
    *,
    workspace_id: str,
    now: datetime,
    dialect: str,
    fields: Mapping[str, str],
) -> Select[Any]:
    """The ids of the workspace's contacts `node` matches, `now` being when it is asked."""
    condition = _Compiler(now, dialect, fields).condition(node)
    return select(Contact.id).where(workspace_column(Contact) == workspace_id, condition)


class _Compiler:
    def __init__(self, now: datetime, dialect: str, fields: Mapping[str, str]) -> None:
        self.now = now
        self.dialect = dialect
        self.fields = fields

    def condition(self, node: s.Node) -> ColumnElement[bool]:
        handler = self._handlers().get(type(node))
        if handler is None:
            raise SegmentError(f"cannot compile {type(node).__name__}")
        return handler(node)

    def _handlers(self) -> dict[type[Any], Callable[[Any], ColumnElement[bool]]]:
        return {
            s.Everyone: lambda _n: true(),
            s.Not: lambda n: not_(self.condition(n.operand)),
            s.And: lambda n: and_(*(self.condition(o) for o in n.operands)),
            s.Or: lambda n: or_(*(self.condition(o) for o in n.operands)),
            s.HasTag: self._tag,
            s.HasInterest: self._interest,
            s.Reachable: self._reachable,
            s.Bucket: lambda n: _compare(Contact.holdout_bucket, n.op, n.value),
            s.Compare: self._compare_field,
            s.EventCondition: self._event,
            s.LastInbound: self._last_inbound,
        }

    # -- the contact's own facts -------------------------------------------------------------
    def _tag(self, node: s.HasTag) -> ColumnElement[bool]:
        return exists().where(ContactTag.contact_id == Contact.id, ContactTag.tag == node.tag)

    def _interest(self, node: s.HasInterest) -> ColumnElement[bool]:
        if self.dialect == "postgresql":
            elements = func.json_array_elements_text(Contact.interests).table_valued("value")
        else:
            elements = func.json_each(Contact.interests).table_valued("value")
        return exists(select(1).select_from(elements).where(elements.c.value == node.interest))

    def _reachable(self, node: s.Reachable) -> ColumnElement[bool]:
        scheme = registry.urn_scheme_for(Channel(node.channel))
        return exists().where(ContactURN.contact_id == Contact.id, ContactURN.scheme == scheme)

    def _compare_field(self, node: s.Compare) -> ColumnElement[bool]:
        # `is`, not ==: a Builtin is a str, and a custom field may be called "created_at".
        if node.field is s.Builtin.CREATED_AT:
            return _compare(Contact.created_at, node.op, self._instant(node.value))
        if isinstance(node.field, s.Builtin):
            return self._text(TEXT_BUILTINS[node.field], node)
        kind = self.fields.get(node.field)
        if kind is None:
            known = ", ".join(sorted(self.fields)) or "none yet"
            raise SegmentError(f"unknown field 'fields.{node.field}' (declared: {known})")
        value = Contact.fields[node.field]
        if kind == "number":
            if not isinstance(node.value, Decimal):
                raise SegmentError(f"fields.{node.field} is a number: compare it with one")
            return _compare(value.as_float(), node.op, float(node.value))
        if kind == "boolean":
            if not isinstance(node.value, bool) or node.op not in (s.Op.EQ, s.Op.NE):
                raise SegmentError(f"fields.{node.field} is true or false: use = true / != true")
            return _compare(value.as_boolean(), node.op, node.value)
        if kind in ORDERED_TYPES:  # dates, as ISO strings
            return _compare(value.as_string(), node.op, self._string(node))
        return self._text(value.as_string(), node)

    def _text(self, column: Any, node: s.Compare) -> ColumnElement[bool]:
        # Text has no order both databases agree on (SQLite: bytes; PostgreSQL: collation).
        if node.op not in (s.Op.EQ, s.Op.NE):
            raise SegmentError(f"{_name(node.field)} is text: only = and != compare it")
        return _compare(column, node.op, self._string(node))

    @staticmethod
    def _string(node: s.Compare) -> str:
        if not isinstance(node.value, str):
            raise SegmentError(f'{_name(node.field)} is compared with a quoted text: "..."')
        return node.value

    def _instant(self, value: s.Value | Decimal) -> datetime:
        if not isinstance(value, s.Ago):
            raise SegmentError("times are compared with a relative time such as -30d")
        return self.now - value.span

    # -- what the contact did ----------------------------------------------------------------
    def _event(self, node: s.EventCondition) -> ColumnElement[bool]:
        since = self.now - node.window if node.window is not None else None
        conditions = [
            ContactEvent.contact_id == Contact.id,
            ContactEvent.kind == node.kind,
            ContactEvent.occurred_at <= self.now,
        ]
        if since is not None:
            conditions.append(ContactEvent.occurred_at >= since)
        if node.aggregate is s.Aggregate.LAST:
            latest = select(func.max(ContactEvent.occurred_at)).where(*conditions)
            return _compare(latest.scalar_subquery(), node.op, self._instant(node.value))
        if not isinstance(node.value, Decimal):
            raise SegmentError(f"{node.kind}.{node.aggregate.value}() is compared with a number")
        if node.aggregate is s.Aggregate.COUNT:
            counted = select(func.count()).select_from(ContactEvent).where(*conditions)
            return _compare(counted.scalar_subquery(), node.op, node.value)
        # Rounded to the column's 4 decimals: SQLite sums NUMERIC as binary floats, and
        # 115.79 - 1.82 + 2.20 must equal 116.17 as it does in PostgreSQL and Python.
        total = select(func.round(func.coalesce(func.sum(ContactEvent.value), 0), 4)).where(
            *conditions
        )
        return _compare(total.scalar_subquery(), node.op, node.value)

    def _last_inbound(self, node: s.LastInbound) -> ColumnElement[bool]:
        latest = select(func.max(Conversation.last_inbound_at)).where(
            Conversation.contact_id == Contact.id
        )
        return _compare(latest.scalar_subquery(), node.op, self._instant(node.value))


def _name(field: s.Builtin | str) -> str:
    return field.value if isinstance(field, s.Builtin) else f"fields.{field}"


_OPERATORS: dict[s.Op, Callable[[Any, Any], Any]] = {
    s.Op.EQ: operator.eq,
    s.Op.NE: operator.ne,
    s.Op.LT: operator.lt,
    s.Op.LE: operator.le,
    s.Op.GT: operator.gt,
    s.Op.GE: operator.ge,
}


def _compare(column: Any, op: s.Op, value: Any) -> ColumnElement[bool]:
    """`column op value`, two-valued: a missing value (NULL) never matches, not even `!=`,
    and `not` of such a comparison matches, as in the Python reference. (SQL's own NULL
    would make both false: FALSE AND NULL is FALSE, where NULL = 'x' is NULL.)"""
    if value is None:
        return false()
    return and_(column.is_not(None), _OPERATORS[op](column, value))


__all__ = ["SegmentError", "compile_query"]
