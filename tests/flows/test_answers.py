"""Reading what a person typed as the value a question expects: each reader returns the
normalised value, or None when the answer is not one."""

from __future__ import annotations

from datetime import date

import pytest

from threadline.channels.choices import Choice
from threadline.flows import answers

TODAY = date(2026, 3, 10)  # a Tuesday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ana@example.com", "ana@example.com"),
        ("  ana@example.com  ", "ana@example.com"),
        ("Ana.Souza+crm@Example.COM", "Ana.Souza+crm@example.com"),  # domain lower-cased
        ("agent@example.com", "agent@example.com"),
        ("josé@exemplo.com.br", "josé@exemplo.com.br"),
        ("ana@", None),
        ("ana.example.com", None),
        ("ana@example", None),
        ("ana @example.com", None),
        ("my email is ana@example.com", None),
        ("", None),
    ],
)
def test_email(text: str, expected: str | None) -> None:
    assert answers.email(text) == expected


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("+44 20 7946 0958", None, "+442079460958"),
        ("+44 20 7946 0958", "BR", "+442079460958"),  # a country code beats the region
        ("020 7946 0958", "GB", "+442079460958"),
        ("020 7946 0958", None, None),  # no country code and no region: unknowable
        ("+55 11 98765-4321", None, "+5511987654321"),
        ("(11) 98765-4321", "BR", "+5511987654321"),
        ("+1 (650) 253-0000", None, "+16502530000"),
        ("650.253.0000", "US", "+16502530000"),
        ("12345", "GB", None),  # parses, but no such number
        ("call me", "GB", None),
        ("", "GB", None),
    ],
)
def test_phone(text: str, region: str | None, expected: str | None) -> None:
    assert answers.phone(text, region) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("  42  ", 42),
        ("-5", -5),
        ("0", 0),
        ("12.5", 12.5),
        ("12,5", 12.5),  # decimal comma
        ("1,500", 1500),  # thousands separators, either mark
        ("1.500", 1500),
        ("1 500", 1500),
        ("1,234,567", 1234567),
        ("1,234.50", 1234.5),
        ("R$ 1.234,56", 1234.56),
        ("1,234,567.89", 1234567.89),
        ("$2,000", 2000),
        ("2k", 2000),
        ("2K", 2000),
        ("2 k", 2000),
        ("1.5k", 1500),
        ("1.5m", 1_500_000),
        ("about 30 people", 30),
        ("3 kids", 3),
        ("5 km", 5),  # km is no thousand
        ("10%", 10),
        ("1,000.", 1000),
        ("lots", None),
        ("", None),
        ("1,2,3", None),
        ("1.2.3", None),
        ("1,5.3", None),
    ],
)
def test_number(text: str, expected: float | None) -> None:
    value = answers.number(text, None, None)
    assert value == expected
    if isinstance(expected, int):
        assert isinstance(value, int)  # shown as "1500", not "1500.0"


@pytest.mark.parametrize(
    ("text", "low", "high", "expected"),
    [
        ("1", 1, 10, 1),
        ("10", 1, 10, 10),
        ("0", 1, 10, None),
        ("11", 1, 10, None),
        ("2k", None, 1000, None),
        ("2k", 1000, None, 2000),
        ("-1", 0, None, None),
    ],
)
def test_number_in_range(text: str, low: float | None, high: float | None, expected: int) -> None:
    assert answers.number(text, low, high) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-04-01", "2026-04-01"),
        ("2026-4-1", "2026-04-01"),
        ("01/04/2026", "2026-04-01"),  # day first
        ("1.4.2026", "2026-04-01"),
        ("01-04-2026", "2026-04-01"),
        ("25/12", "2026-12-25"),  # no year: the next such day
        ("  25/12 ", "2026-12-25"),
        ("10/03", "2026-03-10"),  # today still counts
        ("09/03", "2027-03-09"),  # already past this year
        ("5/1", "2027-01-05"),
        ("today", "2026-03-10"),
        ("tomorrow", "2026-03-11"),
        ("Tomorrow!", "2026-03-11"),
        ("amanhã", "2026-03-11"),
        ("mañana", "2026-03-11"),
        ("hoy", "2026-03-10"),
        ("hoje", "2026-03-10"),
        ("demain", "2026-03-11"),
        ("aujourd'hui", "2026-03-10"),
        ("31/02", None),
        ("32/01", None),
        ("12/25", None),  # month first is not read
        ("next week", None),
        ("", None),
    ],
)
def test_date(text: str, expected: str | None) -> None:
    assert answers.day(text, TODAY) == expected


def test_a_day_without_a_year_in_late_december_is_next_year() -> None:
    assert answers.day("02/01", date(2026, 12, 30)) == "2027-01-02"


@pytest.mark.parametrize(
    ("text", "payload", "expected"),
    [
        ("yes", None, True),
        ("Yes!", None, True),
        ("Y", None, True),
        ("yep", None, True),
        ("OK", None, True),
        ("sí", None, True),  # es
        ("Sim", None, True),  # pt
        ("claro", None, True),
        ("vale", None, True),
        ("oui", None, True),  # fr
        ("ja", None, True),  # de
        ("1", None, True),  # its number in the list
        ("no", None, False),
        ("N", None, False),
        ("nope", None, False),
        ("não", None, False),  # pt
        ("non", None, False),  # fr
        ("nein", None, False),  # de
        ("2", None, False),
        ("", "yes", True),  # tapped
        ("Yes", "no", False),  # the tap wins over the text
        ("maybe", None, None),
        ("3", None, None),
        ("", None, None),
    ],
)
def test_yes_no(text: str, payload: str | None, expected: bool | None) -> None:
    assert answers.yes_no(text, payload) is expected


@pytest.mark.parametrize(
    ("text", "payload", "expected"),
    [
        ("", "4", 4),
        ("4", None, 4),
        ("5 - Excellent", None, 5),
        ("great", None, 5),
        ("Terrible", None, 1),
        ("bad", None, 2),
        ("okay", None, 3),
        ("⭐", None, 1),
        ("⭐⭐⭐⭐⭐", None, 5),
        ("⭐️⭐️⭐️", None, 3),  # with emoji presentation selectors
        ("★★", None, 2),
        ("⭐⭐⭐⭐⭐⭐", None, None),
        ("6", None, None),
        ("0", None, None),
        ("meh", None, None),
        ("", None, None),
    ],
)
def test_rating(text: str, payload: str | None, expected: int | None) -> None:
    assert answers.rating(text, payload) == expected


def test_free_text() -> None:
    assert answers.free_text("  Ana  ") == "Ana"
    assert answers.free_text(" \n ") is None


SIZES = (Choice("s", "Small", synonyms=("p",)), Choice("l", "Large"))


@pytest.mark.parametrize(
    ("kind", "text", "payload", "expected"),
    [
        ("choice", "large", None, "l"),
        ("choice", "2", None, "l"),
        ("choice", "P", None, "s"),
        ("choice", "", "s", "s"),
        ("choice", "medium", None, None),
        ("yes_no", "sim", None, True),
        ("email", "a@example.com", None, "a@example.com"),
        ("phone", "020 7946 0958", None, "+442079460958"),
        ("number", "1,500", None, None),  # above the high bound given below
        ("number", "15", None, 15),
        ("date", "tomorrow", None, "2026-03-11"),
        ("text", " hello ", None, "hello"),
    ],
)
def test_read_dispatches_on_the_kind(
    kind: str, text: str, payload: str | None, expected: object
) -> None:
    value = answers.read(
        kind, text, payload, choices=SIZES, low=1, high=100, region="GB", today=TODAY
    )
    assert value == expected
