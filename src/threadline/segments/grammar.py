"""The segment language's parser: text such as `purchases.count(30d) >= 2 and not tag("vip")`
into the tree of syntax.py.

A hand-written tokenizer and recursive descent rather than a parser library, so every error can
say, in the words of the query, what was expected and where (`SegmentSyntaxError.position`).

    query     := or_expr                       (empty text: Everyone)
    or_expr   := and_expr ("or" and_expr)*     (and binds tighter than or)
    and_expr  := not_expr ("and" not_expr)*
    not_expr  := "not" not_expr | atom
    atom      := "(" query ")" | predicate

Keywords (and, or, not, true, false) are case-insensitive; every other name is lower-case."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import Enum, auto
from typing import NoReturn

from threadline.channels.kinds import Channel
from threadline.contacts.schemas import EventKind
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


class SegmentSyntaxError(ValueError):
    """What is wrong with a query and where: `position` is a 0-based character offset, while
    str() gives the 1-based column a person counts (`column 14: expected ...`)."""

    def __init__(self, position: int, message: str) -> None:
        super().__init__(f"column {position + 1}: {message}")
        self.position = position
        self.message = message

    def __reduce__(self) -> tuple[type[SegmentSyntaxError], tuple[int, str]]:
        # ValueError would rebuild from the formatted text alone; keep both attributes.
        return type(self), (self.position, self.message)


def parse(text: str) -> Node:
    """The tree of a segment query; empty or blank text is every contact."""
    return _Parser(text).query()


# --- tokens ---------------------------------------------------------------------------------


class _Kind(Enum):
    WORD = auto()  # a name or a keyword: tag, fields, purchase, and, TRUE
    STRING = auto()  # "..."
    NUMBER = auto()  # 3, -12.5
    SPAN = auto()  # 30d (a window) or -7d (that long ago)
    OP = auto()  # = == != < <= > >=
    PUNCT = auto()  # ( ) .
    END = auto()


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str  # as written, quotes and escapes included
    position: int
    string: str = ""  # a STRING's content, escapes resolved

    @property
    def end(self) -> int:
        return self.position + len(self.text)


_KEYWORDS = frozenset({"and", "or", "not", "true", "false"})
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# A number, then whatever letters stick to it, so `30days` is one (wrong) token, not `30` `days`.
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([A-Za-z_][A-Za-z0-9_]*)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("==", "!=", "<=", ">=", "=", "<", ">")  # two-character ones first
# What people coming from other query languages type, and what to write instead.
_HINTS = {
    "!": ": write != for 'not equal', or not to negate",
    "&": ": write and",
    "|": ": write or",
    "'": ': strings are written in double quotes, as in tag("vip")',
}


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        tokens.append(_token(text, position))
        position = tokens[-1].end
    tokens.append(_Token(_Kind.END, "", len(text)))
    return tokens


def _token(text: str, position: int) -> _Token:
    char = text[position]
    if char == '"':
        return _string(text, position)
    if char in "().":
        return _Token(_Kind.PUNCT, char, position)
    if char == "-" or "0" <= char <= "9":
        return _number(text, position)
    word = _WORD.match(text, position)
    if word:
        return _Token(_Kind.WORD, word.group(), position)
    for operator in _OPERATORS:
        if text.startswith(operator, position):
            return _Token(_Kind.OP, operator, position)
    raise SegmentSyntaxError(position, f"unexpected character {char!r}{_HINTS.get(char, '')}")


def _string(text: str, start: int) -> _Token:
    chars: list[str] = []
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == '"':
            return _Token(_Kind.STRING, text[start : position + 1], start, "".join(chars))
        if char == "\\":
            position += 1
            char = text[position : position + 1]
            if char not in ('"', "\\", ""):  # "" is a backslash that ends the text
                message = 'in a string, a backslash may only escape " or \\'
                raise SegmentSyntaxError(position - 1, message)
        chars.append(char)
        position += 1
    raise SegmentSyntaxError(start, 'unterminated string: it needs a closing "')


def _number(text: str, start: int) -> _Token:
    match = _NUMBER.match(text, start)
    if match is None:
        raise SegmentSyntaxError(start, "'-' must be followed by digits, as in -3 or -7d")
    fraction, unit = match.group(1), match.group(2)
    if unit is None:
        return _Token(_Kind.NUMBER, match.group(), start)
    if fraction is None and unit in _UNITS:
        return _Token(_Kind.SPAN, match.group(), start)
    message = f"'{match.group()}' is not a time: write whole minutes, hours, days or weeks, as in"
    raise SegmentSyntaxError(start, f"{message} 90m, 12h, 30d or 2w")


def _describe(token: _Token) -> str:
    """A token as an error message quotes it."""
    if token.kind is _Kind.END:
        return "the end of the query"
    text = token.text if len(token.text) <= 30 else token.text[:29] + "…"
    return text if token.kind is _Kind.STRING else f"'{text}'"


def _is(token: _Token, kind: _Kind, text: str) -> bool:
    return token.kind is kind and token.text.lower() == text


# --- the parser -----------------------------------------------------------------------------

_BUILTINS = {builtin.value: builtin for builtin in Builtin}
_EXAMPLES = {Builtin.NAME: "Ana", Builtin.LANGUAGE: "pt", Builtin.TIMEZONE: "Europe/Lisbon"}
_CHANNELS = tuple(channel.value for channel in Channel)
_EVENTS = tuple(kind.value for kind in EventKind)
_ALIASES = {"purchases": EventKind.PURCHASE.value}  # `purchases.count(30d)` reads better
_CONDITIONS = (
    "tag(...), interest(...), has(...), bucket, last_inbound, name, language, timezone, "
    "created_at, fields.<key> or an event such as purchase.count(30d)"
)
# Each level of parentheses or `not` costs Python stack frames; no real query nests this deep.
MAX_DEPTH = 50


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    # - reading tokens

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.token
        self.index += 1
        return token

    def fail(self, message: str, token: _Token | None = None) -> NoReturn:
        raise SegmentSyntaxError((token or self.token).position, message)

    def expected(self, what: str, start: int) -> NoReturn:
        """Fail at the current token, quoting what was written from `start` up to it."""
        written = self.text[start : self.tokens[self.index - 1].end]
        self.fail(f"expected {what} after '{written}', found {_describe(self.token)}")

    def punct(self, char: str, start: int) -> None:
        if not _is(self.token, _Kind.PUNCT, char):
            self.expected(f"'{char}'", start)
        self.advance()

    def name(self, what: str, start: int, choices: tuple[str, ...] = ()) -> _Token:
        """A lower-case name (a field key, a channel, an aggregate), one of `choices` if any."""
        token = self.token
        if token.kind is not _Kind.WORD:
            self.expected(what, start)
        if token.text != token.text.lower():
            self.fail(
                f"names are written in lower case: '{token.text.lower()}', not '{token.text}'"
            )
        if choices and token.text not in choices:
            self.expected(what, start)
        return self.advance()

    # - and, or, not, parentheses

    def query(self) -> Node:
        if self.token.kind is _Kind.END:
            return Everyone()
        node = self.or_expr()
        rest = self.token
        if _is(rest, _Kind.PUNCT, ")"):
            self.fail("unmatched ')': there is no '(' before it")
        if rest.kind is not _Kind.END:
            self.fail(f"expected 'and', 'or' or the end of the query, found {_describe(rest)}")
        return node

    def or_expr(self) -> Node:
        return self.chain("or", self.and_expr, Or)

    def and_expr(self) -> Node:
        return self.chain("and", self.not_expr, And)

    def chain(self, keyword: str, operand: Callable[[], Node], combine: type[And | Or]) -> Node:
        operands = [operand()]
        while _is(self.token, _Kind.WORD, keyword):
            self.advance()
            operands.append(operand())
        if len(operands) == 1:
            return operands[0]
        # `(a or b) or c` means `a or b or c`: one flat Or, so equal queries get equal trees.
        flat = [
            inner
            for node in operands
            for inner in (node.operands if isinstance(node, combine) else (node,))
        ]
        return combine(tuple(flat))

    def not_expr(self) -> Node:
        if not _is(self.token, _Kind.WORD, "not"):
            return self.atom()
        self.advance()
        return Not(self.nested(self.not_expr))

    def atom(self) -> Node:
        if not _is(self.token, _Kind.PUNCT, "("):
            return self.predicate()
        opening = self.advance()
        node = self.nested(self.or_expr)
        if not _is(self.token, _Kind.PUNCT, ")"):
            where = f"the '(' at column {opening.position + 1}"
            self.fail(f"expected ')' to close {where}, found {_describe(self.token)}")
        self.advance()
        return node

    def nested(self, parse: Callable[[], Node]) -> Node:
        if self.depth >= MAX_DEPTH:
            self.fail(f"the query nests more than {MAX_DEPTH} levels of parentheses or not")
        self.depth += 1
        node = parse()
        self.depth -= 1
        return node

    # - conditions

    def predicate(self) -> Node:
        token = self.token
        if token.kind is not _Kind.WORD or token.text.lower() in _KEYWORDS:
            after = f" after '{self.tokens[self.index - 1].text}'" if self.index else ""
            self.fail(f"expected a condition{after}, found {_describe(token)}")
        word = self.name("a condition", token.position)
        if word.text in _BUILTINS:
            return self.builtin(word, _BUILTINS[word.text])
        if word.text in _EVENTS or word.text in _ALIASES:
            return self.event(word)
        handlers: dict[str, Callable[[_Token], Node]] = {
            "tag": lambda word: HasTag(self.quoted(word, "vip")),
            "interest": lambda word: HasInterest(self.quoted(word, "running")),
            "has": self.reachable,
            "bucket": self.bucket,
            "last_inbound": lambda word: LastInbound(self.comparison(word), self.ago(word, "-7d")),
            "fields": self.custom_field,
        }
        if word.text not in handlers:
            self.unknown(word)
        return handlers[word.text](word)

    def unknown(self, word: _Token) -> NoReturn:
        # Guess what was meant from what follows: `color = ...`, `refund.count()`, or neither.
        if self.token.kind is _Kind.OP:
            message = f"custom fields are written fields.{word.text}"
            self.fail(f"unknown field '{word.text}': {message}", word)
        if _is(self.token, _Kind.PUNCT, "."):
            self.fail(f"unknown event '{word.text}': expected one of {', '.join(_EVENTS)}", word)
        self.fail(f"unknown condition '{word.text}': expected {_CONDITIONS}", word)

    def quoted(self, word: _Token, example: str) -> str:
        """The name in `tag("vip")` or `interest("running")`."""
        self.punct("(", word.position)
        token = self.token
        if token.kind is _Kind.WORD:
            self.fail(f'{word.text} names are quoted: {word.text}("{token.text}")')
        if token.kind is not _Kind.STRING:
            self.expected(
                f'a quoted {word.text} name such as {word.text}("{example}")', word.position
            )
        if not token.string:
            self.fail(f"a {word.text} name cannot be empty")
        self.advance()
        self.punct(")", word.position)
        return token.string

    def reachable(self, word: _Token) -> Reachable:
        self.punct("(", word.position)
        if self.token.kind is _Kind.STRING:
            self.fail(f"channels are written without quotes: has({self.token.string})")
        channel = self.name(f"a channel ({', '.join(_CHANNELS)})", word.position)
        if channel.text not in _CHANNELS:
            known = ", ".join(_CHANNELS)
            self.fail(f"unknown channel '{channel.text}': expected one of {known}", channel)
        self.punct(")", word.position)
        return Reachable(channel.text)

    def bucket(self, word: _Token) -> Bucket:
        op = self.comparison(word)
        token = self.token
        if token.kind is not _Kind.NUMBER:
            self.expected("a whole number from 0 to 10000", word.position)
        if "." in token.text:
            self.fail(f"bucket is compared with a whole number, found {token.text}")
        # Decimal first: int() of a very long run of digits would refuse it with another error.
        number = Decimal(token.text)
        if not 0 <= number <= 10000:
            self.fail(f"bucket ranges from 0 to 10000, found {token.text}")
        self.advance()
        return Bucket(op, int(number))

    def builtin(self, word: _Token, field: Builtin) -> Compare:
        op = self.comparison(word)
        if field is Builtin.CREATED_AT:
            return Compare(field, op, self.ago(word, "-30d"))
        self.unquoted()
        if self.token.kind is not _Kind.STRING:
            self.fail(f'{word.text} is compared with a string such as "{_EXAMPLES[field]}"')
        return Compare(field, op, self.advance().string)

    def custom_field(self, word: _Token) -> Compare:
        self.punct(".", word.position)
        key = self.name("a field key such as fields.city", word.position)
        op_token = self.token
        op = self.comparison(word)
        value = self.value(word)
        # Booleans have no order a person would rely on; `fields.vip > false` is a mistake.
        if isinstance(value, bool) and op not in (Op.EQ, Op.NE):
            self.fail("true and false are compared with = or !=", op_token)
        return Compare(key.text, op, value)

    def event(self, word: _Token) -> EventCondition:
        kind = _ALIASES.get(word.text, word.text)
        self.punct(".", word.position)
        aggregates = tuple(aggregate.value for aggregate in Aggregate)
        aggregate = Aggregate(
            self.name("count(...), sum(...) or last", word.position, aggregates).text
        )
        if aggregate is Aggregate.LAST:
            op = self.comparison(word)
            ago = self.ago(word, "-1h", f"{word.text}.last")
            return EventCondition(kind, Aggregate.LAST, None, op, ago)
        window = self.window(word)
        op = self.comparison(word)
        if self.token.kind is not _Kind.NUMBER:
            self.expected("a number", word.position)
        return EventCondition(kind, aggregate, window, op, self.number())

    # - comparisons and values

    def comparison(self, word: _Token) -> Op:
        if self.token.kind is not _Kind.OP:
            self.expected("a comparison", word.position)
        text = self.advance().text
        return Op.EQ if text == "==" else Op(text)

    def value(self, word: _Token) -> Value:
        token = self.token
        if token.kind is _Kind.STRING:
            return self.advance().string
        if token.kind is _Kind.NUMBER:
            return self.number()
        if token.kind is _Kind.SPAN:
            return self.ago(word, "-7d")
        if _is(token, _Kind.WORD, "true") or _is(token, _Kind.WORD, "false"):
            return self.advance().text.lower() == "true"
        self.unquoted()
        self.expected(
            "a value (a string, a number, true, false or a time such as -7d)", word.position
        )

    def unquoted(self) -> None:
        """A bare word where a value belongs is nearly always a string without its quotes."""
        token = self.token
        if token.kind is _Kind.WORD and token.text.lower() not in _KEYWORDS:
            self.fail(f'strings are quoted: "{token.text}"')

    def number(self) -> Decimal:
        return Decimal(self.advance().text)

    def ago(self, word: _Token, example: str, subject: str = "") -> Ago:
        token = self.token
        if token.kind is not _Kind.SPAN:
            self.fail(f"{subject or word.text} is compared with a relative time such as {example}")
        if not token.text.startswith("-"):
            self.fail(f"a time before now is negative: write -{token.text}")
        span = self.span()
        self.advance()
        return Ago(span)

    def window(self, word: _Token) -> timedelta | None:
        """`(30d)`, or `()` for all time."""
        self.punct("(", word.position)
        if _is(self.token, _Kind.PUNCT, ")"):
            self.advance()
            return None
        if self.token.kind is not _Kind.SPAN:
            self.expected("a window such as 30d, or ')'", word.position)
        if self.token.text.startswith("-"):
            self.fail("a window is a length of time such as 30d, without a minus")
        span = self.span()
        if not span:
            self.fail("a window must be longer than 0")
        self.advance()
        self.punct(")", word.position)
        return span

    def span(self) -> timedelta:
        """The length of the current SPAN token (`-7d` is seven days: its sign is the caller's)."""
        text = self.token.text.lstrip("-")
        try:
            return timedelta(**{_UNITS[text[-1]]: int(text[:-1])})
        except (OverflowError, ValueError):  # past timedelta's 999,999,999 days
            self.fail(f"'{self.token.text}' is too long a time")
