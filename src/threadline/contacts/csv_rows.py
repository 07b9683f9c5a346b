"""One row of a contacts CSV file: the columns, and a row read into a contact that is known
to be valid (addresses, custom fields, an imported opt-in, the contact limits), so that
writing cannot fail half-way through a file.

Columns: name, language, timezone, phone (gives tel: and whatsapp:), whatsapp, email,
urns (";"-separated URNs), tags, interests (";"-separated), field:<key> for custom fields,
and for recorded opt-ins: consent_topic, consent_channels (";"-separated), consent_text,
consent_version, consented_at (ISO 8601 with offset)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from threadline.channels.kinds import Channel
from threadline.consent.projection import TRANSACTIONAL
from threadline.contacts import service
from threadline.contacts.schemas import ContactIn
from threadline.contacts.urns import URN, phone_to_urns
from threadline.kit.errors import InvalidInput

BASE_COLUMNS = (
    "name",
    "language",
    "timezone",
    "phone",
    "whatsapp",
    "email",
    "urns",
    "tags",
    "interests",
    "consent_topic",
    "consent_channels",
    "consent_text",
    "consent_version",
    "consented_at",
)
# Written by export for reference; a new workspace gives new ids, so import ignores them.
EXPORT_ONLY_COLUMNS = ("id", "created_at")
FIELD_PREFIX = "field:"
# Same tolerance as the consent ledger gives for clocks that run a little ahead.
FUTURE_TOLERANCE = timedelta(minutes=5)
# A cell starting with one of these runs as a formula when the file is opened in a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ContactRow:
    line: int
    name: str
    language: str | None
    timezone: str | None
    urns: list[URN]
    tags: list[str]
    interests: list[str]
    fields: dict[str, Any]
    consent_topic: str | None
    consent_channels: list[str]
    consent_text: str | None
    consent_version: str | None
    consented_at: datetime | None


def defuse(cell: str) -> str:
    """Export: quote a would-be formula with a leading apostrophe (import removes it)."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def undefuse(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _get(raw: dict[str, str], column: str) -> str:
    return undefuse((raw.get(column) or "").strip())


def _addresses(raw: dict[str, str], default_region: str | None) -> list[URN]:
    urns: list[URN] = []
    if _get(raw, "phone"):
        # phone_to_urns reads a national number with the default region for both addresses;
        # a "whatsapp:" URN would take its digits as already international.
        try:
            urns += phone_to_urns(_get(raw, "phone"), default_region)
        except ValueError as exc:
            raise InvalidInput(str(exc), where="phone") from exc
    urn_texts: list[str] = []
    if _get(raw, "whatsapp"):
        urn_texts.append(f"whatsapp:{_get(raw, 'whatsapp')}")
    if _get(raw, "email"):
        urn_texts.append(f"mailto:{_get(raw, 'email')}")
    urn_texts += split(_get(raw, "urns"))
    if not urns and not urn_texts:
        raise InvalidInput("no address: give phone, whatsapp, email or urns", where="phone")
    try:
        parsed = service.parse_urns(urn_texts, default_region, where="address")
    except InvalidInput as exc:
        raise InvalidInput(exc.message, where="address") from exc
    return urns + [urn for urn in parsed if urn not in urns]


def _custom_fields(raw: dict[str, str], field_types: dict[str, Any]) -> dict[str, Any]:
    fields = {}
    for column, value in raw.items():
        if column.startswith(FIELD_PREFIX) and value.strip():
            key = column[len(FIELD_PREFIX) :]
            fields[key] = service.coerce_field(
                key, undefuse(value.strip()), field_types[key], column
            )
    return fields


def _opt_in(
    raw: dict[str, str], topic: str, channels: list[str], topics: set[str], now: datetime
) -> datetime | None:
    """Checks an imported opt-in; returns when it was given, if the row says."""
    if topic not in topics and topic != TRANSACTIONAL:
        raise InvalidInput(f"unknown topic '{topic}'", where="consent_topic")
    if not channels:
        raise InvalidInput("consent_topic needs consent_channels", where="consent_channels")
    for channel in channels:
        if channel not in {c.value for c in Channel}:
            raise InvalidInput(f"unknown channel '{channel}'", where="consent_channels")
    if not _get(raw, "consent_text") or not _get(raw, "consent_version"):
        raise InvalidInput(
            "an imported opt-in needs consent_text and consent_version", where="consent_text"
        )
    if not _get(raw, "consented_at"):
        return None
    try:
        consented_at = datetime.fromisoformat(_get(raw, "consented_at"))
    except ValueError as exc:
        raise InvalidInput("not an ISO 8601 date-time", where="consented_at") from exc
    if consented_at.tzinfo is None:
        raise InvalidInput("needs a time zone offset (e.g. Z)", where="consented_at")
    # The ledger refuses future opt-ins; say so here, with the row, not while writing.
    if consented_at > now + FUTURE_TOLERANCE:
        raise InvalidInput("is in the future", where="consented_at")
    return consented_at


def _check_limits(
    name: str, urns: list[URN], language: str | None, tags: list[str], interests: list[str]
) -> None:
    try:
        # The limits a contact must meet (name and language length, counts), checked now so
        # that writing cannot fail half-way without saying which row was wrong.
        ContactIn(
            name=name,
            urns=[str(u) for u in urns],
            language=language,
            tags=tags,
            interests=interests,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(first["msg"], where=str(first["loc"][0])) from exc


def parse_row(
    line: int,
    raw: dict[str, str],
    *,
    default_region: str | None,
    field_types: dict[str, Any],
    topics: set[str],
    now: datetime,
) -> ContactRow:
    """One row, checked; raises InvalidInput naming the column of the first fault."""
    urns = _addresses(raw, default_region)
    fields = _custom_fields(raw, field_types)
    topic = _get(raw, "consent_topic") or None
    channels = split(_get(raw, "consent_channels"))
    consented_at = _opt_in(raw, topic, channels, topics, now) if topic is not None else None
    name = _get(raw, "name")
    language = _get(raw, "language") or None
    tags = service.clean_tags(split(_get(raw, "tags")))
    interests = split(_get(raw, "interests"))
    _check_limits(name, urns, language, tags, interests)
    return ContactRow(
        line=line,
        name=name,
        language=language,
        timezone=service.check_timezone(_get(raw, "timezone") or None),
        urns=urns,
        tags=tags,
        interests=interests,
        fields=fields,
        consent_topic=topic,
        consent_channels=channels,
        consent_text=_get(raw, "consent_text") or None,
        consent_version=_get(raw, "consent_version") or None,
        consented_at=consented_at,
    )
