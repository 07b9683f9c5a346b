"""The segment language's parser: every construct to its exact tree, precedence and
flattening, every error with its column, and a round trip through a small printer over
generated trees."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.channels.kinds import Channel
from threadline.contacts.schemas import EventKind
from threadline.segments.grammar import MAX_DEPTH, SegmentSyntaxError, parse
from threadline.segments.syntax import (
    Aggregate,
    Ago,
    And,
    Bucket,
    Builtin,
    Compare,
    EventCondition,
    Everyone,
    HasInterest,
    HasTag,
    LastInbound,
    Node,
    Not,
    Op,
    Or,
    Reachable,
    Value,
)

A, B, C, D = HasTag("a"), HasTag("b"), HasTag("c"), HasTag("d")
COUNT, SUM, LAST = Aggregate.COUNT, Aggregate.SUM, Aggregate.LAST
DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
WEEK = timedelta(weeks=1)


CONSTRUCTS: list[tuple[str, Node]] = [
    ("", Everyone()),
    ("  \n\t ", Everyone()),
    ('tag("vip")', HasTag("vip")),
    ('interest("running")', HasInterest("running")),
    ("has(sms)", Reachable("sms")),
    ("bucket < 1000", Bucket(Op.LT, 1000)),
    ("bucket >= 0", Bucket(Op.GE, 0)),
    ("bucket <= 10000", Bucket(Op.LE, 10000)),
    ("last_inbound < -7d", LastInbound(Op.LT, Ago(7 * DAY))),
    ("last_inbound >= -90m", LastInbound(Op.GE, Ago(90 * MINUTE))),
    ('name = "Ana"', Compare(Builtin.NAME, Op.EQ, "Ana")),
    ('language != "pt"', Compare(Builtin.LANGUAGE, Op.NE, "pt")),
    ('timezone = "Europe/Lisbon"', Compare(Builtin.TIMEZONE, Op.EQ, "Europe/Lisbon")),
    ("created_at > -30d", Compare(Builtin.CREATED_AT, Op.GT, Ago(30 * DAY))),
    ("created_at <= -2w", Compare(Builtin.CREATED_AT, Op.LE, Ago(2 * WEEK))),
    ('fields.city = "Lisbon"', Compare("city", Op.EQ, "Lisbon")),
    ("fields.age >= 30", Compare("age", Op.GE, Decimal(30))),
    ("fields.score < -1.25", Compare("score", Op.LT, Decimal("-1.25"))),
    ("fields.vip = true", Compare("vip", Op.EQ, True)),
    ("fields.vip != false", Compare("vip", Op.NE, False)),
    ("fields.renews_at < -12h", Compare("renews_at", Op.LT, Ago(12 * HOUR))),
    ('fields.name = "Ana"', Compare("name", Op.EQ, "Ana")),
    ("fields.and = 1", Compare("and", Op.EQ, Decimal(1))),
    ("purchase.count(30d) >= 2", EventCondition("purchase", COUNT, 30 * DAY, Op.GE, Decimal(2))),
    ("purchases.count(30d) >= 2", EventCondition("purchase", COUNT, 30 * DAY, Op.GE, Decimal(2))),
    ("purchase.count() > 0", EventCondition("purchase", COUNT, None, Op.GT, Decimal(0))),
    (
        "purchase.sum(90d) > 100.50",
        EventCondition("purchase", SUM, 90 * DAY, Op.GT, Decimal("100.5")),
    ),
    ("custom.sum() != -3", EventCondition("custom", SUM, None, Op.NE, Decimal(-3))),
    (
        "order_status.count(12h) = 1",
        EventCondition("order_status", COUNT, 12 * HOUR, Op.EQ, Decimal(1)),
    ),
    ("cart_updated.last < -1h", EventCondition("cart_updated", LAST, None, Op.LT, Ago(HOUR))),
    (
        "appointment_booked.last >= -2w",
        EventCondition("appointment_booked", LAST, None, Op.GE, Ago(2 * WEEK)),
    ),
    ("purchases.last > -45m", EventCondition("purchase", LAST, None, Op.GT, Ago(45 * MINUTE))),
    # Every comparison, `==` the same as `=`.
    ("bucket = 5", Bucket(Op.EQ, 5)),
    ("bucket == 5", Bucket(Op.EQ, 5)),
    ("bucket != 5", Bucket(Op.NE, 5)),
    ("bucket < 5", Bucket(Op.LT, 5)),
    ("bucket <= 5", Bucket(Op.LE, 5)),
    ("bucket > 5", Bucket(Op.GT, 5)),
    ("bucket >= 5", Bucket(Op.GE, 5)),
    # Whitespace is optional between tokens, and any amount of it is allowed.
    ('tag ( "vip" )', HasTag("vip")),
    ('fields . city="x"', Compare("city", Op.EQ, "x")),
    ("bucket<10", Bucket(Op.LT, 10)),
    ("fields.x=-3", Compare("x", Op.EQ, Decimal(-3))),
    ('tag("a")and(tag("b"))', And((A, B))),
    ('\n  tag("a")\n\tor tag("b")  ', Or((A, B))),
    # Strings: escapes, keywords and any character inside.
    (r'tag("say \"hi\"")', HasTag('say "hi"')),
    (r'tag("back\\slash")', HasTag("back\\slash")),
    (r'tag("\\\"")', HasTag('\\"')),
    ('tag("a and b or not c")', HasTag("a and b or not c")),
    ('tag("日本 é\n")', HasTag("日本 é\n")),
    ('name = ""', Compare(Builtin.NAME, Op.EQ, "")),
    # The brief's example.
    (
        'purchases.count(30d) >= 2 and not tag("vip")',
        And((EventCondition("purchase", COUNT, 30 * DAY, Op.GE, Decimal(2)), Not(HasTag("vip")))),
    ),
]

STRUCTURE: list[tuple[str, Node]] = [
    # and binds tighter than or; not tighter than and.
    ('tag("a") or tag("b") and tag("c")', Or((A, And((B, C))))),
    ('tag("a") and tag("b") or tag("c")', Or((And((A, B)), C))),
    ('not tag("a") and tag("b")', And((Not(A), B))),
    ('not tag("a") or tag("b")', Or((Not(A), B))),
    (
        'tag("a") and not tag("b") or not tag("c") and tag("d")',
        Or((And((A, Not(B))), And((Not(C), D)))),
    ),
    # Parentheses.
    ('(tag("a") or tag("b")) and tag("c")', And((Or((A, B)), C))),
    ('tag("a") and (tag("b") or tag("c"))', And((A, Or((B, C))))),
    ('not (tag("a") or tag("b"))', Not(Or((A, B)))),
    ('not (tag("a") and tag("b"))', Not(And((A, B)))),
    ('(tag("a"))', A),
    ('((tag("a")))', A),
    ('not not tag("a")', Not(Not(A))),
    ('not (not tag("a"))', Not(Not(A))),
    # Flattening: a chain is one node, and so is a parenthesised chain of the same operator.
    ('tag("a") or tag("b") or tag("c")', Or((A, B, C))),
    ('tag("a") and tag("b") and tag("c") and tag("d")', And((A, B, C, D))),
    ('(tag("a") or tag("b")) or tag("c")', Or((A, B, C))),
    ('tag("a") or (tag("b") or tag("c"))', Or((A, B, C))),
    ('(tag("a") and tag("b")) and (tag("c") and tag("d"))', And((A, B, C, D))),
    ('(tag("a") and tag("b")) or (tag("c") and tag("d"))', Or((And((A, B)), And((C, D))))),
    ('not (tag("a") or tag("b")) or tag("c")', Or((Not(Or((A, B))), C))),
    # Keywords in any case.
    ('tag("a") AND NOT tag("b") Or tag("c")', Or((And((A, Not(B))), C))),
    ('tag("a") aNd tag("b")', And((A, B))),
    ("fields.vip = TRUE", Compare("vip", Op.EQ, True)),
    ("fields.vip != False", Compare("vip", Op.NE, False)),
]


@pytest.mark.parametrize(("text", "tree"), CONSTRUCTS + STRUCTURE)
def test_parses_to_the_exact_tree(text: str, tree: Node) -> None:
    assert parse(text) == tree


@pytest.mark.parametrize("channel", list(Channel))
def test_every_channel(channel: Channel) -> None:
    assert parse(f"has({channel.value})") == Reachable(channel.value)


@pytest.mark.parametrize("kind", [kind.value for kind in EventKind])
def test_every_event_kind(kind: str) -> None:
    assert parse(f"{kind}.count(2w) > 1") == EventCondition(
        kind, COUNT, 2 * WEEK, Op.GT, Decimal(1)
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("fields.x = true", True),
        ("fields.x = 1", Decimal(1)),
        ('fields.x = "1"', "1"),
        ("fields.x = -1d", Ago(DAY)),
    ],
)
def test_values_keep_their_type(text: str, value: Value) -> None:
    # True == Decimal(1) in Python, so equality of trees alone would not tell them apart.
    tree = parse(text)
    assert isinstance(tree, Compare)
    assert type(tree.value) is type(value)
    assert tree.value == value


def test_a_custom_field_named_like_a_builtin_stays_custom() -> None:
    custom, builtin = parse('fields.name = "x"'), parse('name = "x"')
    assert isinstance(custom, Compare) and isinstance(builtin, Compare)
    assert type(custom.field) is str
    assert builtin.field is Builtin.NAME


def test_the_trees_are_hashable() -> None:
    # The same query written two ways is one tree, and so one cache key.
    one = parse('purchases.count(30d) >= 2 and not (tag("vip") or has(email))')
    other = parse('(purchase.count(720h)>=2.0) AND NOT (tag("vip") OR has(email))')
    assert {one: 1}[other] == 1


# (query, column, a part of the message); the exact text is asserted for a few below.
ERRORS: list[tuple[str, int, str]] = [
    # Unknown names.
    ('color = "red"', 1, "unknown field 'color': custom fields are written fields.color"),
    ("refund.count() > 0", 1, "unknown event 'refund': expected one of purchase, cart_updated"),
    ("color", 1, "unknown condition 'color': expected tag(...), interest(...), has(...)"),
    ('tag("a") and color("x")', 14, "unknown condition 'color'"),
    ('TAG("vip")', 1, "names are written in lower case: 'tag', not 'TAG'"),
    ('fields.City = "x"', 8, "names are written in lower case: 'city', not 'City'"),
    # Conditions missing or where they cannot be.
    ('tag("a") and', 13, "expected a condition after 'and', found the end of the query"),
    ('and tag("a")', 1, "expected a condition, found 'and'"),
    ('tag("a") and or tag("b")', 14, "expected a condition after 'and', found 'or'"),
    ("not", 4, "expected a condition after 'not', found the end of the query"),
    ("()", 2, "expected a condition after '(', found ')'"),
    ("true", 1, "expected a condition, found 'true'"),
    ("3", 1, "expected a condition, found '3'"),
    ('"vip"', 1, 'expected a condition, found "vip"'),
    # Parentheses and what follows a complete query.
    ('(tag("a")', 10, "expected ')' to close the '(' at column 1, found the end of the query"),
    ('tag("a") and (tag("b") or (tag("c"))', 37, "to close the '(' at column 14"),
    ('tag("a"))', 9, "unmatched ')': there is no '(' before it"),
    ('tag("a") tag("b")', 10, "expected 'and', 'or' or the end of the query, found 'tag'"),
    ('language = "pt" = "x"', 17, "expected 'and', 'or' or the end of the query, found '='"),
    # tag, interest, has.
    ("tag(vip)", 5, 'tag names are quoted: tag("vip")'),
    ("interest(running)", 10, 'interest names are quoted: interest("running")'),
    ("tag()", 5, """expected a quoted tag name such as tag("vip") after 'tag(', found ')'"""),
    ('tag("")', 5, "a tag name cannot be empty"),
    ('tag "vip"', 5, """expected '(' after 'tag', found "vip\""""),
    ('tag("vip"', 10, """expected ')' after 'tag("vip"', found the end of the query"""),
    ("has(fax)", 5, "unknown channel 'fax': expected one of whatsapp, messenger, instagram,"),
    ('has("sms")', 5, "channels are written without quotes: has(sms)"),
    ("has()", 5, "expected a channel (whatsapp, messenger, instagram, apple, sms, email) after"),
    ("has(sms", 8, "expected ')' after 'has(sms', found the end of the query"),
    # bucket.
    ("bucket < 20000", 10, "bucket ranges from 0 to 10000, found 20000"),
    ("bucket >= -1", 11, "bucket ranges from 0 to 10000, found -1"),
    ("bucket < 1.5", 10, "bucket is compared with a whole number, found 1.5"),
    ('bucket < "5"', 10, "expected a whole number from 0 to 10000 after 'bucket <', found \"5\""),
    ("bucket 5", 8, "expected a comparison after 'bucket', found '5'"),
    # Relative times.
    ('created_at > "2024-01-01"', 14, "created_at is compared with a relative time such as -30d"),
    ("created_at > 30d", 14, "a time before now is negative: write -30d"),
    ("last_inbound < 7d", 16, "a time before now is negative: write -7d"),
    ("last_inbound < 3", 16, "last_inbound is compared with a relative time such as -7d"),
    ("purchase.last > 2", 17, "purchase.last is compared with a relative time such as -1h"),
    ("fields.renews_at < 7d", 20, "a time before now is negative: write -7d"),
    ("last_inbound < -99999999999w", 16, "'-99999999999w' is too long a time"),
    # Strings and values.
    ("name = 3", 8, 'name is compared with a string such as "Ana"'),
    ("timezone = -1h", 12, 'timezone is compared with a string such as "Europe/Lisbon"'),
    ("language = pt", 12, 'strings are quoted: "pt"'),
    ("fields.city = lisbon", 15, 'strings are quoted: "lisbon"'),
    ("fields.city =", 14, "expected a value (a string, a number, true, false or a time such as"),
    ("fields.city = )", 15, "after 'fields.city =', found ')'"),
    ("fields.vip > true", 12, "true and false are compared with = or !="),
    ("fields = 3", 8, "expected '.' after 'fields', found '='"),
    ("fields.3 = 3", 8, "expected a field key such as fields.city after 'fields.', found '3'"),
    ('tag("vip', 5, 'unterminated string: it needs a closing "'),
    ('tag("vip\\', 5, "unterminated string"),
    (r'tag("a\nb")', 7, 'in a string, a backslash may only escape " or \\'),
    ("fields.x = 'a'", 12, 'unexpected character "\'": strings are written in double quotes'),
    # Events.
    ("purchase.count(-30d) > 1", 16, "a window is a length of time such as 30d, without a minus"),
    ("purchase.count(0d) > 1", 16, "a window must be longer than 0"),
    (
        "purchase.count(3) > 1",
        16,
        "expected a window such as 30d, or ')' after 'purchase.count(', found '3'",
    ),
    ("purchase.count(30d > 1", 20, "expected ')' after 'purchase.count(30d', found '>'"),
    (
        "purchase.count(30d) > -7d",
        23,
        "expected a number after 'purchase.count(30d) >', found '-7d'",
    ),
    ('purchase.sum() > "5"', 18, "expected a number after 'purchase.sum() >'"),
    (
        "purchase.avg(30d) > 1",
        10,
        "expected count(...), sum(...) or last after 'purchase.', found 'avg'",
    ),
    ("purchase.COUNT() > 1", 10, "names are written in lower case: 'count', not 'COUNT'"),
    ("purchase > 2", 10, "expected '.' after 'purchase', found '>'"),
    ("purchase.count > 2", 16, "expected '(' after 'purchase.count', found '>'"),
    # Times and numbers the tokenizer refuses.
    (
        "purchase.count(30x) > 1",
        16,
        "'30x' is not a time: write whole minutes, hours, days or weeks",
    ),
    ("purchase.count(1.5d) > 1", 16, "'1.5d' is not a time"),
    ("purchase.count(30days) > 1", 16, "'30days' is not a time"),
    ("fields.x = - 3", 12, "'-' must be followed by digits, as in -3 or -7d"),
    # Operators from other languages.
    ('tag("a") && tag("b")', 10, "unexpected character '&': write and"),
    ('tag("a") || tag("b")', 10, "unexpected character '|': write or"),
    ("fields.x ! 3", 10, "unexpected character '!': write != for 'not equal', or not to negate"),
    ('tag("a") ; tag("b")', 10, "unexpected character ';'"),
]


@pytest.mark.parametrize(("text", "column", "message"), ERRORS)
def test_errors_say_what_was_expected_and_where(text: str, column: int, message: str) -> None:
    with pytest.raises(SegmentSyntaxError) as caught:
        parse(text)
    assert caught.value.position == column - 1
    assert message in caught.value.message
    assert str(caught.value) == f"column {column}: {caught.value.message}"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "fields.age lisbon",
            "column 12: expected a comparison after 'fields.age', found 'lisbon'",
        ),
        (
            'color = "red"',
            "column 1: unknown field 'color': custom fields are written fields.color",
        ),
        ("tag(vip)", 'column 5: tag names are quoted: tag("vip")'),
        ("bucket < 20000", "column 10: bucket ranges from 0 to 10000, found 20000"),
        ('created_at > "x"', "column 14: created_at is compared with a relative time such as -30d"),
        (
            '(tag("a") or tag("b")',
            "column 22: expected ')' to close the '(' at column 1, found the end of the query",
        ),
        (
            'tag("a") tag("b")',
            "column 10: expected 'and', 'or' or the end of the query, found 'tag'",
        ),
        (
            "has(fax)",
            "column 5: unknown channel 'fax': expected one of whatsapp, messenger, instagram, "
            "apple, sms, email",
        ),
        (
            "refund.count() > 0",
            "column 1: unknown event 'refund': expected one of purchase, cart_updated, "
            "order_status, appointment_booked, order, order_paid, custom",
        ),
    ],
)
def test_exact_messages(text: str, error: str) -> None:
    with pytest.raises(SegmentSyntaxError) as caught:
        parse(text)
    assert str(caught.value) == error


def test_the_error_is_a_value_error_that_survives_pickling() -> None:
    with pytest.raises(ValueError) as caught:
        parse("tag(vip)")
    error = caught.value
    assert isinstance(error, SegmentSyntaxError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.position, copy.message, str(copy)) == (error.position, error.message, str(error))


@pytest.mark.parametrize(
    "text",
    ["(" * (MAX_DEPTH + 1) + 'tag("a")' + ")" * (MAX_DEPTH + 1), "not " * 10_000 + 'tag("a")'],
)
def test_too_deep_a_query_is_an_error_not_a_crash(text: str) -> None:
    with pytest.raises(SegmentSyntaxError, match="nests more than"):
        parse(text)


def test_as_deep_as_allowed() -> None:
    text = "(" * (MAX_DEPTH - 1) + 'not tag("a")' + ")" * (MAX_DEPTH - 1)
    assert parse(text) == Not(A)


# --- a round trip through a printer ----------------------------------------------------------


@dataclass(frozen=True)
class Style:
    """The freedoms a writer has: keyword case, `==` for `=`, `purchases`, spacing."""

    keyword: Callable[[str], str]
    equals: str
    plural: bool
    pad: str


def show(node: Node, style: Style) -> str:
    """Text for a tree: the inverse of parse, in the given style."""
    match node:
        case HasTag(tag):
            return f"tag({quote(tag)})"
        case HasInterest(interest):
            return f"interest({quote(interest)})"
        case Reachable(channel):
            return f"has({channel})"
        case Bucket(op, number):
            return f"bucket{compare(op, str(number), style)}"
        case LastInbound(op, value):
            return f"last_inbound{compare(op, literal(value, style), style)}"
        case Compare(field, op, value):
            name = field.value if isinstance(field, Builtin) else f"fields.{field}"
            return f"{name}{compare(op, literal(value, style), style)}"
        case EventCondition():
            return show_event(node, style)
        case Not(operand):
            return f"{style.keyword('not')} {operand_text(operand, (And, Or), style)}"
        case And(operands):
            joined = f" {style.keyword('and')} "
            return joined.join(operand_text(operand, (Or,), style) for operand in operands)
        case Or(operands):
            return f" {style.keyword('or')} ".join(show(operand, style) for operand in operands)
    raise AssertionError(node)


def show_event(node: EventCondition, style: Style) -> str:
    kind = "purchases" if style.plural and node.kind == "purchase" else node.kind
    tail = compare(node.op, literal(node.value, style), style)
    if node.aggregate is Aggregate.LAST:
        return f"{kind}.last{tail}"
    window = span(node.window) if node.window else ""
    return f"{kind}.{node.aggregate.value}({style.pad}{window}{style.pad}){tail}"


def operand_text(node: Node, grouped: tuple[type[Node], ...], style: Style) -> str:
    text = show(node, style)
    return f"({style.pad}{text}{style.pad})" if isinstance(node, grouped) else text


def compare(op: Op, right: str, style: Style) -> str:
    symbol = style.equals if op is Op.EQ else op.value
    return f"{style.pad}{symbol}{style.pad}{right}"


def literal(value: Value, style: Style) -> str:
    if isinstance(value, bool):
        return style.keyword("true" if value else "false")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Ago):
        return f"-{span(value.span)}"
    return quote(value)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def span(length: timedelta) -> str:
    minutes = length // MINUTE
    for unit, size in (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60), ("m", 1)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    raise AssertionError(length)


def flat(combine: type[And | Or], operands: list[Node]) -> Node:
    """And/Or as the parser builds them: no And directly inside an And, no Or inside an Or."""
    inner = (o.operands if isinstance(o, combine) else (o,) for o in operands)
    return combine(tuple(node for group in inner for node in group))


texts = st.text(max_size=8)
spans = st.one_of(
    st.builds(
        lambda n, unit: timedelta(**{unit: n}),
        st.integers(1, 999),
        st.sampled_from(["minutes", "hours", "days", "weeks"]),
    ),
    st.integers(1, 10**9).map(lambda n: n * MINUTE),
)
agos = st.builds(Ago, st.one_of(spans, st.just(timedelta(0))))
numbers = st.one_of(
    st.integers(-(10**12), 10**12).map(Decimal),
    st.decimals(places=3, allow_nan=False, allow_infinity=False),
)
ops = st.sampled_from(list(Op))
# Builtin names as custom keys too: fields.name must come back as the custom field.
keys = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), st.sampled_from(list(Builtin)).map(str)
)
kinds = st.sampled_from([kind.value for kind in EventKind])
STRING_BUILTINS = [Builtin.NAME, Builtin.LANGUAGE, Builtin.TIMEZONE]

leaves: st.SearchStrategy[Node] = st.one_of(
    st.builds(HasTag, st.text(min_size=1, max_size=8)),
    st.builds(HasInterest, st.text(min_size=1, max_size=8)),
    st.builds(Reachable, st.sampled_from([channel.value for channel in Channel])),
    st.builds(Bucket, ops, st.integers(0, 10_000)),
    st.builds(LastInbound, ops, agos),
    st.builds(Compare, st.sampled_from(STRING_BUILTINS), ops, texts),
    st.builds(Compare, st.just(Builtin.CREATED_AT), ops, agos),
    st.builds(Compare, keys, ops, st.one_of(texts, numbers, agos)),
    st.builds(Compare, keys, st.sampled_from([Op.EQ, Op.NE]), st.booleans()),
    st.builds(
        EventCondition, kinds, st.sampled_from([COUNT, SUM]), st.none() | spans, ops, numbers
    ),
    st.builds(EventCondition, kinds, st.just(LAST), st.none(), ops, agos),
)


def branches(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    operands = st.lists(children, min_size=2, max_size=4)
    return st.one_of(
        st.builds(Not, children),
        operands.map(lambda nodes: flat(And, nodes)),
        operands.map(lambda nodes: flat(Or, nodes)),
    )


trees = st.recursive(leaves, branches, max_leaves=12)
styles = st.builds(
    Style,
    st.sampled_from([str.lower, str.upper, str.title]),
    st.sampled_from(["=", "=="]),
    st.booleans(),
    st.sampled_from(["", " ", "\n  "]),
)


@settings(max_examples=400, deadline=None)
@given(trees, styles)
def test_round_trip(tree: Node, style: Style) -> None:
    parsed = parse(show(tree, style))
    assert parsed == tree
    # repr tells apart what == does not: True from Decimal(1), Builtin.NAME from "name".
    assert repr(parsed) == repr(tree)


# Pieces of the language, shuffled: whatever comes of them is a tree or a SegmentSyntaxError.
PIECES = [
    "tag",
    "interest",
    "has",
    "bucket",
    "last_inbound",
    "name",
    "created_at",
    "fields",
    "purchases",
    "cart_updated",
    "count",
    "sum",
    "last",
    "sms",
    "and",
    "OR",
    "not",
    "true",
    "(",
    ")",
    ".",
    "=",
    "==",
    "!=",
    "<",
    ">=",
    '"x"',
    '"',
    "\\",
    "3",
    "-1.5",
    "30d",
    "-7d",
    "0d",
    "99999999999999w",
    "x",
    "-",
    "!",
    ";",
    "",
]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12), st.sampled_from(["", " "]))
def test_any_arrangement_of_pieces_parses_or_fails_cleanly(pieces: list[str], sep: str) -> None:
    text = sep.join(pieces)
    try:
        parse(text)
    except SegmentSyntaxError as error:
        assert 0 <= error.position <= len(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        parse(text)
    except SegmentSyntaxError as error:
        assert 0 <= error.position <= len(text)
