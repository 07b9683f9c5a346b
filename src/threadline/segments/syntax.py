"""The segment language's syntax tree: what a parsed query means, independent of how it is
written (grammar.py) or evaluated (compile.py in SQL, evaluate.py in Python for tests).

Times in a query are relative to "now": `-7d` is seven days ago, `30d` a window of the last
thirty days. Everything here is immutable and hashable, so a query can be cached by its tree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum


class Op(StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


# A literal a field is compared with. Relative times (`-7d`) are `Ago`.
@dataclass(frozen=True, slots=True)
class Ago:
    """That long before now (`-7d`); compared with timestamps."""

    span: timedelta


Value = str | Decimal | bool | Ago


class Builtin(StrEnum):
    """Columns of the contact itself that a query may compare."""

    NAME = "name"
    LANGUAGE = "language"
    TIMEZONE = "timezone"
    CREATED_AT = "created_at"


@dataclass(frozen=True, slots=True)
class Compare:
    """`fields.city = "Lisbon"`, `fields.age >= 30`, `language = "pt"`, `created_at > -30d`.
    `field` is a Builtin or the key of a declared custom field (`fields.<key>`)."""

    field: Builtin | str
    op: Op
    value: Value


@dataclass(frozen=True, slots=True)
class HasTag:
    tag: str


@dataclass(frozen=True, slots=True)
class HasInterest:
    interest: str


@dataclass(frozen=True, slots=True)
class Reachable:
    """`has(sms)`: the contact has an address on that channel type."""

    channel: str  # a Channel value


@dataclass(frozen=True, slots=True)
class Bucket:
    """`bucket < 1000`: the contact's sticky random bucket, 0 to 9999 (10 % here)."""

    op: Op
    value: int


class Aggregate(StrEnum):
    COUNT = "count"  # how many events in the window
    SUM = "sum"  # the sum of their `value` in the window (0 when none)
    LAST = "last"  # when the latest one happened (compared with a relative time)


@dataclass(frozen=True, slots=True)
class EventCondition:
    """`purchase.count(30d) >= 2`, `purchase.sum(90d) > 100`, `cart_updated.last < -1h`.
    `window` is None for `last`, and for count/sum over all time (`purchase.count() > 0`)."""

    kind: str  # a contact event kind: purchase, cart_updated, order_status, ...
    aggregate: Aggregate
    window: timedelta | None
    op: Op
    value: Decimal | Ago


@dataclass(frozen=True, slots=True)
class LastInbound:
    """`last_inbound < -7d`: when the contact last wrote, on any channel."""

    op: Op
    value: Ago


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Everyone:
    """The empty query: every contact of the workspace."""


Node = (
    Compare
    | HasTag
    | HasInterest
    | Reachable
    | Bucket
    | EventCondition
    | LastInbound
    | Not
    | And
    | Or
    | Everyone
)


def holds(op: Op, left: object, right: object) -> bool:
    """The comparison in Python, for the reference evaluator (None compares false)."""
    if left is None:
        return False
    if op is Op.EQ:
        return left == right
    if op is Op.NE:
        return left != right
    ordered = {Op.LT: "__lt__", Op.LE: "__le__", Op.GT: "__gt__", Op.GE: "__ge__"}[op]
    result = getattr(left, ordered)(right)
    return bool(result) if result is not NotImplemented else False
