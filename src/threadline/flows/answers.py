"""Reading a person's free-text answer as the value an `ask` expects. Each reader returns
the normalised value, or None when the answer is not one."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from threadline.channels.choices import Choice, match, plain

YES = frozenset(
    {"yes", "y", "yeah", "yep", "sure", "ok", "okay", "si", "sim", "oui", "ja", "claro", "vale"}
)
NO = frozenset({"no", "n", "nope", "nah", "nao", "non", "nein", "negative"})
YES_NO = (
    Choice(id="yes", title="Yes", synonyms=tuple(sorted(YES))),
    Choice(id="no", title="No", synonyms=tuple(sorted(NO))),
)
CSAT = (
    Choice(id="1", title="1 - Very poor", synonyms=("one", "very poor", "terrible")),
    Choice(id="2", title="2 - Poor", synonyms=("two", "poor", "bad")),
    Choice(id="3", title="3 - OK", synonyms=("three", "ok", "okay")),
    Choice(id="4", title="4 - Good", synonyms=("four", "good")),
    Choice(id="5", title="5 - Excellent", synonyms=("five", "excellent", "great")),
)
_STARS = frozenset("⭐★")
_NUMBER = re.compile(r"^[^\d-]*(-?\d[\d,. ]*)\s*([km])?\b", re.IGNORECASE)
_RELATIVE_DAYS = {
    "today": 0,
    "hoy": 0,
    "hoje": 0,
    "aujourd hui": 0,
    "tomorrow": 1,
    "manana": 1,
    "amanha": 1,
    "demain": 1,
}


def email(text: str) -> str | None:
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def phone(text: str, region: str | None) -> str | None:
    try:
        parsed = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def number(text: str, low: float | None, high: float | None) -> float | int | None:
    found = _NUMBER.match(text.strip())
    if not found:
        return None
    digits, suffix = found.groups()
    digits = digits.replace(" ", "").rstrip(",.")
    # "1,500" and "1.500" are thousands; "12,5" and "12.5" are decimals; with both marks
    # ("1.234,56", "1,234.56") the last one is the decimal point.
    if "," in digits and "." in digits:
        point = "," if digits.rfind(",") > digits.rfind(".") else "."
        grouped = re.escape("." if point == "," else ",")
        if not re.fullmatch(rf"-?\d{{1,3}}({grouped}\d{{3}})*{re.escape(point)}\d+", digits):
            return None
        digits = re.sub(grouped, "", digits).replace(point, ".")
    elif re.fullmatch(r"-?\d{1,3}([,.]\d{3})+", digits):
        digits = re.sub(r"[,.]", "", digits)
    digits = digits.replace(",", ".")
    try:
        value = float(digits)
    except ValueError:
        return None
    value *= {"k": 1000, "m": 1_000_000}.get((suffix or "").lower(), 1)
    if (low is not None and value < low) or (high is not None and value > high):
        return None
    return int(value) if value.is_integer() else value


def day(text: str, today: date) -> str | None:
    said = plain(text)
    if said in _RELATIVE_DAYS:
        return (today + timedelta(days=_RELATIVE_DAYS[said])).isoformat()
    raw = text.strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(raw, pattern).date().isoformat()
        except ValueError:
            continue
    try:  # day/month without a year: the next such day
        parsed = datetime.strptime(raw, "%d/%m").date().replace(year=today.year)
    except ValueError:
        return None
    return (parsed if parsed >= today else parsed.replace(year=today.year + 1)).isoformat()


def yes_no(text: str, payload: str | None) -> bool | None:
    found = match(text, YES_NO, payload)
    if found is None:
        return None
    return found.id == "yes"


def rating(text: str, payload: str | None) -> int | None:
    """A 1-5 satisfaction score: a tapped row, its number, a word or a row of stars (which
    choice matching cannot see: it ignores everything but letters and digits)."""
    found = match(text, CSAT, payload)
    if found is not None:
        return int(found.id)
    said = "".join(text.replace("\ufe0f", "").split())
    if said and set(said) <= _STARS and len(said) <= len(CSAT):
        return len(said)
    return None


def free_text(text: str) -> str | None:
    stripped = text.strip()
    return stripped or None


def read(
    kind: str,
    text: str,
    payload: str | None,
    *,
    choices: tuple[Choice, ...] = (),
    low: float | None = None,
    high: float | None = None,
    region: str | None = None,
    today: date,
) -> Any:
    """The value of an answer for an `ask` of this kind, or None when unrecognised."""
    if kind == "choice":
        found = match(text, choices, payload)
        return found.id if found else None
    if kind == "yes_no":
        return yes_no(text, payload)
    if kind == "email":
        return email(text)
    if kind == "phone":
        return phone(text, region)
    if kind == "number":
        return number(text, low, high)
    if kind == "date":
        return day(text, today)
    return free_text(text)
