"""The rate card: loading and validating CSV, and choosing the rate in force on a date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from threadline.pricing import (
    ANY_MARKET,
    RateCard,
    RateCardError,
    RateCategory,
    default_card,
    load,
    parse,
)

HEADER = "market,category,price,currency,effective_from"
FALLBACKS = """\
*,marketing,0.0600,USD,2025-01-01
*,utility,0.0080,USD,2025-01-01
*,authentication,0.0070,USD,2025-01-01
"""
CARD = f"""\
# test card
{HEADER}
{FALLBACKS}
BR,marketing,0.0625,USD,2025-07-01
BR,utility,0.0068,USD,2025-07-01
BR,utility,0.0080,USD,2026-01-01
BR,utility,0.0090,USD,2026-07-01
IN,authentication_international,0.0280,USD,2025-07-01
"""


def card() -> RateCard:
    return parse(CARD, source="test.csv")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def price(rates: RateCard, market: str | None, category: str, at: datetime) -> Decimal:
    rate = rates.rate(market, category, at)
    assert rate is not None, (market, category, at)
    return rate.price


def problems(text: str) -> list[tuple[int | None, str | None]]:
    with pytest.raises(RateCardError) as caught:
        parse(text, source="bad.csv")
    return [(p.line, p.column) for p in caught.value.problems]


# --- date selection ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "price"),
    [
        (utc(2025, 7, 1, 0, 0), "0.0068"),  # first day of the first row
        (utc(2025, 12, 31, 23, 59), "0.0068"),
        (utc(2026, 1, 1, 0, 0), "0.0080"),  # the change takes effect at midnight
        (utc(2026, 6, 30, 12, 0), "0.0080"),
        (utc(2026, 7, 1, 0, 0), "0.0090"),
        (utc(2030, 1, 1, 0, 0), "0.0090"),  # the latest row stays in force
        (date(2026, 2, 1), "0.0080"),  # a plain date works too
    ],
)
def test_latest_rate_on_or_before_the_date(at: datetime | date, price: str) -> None:
    rate = card().rate("BR", "utility", at)
    assert rate is not None
    assert rate.price == Decimal(price)
    assert rate.market == "BR"


def test_rows_may_come_in_any_order() -> None:
    rates = parse(
        f"{HEADER}\nBR,utility,0.0080,USD,2026-01-01\n{FALLBACKS}BR,utility,0.0068,USD,2025-07-01\n"
    )
    assert price(rates, "BR", "utility", utc(2025, 9, 1)) == Decimal("0.0068")
    assert price(rates, "BR", "utility", utc(2026, 9, 1)) == Decimal("0.0080")


def test_date_is_taken_in_the_zone_of_at() -> None:
    # 23:30 UTC on new year's eve is already 2026-01-01 in Berlin, still 2025 in UTC.
    at = utc(2025, 12, 31, 23, 30)
    berlin_winter = timezone(timedelta(hours=1))
    assert price(card(), "BR", "utility", at) == Decimal("0.0068")
    assert price(card(), "BR", "utility", at.astimezone(berlin_winter)) == Decimal("0.0080")


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        card().rate("BR", "utility", datetime(2026, 1, 1))


def test_nothing_in_force_before_the_first_row() -> None:
    assert card().rate("BR", "marketing", utc(2024, 12, 31)) is None


# --- fallback to "*" -----------------------------------------------------------------------


def test_market_without_rows_uses_rest_of_world() -> None:
    rate = card().rate("JP", "marketing", utc(2026, 1, 1))
    assert rate is not None
    assert (rate.market, rate.price) == (ANY_MARKET, Decimal("0.0600"))


def test_unknown_market_uses_rest_of_world() -> None:
    assert price(card(), None, "utility", utc(2026, 1, 1)) == Decimal("0.0080")


def test_market_with_rows_for_another_category_falls_back_for_this_one() -> None:
    rate = card().rate("BR", "authentication", utc(2026, 1, 1))
    assert rate is not None and rate.market == ANY_MARKET


def test_market_row_not_yet_in_force_falls_back() -> None:
    # BR marketing starts 2025-07-01; before that BR was "rest of world".
    rate = card().rate("BR", "marketing", utc(2025, 3, 1))
    assert rate is not None and (rate.market, rate.price) == (ANY_MARKET, Decimal("0.0600"))


def test_fallback_can_be_turned_off() -> None:
    rates = card()
    assert rates.rate("JP", "marketing", utc(2026, 1, 1), fallback=False) is None
    assert rates.rate(None, "marketing", utc(2026, 1, 1), fallback=False) is None
    assert rates.rate("IN", "authentication_international", utc(2026, 1, 1), fallback=False)


def test_market_is_case_insensitive() -> None:
    rate = card().rate(" br ", "marketing", utc(2026, 1, 1))
    assert rate is not None and rate.market == "BR"


def test_unknown_category_is_an_error() -> None:
    with pytest.raises(ValueError):
        card().rate("BR", "service", utc(2026, 1, 1))


# --- the shipped card ----------------------------------------------------------------------

SHIPPED_MARKETS = {"BR", "MX", "CO", "AR", "US", "GB", "DE", "ES", "FR", "IT", "IN", "ID", "NG"}
SHIPPED_MARKETS |= {"ZA", ANY_MARKET}


def test_shipped_card_prices_every_listed_market_and_category() -> None:
    rates = default_card()
    assert rates.currency == "USD"
    assert rates.markets >= SHIPPED_MARKETS
    for market in SHIPPED_MARKETS:
        for category in ("marketing", "utility", "authentication"):
            rate = rates.rate(market, category, utc(2026, 3, 10), fallback=False)
            assert rate is not None, (market, category)
            assert Decimal(0) < rate.price < Decimal(1)
    for market in ("IN", "ID", "NG", "ZA"):
        assert rates.rate(market, "authentication_international", utc(2026, 3, 10), fallback=False)


def test_shipped_card_has_a_market_with_two_dates() -> None:
    dates = {(r.market, r.category): set[date]() for r in default_card()}
    for r in default_card():
        dates[(r.market, r.category)].add(r.effective_from)
    assert any(len(days) > 1 for days in dates.values())


def test_shipped_card_says_it_holds_sample_values() -> None:
    text = Path(__file__).parents[2].joinpath("src/threadline/pricing/data/rate_card.csv")
    assert "SAMPLE VALUES" in text.read_text(encoding="utf-8").splitlines()[0]


def test_load_without_path_is_the_shipped_card() -> None:
    assert load() is default_card()


def test_load_replaces_the_card_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("\ufeff" + CARD.replace("USD", "EUR"), encoding="utf-8")  # Excel's BOM
    mine = load(path)
    assert mine.currency == "EUR"
    assert mine.source == str(path)
    assert len(mine) == 8


# --- validation ----------------------------------------------------------------------------


def test_comments_blank_lines_spaces_and_case_are_accepted() -> None:
    text = (
        "\n# comment\n MARKET , Category,price,currency,effective_from\n\n"
        "  # indented comment\n"
        " *, MARKETING , 0.06 ,usd, 2025-01-01\n*,utility,0,USD,2025-01-01\n"
        "*,authentication,0.007,USD,2025-01-01\nbr,marketing,1E-2,USD,2025-01-01\n"
    )
    rates = parse(text)
    assert price(rates, "BR", RateCategory.MARKETING, utc(2025, 2, 1)) == Decimal("0.01")
    assert price(rates, "XK", "utility", utc(2025, 2, 1)) == 0
    assert rates.currency == "USD"


def test_columns_may_be_in_any_order() -> None:
    text = "currency,effective_from,price,category,market\n" + "\n".join(
        f"USD,2025-01-01,0.01,{c},*" for c in ("marketing", "utility", "authentication")
    )
    assert price(parse(text), "BR", "utility", utc(2025, 2, 1)) == Decimal("0.01")


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("UK,marketing,0.05,USD,2025-07-01", "market"),  # GB is the ISO code
        ("Brazil,marketing,0.05,USD,2025-07-01", "market"),
        (",marketing,0.05,USD,2025-07-01", "market"),
        ("BR,promo,0.05,USD,2025-07-01", "category"),
        ("BR,service,0.05,USD,2025-07-01", "category"),
        ("BR,marketing,abc,USD,2025-07-01", "price"),
        ("BR,marketing,,USD,2025-07-01", "price"),
        ("BR,marketing,-0.01,USD,2025-07-01", "price"),
        ("BR,marketing,NaN,USD,2025-07-01", "price"),
        ("BR,marketing,Infinity,USD,2025-07-01", "price"),
        ("BR,marketing,0.05,US$,2025-07-01", "currency"),
        ("BR,marketing,0.05,USD,2025-13-01", "effective_from"),
        ("BR,marketing,0.05,USD,01/07/2025", "effective_from"),
        ("BR,marketing,0.05,USD,20250701", "effective_from"),
        ("*,authentication_international,0.05,USD,2025-07-01", "market"),
        ("BR,marketing,0.05,EUR,2025-07-01", "currency"),  # the card is in USD
    ],
)
def test_bad_value_names_line_and_column(row: str, column: str) -> None:
    text = f"# comment\n{HEADER}\n{FALLBACKS}{row}\n"
    assert problems(text) == [(6, column)]


def test_error_message_names_source_line_and_column() -> None:
    text = f"{HEADER}\n{FALLBACKS}BR,marketing,abc,USD,2025-07-01\n"
    with pytest.raises(RateCardError, match=r"^bad\.csv line 5, column price: 'abc'"):
        parse(text, source="bad.csv")


def test_every_problem_is_reported_and_nothing_is_loaded() -> None:
    text = (
        f"{HEADER}\n{FALLBACKS}"
        "BR,marketing,0.05,USD,2025-07-01\n"
        "BR,marketting,0.05,USD,2025-07-01\n"  # line 6
        "XX1,utility,x,USD,2025-07-01\n"  # line 7: two bad columns
        "BR,marketing,0.06,USD,2025-07-01\n"  # line 8: same market/category/date as line 5
        "BR,utility,0.01,USD\n"  # line 9: a field short
        'BR,"utility,0.01,USD,2025-07-01\n'  # line 10: broken quoting
    )
    assert problems(text) == [
        (6, "category"),
        (7, "market"),
        (7, "price"),
        (8, "effective_from"),
        (9, None),
        (10, None),
    ]


def test_duplicate_names_the_first_line() -> None:
    text = f"{HEADER}\n{FALLBACKS}*,utility,0.01,USD,2025-01-01\n"
    with pytest.raises(RateCardError, match="already on line 3"):
        parse(text)


@pytest.mark.parametrize(
    "header",
    [
        "market,category,price,currency",  # missing effective_from
        "market,category,price,currency,effective_from,note",
        "market,category,price,price,currency,effective_from",
        "country,category,price,currency,effective_from",
    ],
)
def test_bad_header_is_reported_on_its_line(header: str) -> None:
    assert problems(f"# comment\n{header}\n{FALLBACKS}") == [(2, None)]


@pytest.mark.parametrize("text", ["", "# only a comment\n\n"])
def test_empty_card_is_an_error(text: str) -> None:
    assert problems(text) == [(None, None)]


def test_card_without_rest_of_world_rows_is_an_error() -> None:
    text = f"{HEADER}\n*,marketing,0.06,USD,2025-01-01\nBR,utility,0.01,USD,2025-01-01\n"
    with pytest.raises(RateCardError) as caught:
        parse(text)
    missing = [p.message for p in caught.value.problems]
    assert len(missing) == 2
    assert "utility" in missing[0] and "authentication" in missing[1]
    assert all(p.line is None for p in caught.value.problems)


def test_long_problem_lists_are_shortened() -> None:
    rows = "\n".join(f"BR,marketing,x,USD,2025-07-{day:02d}" for day in range(1, 31))
    with pytest.raises(RateCardError) as caught:
        parse(f"{HEADER}\n{FALLBACKS}{rows}\n")
    assert len(caught.value.problems) == 30
    assert str(caught.value).endswith("... and 10 more problems")
