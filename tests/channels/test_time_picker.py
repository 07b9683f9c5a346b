"""A time picker written once: Apple's own picker, a list or numbered choices elsewhere, the
times always said in the event's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from threadline.channels import messages as m
from threadline.channels import registry
from threadline.channels.adapter import Envelope
from threadline.channels.kinds import Channel

# Tuesday 10 March 2026, 14:00 and 15:30 in New York (EDT since the 8th: UTC-4).
PICKER = m.TimePicker(
    body="When shall we deliver?",
    slots=[
        m.TimeSlot(
            id="slot-1", start=datetime(2026, 3, 10, 18, 0, tzinfo=UTC), duration_minutes=30
        ),
        m.TimeSlot(
            id="slot-2", start=datetime(2026, 3, 10, 19, 30, tzinfo=UTC), duration_minutes=60
        ),
    ],
    timezone="America/New_York",
)


def rendered(kind: Channel, to: str) -> dict[str, Any]:
    return registry.adapter(kind).render(PICKER, Envelope(to=to, callback_data="msg_1"))


def test_apple_shows_its_own_picker_in_the_events_zone() -> None:
    body = rendered(Channel.APPLE, "urn:mbid:person")
    event = body["interactiveData"]["data"]["event"]
    assert [s["identifier"] for s in event["timeslots"]] == ["slot-1", "slot-2"]
    assert [s["duration"] for s in event["timeslots"]] == [1800, 3600]
    assert event["timezoneOffset"] == -240


def test_whatsapp_lists_the_slots_as_rows_with_local_times() -> None:
    body = rendered(Channel.WHATSAPP, "15551234567")
    rows = body["interactive"]["action"]["sections"][0]["rows"]
    assert [(r["id"], r["title"], r["description"]) for r in rows] == [
        ("slot-1", "Tue 10 Mar, 14:00", "30 min"),
        ("slot-2", "Tue 10 Mar, 15:30", "60 min"),
    ]


def test_sms_numbers_the_slots() -> None:
    body = rendered(Channel.SMS, "+12125550123")
    assert "1. Tue 10 Mar, 14:00" in body["Body"]
    assert "2. Tue 10 Mar, 15:30" in body["Body"]


def test_an_unknown_zone_is_refused_where_it_is_written() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        m.TimePicker(body="When?", slots=PICKER.slots, timezone="Mars/Olympus")
