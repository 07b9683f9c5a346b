"""Per-message rates by market and category, loaded from a CSV rate card: WhatsApp's
template categories, and the units SMS providers bill (`sms` per segment, `mms` per message).

The card is a CSV file with the columns ``market, category, price, currency, effective_from``
(one rate per row; blank lines and lines starting with ``#`` are skipped). A market is an ISO
3166 region code (``BR``) or ``*`` for every market without rows of its own ("rest of world").
A rate applies from its ``effective_from`` date until the next row for the same market and
category. The card shipped in ``threadline/pricing/data/rate_card.csv`` holds sample values.

Loading is all or nothing: every row is checked, every problem is reported with its line and
column, and a card with any problem is not returned at all.
"""

from __future__ import annotations

import bisect
import csv
import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from importlib import resources
from os import PathLike
from pathlib import Path

import phonenumbers

__all__ = [
    "ANY_MARKET",
    "COLUMNS",
    "Rate",
    "RateCard",
    "RateCardError",
    "RateCardProblem",
    "RateCategory",
    "default_card",
    "load",
    "parse",
]

ANY_MARKET = "*"
COLUMNS: tuple[str, ...] = ("market", "category", "price", "currency", "effective_from")
# Categories every card must price for ANY_MARKET, so that any recipient has a rate.
_REQUIRED_FALLBACKS: tuple[str, ...] = ("marketing", "utility", "authentication")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_SHOWN = 20


class RateCategory(StrEnum):
    """The categories a rate card prices (the ``pricing.category`` values that cost money)."""

    MARKETING = "marketing"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"
    AUTHENTICATION_INTERNATIONAL = "authentication_international"
    SMS = "sms"  # one SMS segment (GSM-7 153/160 characters, UCS-2 67/70)
    MMS = "mms"  # one multimedia message


@dataclass(frozen=True, slots=True)
class Rate:
    market: str  # ISO 3166 region, or "*" when the recipient's market fell back to the default
    category: RateCategory
    price: Decimal  # per delivered message
    currency: str
    effective_from: date
    line: int  # where the row is in its CSV, for explanations


@dataclass(frozen=True, slots=True)
class RateCardProblem:
    line: int | None  # None: a problem of the whole card (e.g. a missing "*" row)
    column: str | None
    message: str

    def describe(self, source: str) -> str:
        where = source
        if self.line is not None:
            where += f" line {self.line}"
        if self.column is not None:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class RateCardError(ValueError):
    """A rate card that cannot be used; ``problems`` lists everything found wrong."""

    def __init__(self, source: str, problems: Iterable[RateCardProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = [p.describe(source) for p in self.problems[:_MAX_SHOWN]]
        if len(self.problems) > _MAX_SHOWN:
            lines.append(f"... and {len(self.problems) - _MAX_SHOWN} more problems")
        super().__init__("\n".join(lines))


class RateCard:
    """Validated rates, looked up by market, category and date. Build one with :func:`parse`,
    :func:`load` or :func:`default_card`."""

    def __init__(self, rates: Iterable[Rate], *, source: str) -> None:
        self.source = source
        index: dict[tuple[str, RateCategory], list[Rate]] = {}
        for rate in rates:
            index.setdefault((rate.market, rate.category), []).append(rate)
        for bucket in index.values():
            bucket.sort(key=lambda r: r.effective_from)
        self._index: Mapping[tuple[str, RateCategory], list[Rate]] = index
        self._dates = {key: [r.effective_from for r in bucket] for key, bucket in index.items()}
        currencies = {r.currency for bucket in index.values() for r in bucket}
        if len(currencies) != 1:
            raise ValueError(f"a rate card needs rates in exactly one currency, got {currencies}")
        self.currency: str = currencies.pop()

    def __iter__(self) -> Iterator[Rate]:
        for bucket in self._index.values():
            yield from bucket

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._index.values())

    @property
    def markets(self) -> frozenset[str]:
        return frozenset(market for market, _ in self._index)

    def rate(
        self,
        market: str | None,
        category: str,
        at: datetime | date,
        *,
        fallback: bool = True,
    ) -> Rate | None:
        """The rate in force on ``at`` for ``category`` in ``market``: the row with the latest
        ``effective_from`` on or before that date. A market without such a row (or ``None``)
        uses the ``*`` rows unless ``fallback`` is false. None when nothing applies.

        A datetime must be timezone-aware; its date is taken in its own zone, so pass
        ``at.astimezone(<WABA time zone>)`` to change rates at the WABA's midnight as Meta does.
        """
        wanted = RateCategory(category)
        day = _day(at)
        if market is not None:
            found = self._lookup(market.strip().upper(), wanted, day)
            if found is not None or not fallback:
                return found
        elif not fallback:
            return None
        return self._lookup(ANY_MARKET, wanted, day)

    def _lookup(self, market: str, category: RateCategory, day: date) -> Rate | None:
        key = (market, category)
        dates = self._dates.get(key)
        if not dates:
            return None
        position = bisect.bisect_right(dates, day)
        return self._index[key][position - 1] if position else None


def parse(text: str, *, source: str = "<rate card>") -> RateCard:
    """Build a rate card from CSV text; raise :class:`RateCardError` listing every problem."""
    problems: list[RateCardProblem] = []
    rates: list[Rate] = []
    header: dict[str, int] | None = None
    first_seen: dict[tuple[str, RateCategory, date], int] = {}
    currency: tuple[str, int] | None = None
    for number, fields in _rows(text, problems):
        if header is None:
            header = _header(number, fields, problems)
            if header is None:
                break
            continue
        rate = _row(number, fields, header, problems)
        if rate is None:
            continue
        key = (rate.market, rate.category, rate.effective_from)
        if key in first_seen:
            problems.append(
                RateCardProblem(
                    number,
                    "effective_from",
                    f"{rate.market} {rate.category} from {rate.effective_from} is already "
                    f"on line {first_seen[key]}",
                )
            )
            continue
        first_seen[key] = number
        if currency is None:
            currency = (rate.currency, number)
        elif rate.currency != currency[0]:
            problems.append(
                RateCardProblem(
                    number,
                    "currency",
                    f"{rate.currency!r} differs from {currency[0]!r} on line {currency[1]}: "
                    "a card holds rates in one currency",
                )
            )
            continue
        rates.append(rate)
    if header is None and not problems:
        problems.append(
            RateCardProblem(None, None, f"empty: expected a header {','.join(COLUMNS)}")
        )
    if not problems:
        problems.extend(_missing_fallbacks(rates))
    if problems:
        raise RateCardError(source, problems)
    return RateCard(rates, source=source)


def load(path: str | PathLike[str] | None = None) -> RateCard:
    """Load a rate card from a CSV file; ``None`` loads the one shipped with Threadline."""
    if path is None:
        return default_card()
    file = Path(path)
    return parse(file.read_text(encoding="utf-8-sig"), source=str(file))


@functools.cache
def default_card() -> RateCard:
    """The shipped rate card (sample values: see docs/pricing.md)."""
    text = (
        resources.files("threadline.pricing")
        .joinpath("data", "rate_card.csv")
        .read_text(encoding="utf-8-sig")
    )
    return parse(text, source="threadline/pricing/data/rate_card.csv")


_in_use: RateCard | None = None


def use_card(card: RateCard | None) -> None:
    """The card this process prices with (THREADLINE_RATE_CARD); None goes back to the shipped
    one. One deployment, one price list: the card is process-wide."""
    global _in_use
    _in_use = card


def configure(path: str | None) -> None:
    """Price with the card at `path` (or the shipped one); a bad card stops the start-up."""
    use_card(load(path) if path else None)


def current_card() -> RateCard:
    return _in_use or default_card()


# --- internals -----------------------------------------------------------------------------


def _day(at: datetime | date) -> date:
    if isinstance(at, datetime):
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"{at.isoformat()}: a naive datetime; give it a time zone")
        return at.date()
    return at


def _rows(text: str, problems: list[RateCardProblem]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for each line that is not blank or a comment."""
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            fields = next(csv.reader([line], strict=True))
        except csv.Error as exc:
            problems.append(RateCardProblem(number, None, f"not valid CSV ({exc})"))
            continue
        yield number, [field.strip() for field in fields]


def _header(
    number: int, fields: list[str], problems: list[RateCardProblem]
) -> dict[str, int] | None:
    names = [field.lower() for field in fields]
    unknown = [name for name in names if name not in COLUMNS]
    missing = [name for name in COLUMNS if name not in names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if unknown or missing or repeated:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown {', '.join(repr(n) for n in unknown)}")
        if repeated:
            parts.append(f"repeated {', '.join(repeated)}")
        problems.append(
            RateCardProblem(
                number,
                None,
                f"header must name the columns {','.join(COLUMNS)} ({'; '.join(parts)})",
            )
        )
        return None
    return {name: position for position, name in enumerate(names)}


def _row(
    number: int, fields: list[str], header: Mapping[str, int], problems: list[RateCardProblem]
) -> Rate | None:
    if len(fields) != len(header):
        problems.append(
            RateCardProblem(
                number, None, f"{len(fields)} fields, expected {len(header)} like the header"
            )
        )
        return None
    values = {name: fields[position] for name, position in header.items()}
    before = len(problems)

    def bad(column: str, message: str) -> None:
        problems.append(RateCardProblem(number, column, message))

    market = values["market"].upper()
    if market != ANY_MARKET and market not in phonenumbers.SUPPORTED_REGIONS:
        bad("market", f"{values['market']!r} is not an ISO 3166 region code (e.g. BR) or '*'")

    category: RateCategory | None = None
    try:
        category = RateCategory(values["category"].lower())
    except ValueError:
        bad(
            "category",
            f"{values['category']!r} is not one of {', '.join(c.value for c in RateCategory)}",
        )
    if category is RateCategory.AUTHENTICATION_INTERNATIONAL and market == ANY_MARKET:
        bad(
            "market",
            "authentication_international rates are per market; '*' is not allowed for them",
        )

    price: Decimal | None = None
    try:
        price = Decimal(values["price"])
    except InvalidOperation:
        bad("price", f"{values['price']!r} is not a number")
    else:
        if not price.is_finite() or price < 0:
            bad("price", f"{values['price']!r} must be a number of 0 or more")

    currency = values["currency"].upper()
    if not _CURRENCY.fullmatch(currency):
        bad("currency", f"{values['currency']!r} is not a three-letter currency code (e.g. USD)")

    effective: date | None = None
    try:
        if not _DATE.fullmatch(values["effective_from"]):
            raise ValueError
        effective = date.fromisoformat(values["effective_from"])
    except ValueError:
        bad("effective_from", f"{values['effective_from']!r} is not a date like 2025-07-01")

    if len(problems) > before or category is None or price is None or effective is None:
        return None
    return Rate(market, category, price, currency, effective, number)


def _missing_fallbacks(rates: Iterable[Rate]) -> Iterator[RateCardProblem]:
    present = {r.category.value for r in rates if r.market == ANY_MARKET}
    for category in _REQUIRED_FALLBACKS:
        if category not in present:
            yield RateCardProblem(
                None,
                None,
                f"no '*' (rest of world) row for {category}: every card needs one per "
                f"category ({', '.join(_REQUIRED_FALLBACKS)})",
            )
