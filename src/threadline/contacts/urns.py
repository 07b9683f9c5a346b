"""Contact URNs: parsing, canonicalisation and phone-number facts.

A contact is addressed on each channel by a URN ``<scheme>:<path>``. Every URN stored by the
application goes through :func:`parse_urn`, so that two spellings of the same address (``tel:+1
555-555-0123`` and ``TEL:+15555550123``) end up as the same row and are matched as one contact.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat
from phonenumbers import timezone as phone_timezone

__all__ = [
    "SCHEMES",
    "URN",
    "InvalidURN",
    "parse_urn",
    "phone_to_urns",
    "region_for_phone",
    "timezone_for_phone",
    "us_state_for_phone",
]

SCHEMES: frozenset[str] = frozenset(
    {"whatsapp", "messenger", "instagram", "apple", "tel", "mailto"}
)

APPLE_ID_MAX_LENGTH = 256

# Only the characters people really type into phone numbers. phonenumbers itself is lenient
# (vanity letters, "ext. 12", RFC 3966 parameters), and each of those would be silently
# dropped or rewritten by E.164 formatting, turning a typo into a different contact.
_PHONE_TEXT = re.compile(r"\+?[\d\s().\-/]+")
# WhatsApp business-scoped user ids: country code, a dot, digits (e.g. "US.13491208655302741918").
_BSUID = re.compile(r"[A-Z]{2}\.[0-9]+")
# Platform ids are ASCII digits; str.isdigit() would also let through e.g. Arabic-Indic digits.
_NUMERIC_ID = re.compile(r"[0-9]+")


class InvalidURN(ValueError):
    """A URN (or phone number) that cannot be used to address a contact."""


@dataclass(frozen=True, slots=True)
class URN:
    """A canonical contact URN.

    Build it with :func:`parse_urn`; the constructor does not validate, so a hand-built URN
    is only canonical if the caller made it so.
    """

    scheme: str
    path: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.path}"

    @property
    def phone_e164(self) -> str | None:
        """The E.164 phone number (``"+5511999990000"``) behind a tel: or numeric whatsapp: URN."""
        if self.scheme == "tel":
            return self.path
        if self.scheme == "whatsapp" and _NUMERIC_ID.fullmatch(self.path):
            return "+" + self.path
        return None


def parse_urn(raw: str, default_region: str | None = None) -> URN:
    """Parse and canonicalise a URN such as ``"tel:+1 555 555 0123"`` or ``"mailto:a@b.com"``.

    Surrounding whitespace is ignored and the scheme is case-insensitive. ``default_region``
    (ISO 3166 code, e.g. ``"US"``) is only used for tel: numbers written without a leading "+".

    Raises InvalidURN saying what is wrong with ``raw``, and ValueError for an unknown
    ``default_region`` (a programming error rather than bad input).
    """
    region = _check_region(default_region)
    text = raw.strip()
    if not text:
        raise InvalidURN("empty URN")
    scheme, sep, path = text.partition(":")
    scheme = scheme.strip().lower()
    path = path.strip()
    if not sep or not scheme:
        raise InvalidURN(
            f"{text!r}: missing scheme, expected '<scheme>:<path>' "
            f"with scheme one of {', '.join(sorted(SCHEMES))}"
        )
    if scheme not in SCHEMES:
        raise InvalidURN(
            f"{text!r}: unknown scheme {scheme!r}, expected one of {', '.join(sorted(SCHEMES))}"
        )
    if not path:
        raise InvalidURN(f"{scheme}: empty path")
    return URN(scheme, _CANONICALISERS[scheme](path, region))


def phone_to_urns(raw_phone: str, default_region: str | None = None) -> tuple[URN, URN]:
    """The ``(tel:, whatsapp:)`` URN pair for a phone number, e.g. from a contact import.

    The whatsapp: URN is the id WhatsApp would use for that number; whether the number actually
    has a WhatsApp account is not (and cannot be) checked here.
    """
    region = _check_region(default_region)
    e164 = _parse_phone(raw_phone.strip(), region, what=repr(raw_phone))
    return URN("tel", e164), URN("whatsapp", e164[1:])


def region_for_phone(e164: str) -> str | None:
    """ISO 3166 region (``"BR"``, ``"US"``) of an E.164 number; None if unknown or not valid."""
    region = _region_code(e164)
    # Non-geographic numbers (e.g. +800) belong to the pseudo-region "001".
    if not region or region in (phonenumbers.UNKNOWN_REGION, "001"):
        return None
    return region


@functools.lru_cache(maxsize=65_536)
def timezone_for_phone(e164: str) -> str | None:
    """IANA time zone of an E.164 number; None if unknown or not valid.

    A number can span several zones (e.g. a country-wide mobile range); the first one is taken,
    which is the best guess phonenumbers offers.
    """
    number = _valid_number(e164)
    if number is None:
        return None
    zones = phone_timezone.time_zones_for_number(number)
    if not zones or zones[0] == phone_timezone.UNKNOWN_TIMEZONE:
        return None
    return zones[0]


def us_state_for_phone(e164: str) -> str | None:
    """Two-letter US state (or "DC") of a +1 number's area code; None if not a known US code.

    Other +1 countries (Canada, the Caribbean) and US territories share the prefix, so the region
    phonenumbers assigns decides whether the number is in the United States at all.
    """
    number = _valid_number(e164)
    if number is None or _region_code(e164) != "US":
        return None
    return _us_area_codes().get(str(number.national_number)[:3])


# --- internals -----------------------------------------------------------------------------


def _check_region(default_region: str | None) -> str | None:
    if default_region is None:
        return None
    region = default_region.strip().upper()
    # A mistyped region would otherwise surface as "not a valid phone number" on every tel: URN.
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown default_region {default_region!r}, expected e.g. 'US' or 'BR'")
    return region


def _parse_phone(text: str, region: str | None, *, what: str) -> str:
    """Validate a phone number and return it in E.164 form; ``what`` names it in errors."""
    if not _PHONE_TEXT.fullmatch(text):
        raise InvalidURN(
            f"{what}: not a valid phone number "
            "(only digits, spaces, '+', '-', '.', '/' and parentheses are allowed)"
        )
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE and region is None:
            raise InvalidURN(
                f"{what}: not a valid phone number (no country code: write it as "
                "+<country code><number>, or give a default region)"
            ) from exc
        raise InvalidURN(f"{what}: not a valid phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidURN(f"{what}: not a valid phone number")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=65_536)
def _valid_number(e164: str) -> PhoneNumber | None:
    # Cached: the policy asks region, zone and state of the same numbers on every send.
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


@functools.lru_cache(maxsize=65_536)
def _region_code(e164: str) -> str | None:
    # Cached apart from the number: finding a +1 number's region tries every NANP country's
    # patterns, and a broadcast's planner and its policy ask it of every member's number.
    number = _valid_number(e164)
    return None if number is None else phonenumbers.region_code_for_number(number)


def _tel(path: str, region: str | None) -> str:
    return _parse_phone(path, region, what=f"tel:{path}")


def _whatsapp(path: str, region: str | None) -> str:
    if _BSUID.fullmatch(path):
        return path
    what = f"whatsapp:{path}"
    if not _PHONE_TEXT.fullmatch(path):
        raise InvalidURN(
            f"{what}: expected a phone number in international form "
            "or a business-scoped user id like 'US.13491208655302741918'"
        )
    # WhatsApp ids are always international ("5511999990000"), so digits without a "+" already
    # carry their country code; default_region would misread them as national numbers.
    international = path if path.startswith("+") else "+" + path
    return _parse_phone(international, None, what=what)[1:]


Normaliser = Callable[[str, str | None], str]


def _page_scoped(scheme: str, what: str) -> Normaliser:
    """Messenger PSIDs and Instagram IGSIDs: numeric ids the platform scopes to one Page or
    account; the inbox stores them as they arrive, so that is the one form accepted."""

    def normalise(path: str, region: str | None) -> str:
        if not _NUMERIC_ID.fullmatch(path):
            raise InvalidURN(f"{scheme}:{path}: the {what} must be numeric")
        return path

    return normalise


def _apple(path: str, region: str | None) -> str:
    if len(path) > APPLE_ID_MAX_LENGTH:
        raise InvalidURN(
            f"apple:{path[:32]}...: id too long ({len(path)} characters, "
            f"at most {APPLE_ID_MAX_LENGTH})"
        )
    if any(ch.isspace() or not ch.isprintable() for ch in path):
        raise InvalidURN(f"apple:{path!r}: id must not contain whitespace or control characters")
    return path


def _mailto(path: str, region: str | None) -> str:
    try:
        email = validate_email(path, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidURN(f"mailto:{path}: not a valid email address ({exc})") from exc
    # email-validator's normal form lower-cases the domain but keeps the local part as typed:
    # RFC 5321 lets a server treat "Ann" and "ann" as different mailboxes, so folding it here
    # could merge two real contacts. Case-insensitive matching, if wanted, belongs to the caller.
    return email.normalized


_CANONICALISERS: Mapping[str, Normaliser] = {
    "whatsapp": _whatsapp,
    "messenger": _page_scoped("messenger", "page-scoped id (PSID)"),
    "instagram": _page_scoped("instagram", "Instagram-scoped id (IGSID)"),
    "apple": _apple,
    "tel": _tel,
    "mailto": _mailto,
}


@functools.cache
def _us_area_codes() -> Mapping[str, str]:
    text = (
        resources.files("threadline.contacts.data")
        .joinpath("us_area_codes.json")
        .read_text(encoding="utf-8")
    )
    data = json.loads(text)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise RuntimeError("us_area_codes.json must map area code strings to state codes")
    return data
