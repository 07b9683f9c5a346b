"""Shared by the Messenger and Instagram fixture tests (and by anyone re-using their EXPECTED
events): compare parsed events without their `raw` copy, and check one captured fixture.

The fixtures are read from ../shared/fixtures/<channel> at test time, never copied here."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import SHARED, shared_fixtures
from threadline.channels.events import ChannelEvent, InboundMessage, Malformed, Referral

Expected = Mapping[str, list[ChannelEvent] | type[Exception]]
Parser = Callable[[Any], list[ChannelEvent]]
WITH_RAW = (InboundMessage, Referral, Malformed)


def comparable(events: Iterable[ChannelEvent]) -> list[ChannelEvent]:
    """The events with `raw` emptied: expectations name every field except the raw copy."""
    return [
        dataclasses.replace(event, raw={}) if isinstance(event, WITH_RAW) else event
        for event in events
    ]


def fixture_names(channel: str, expected: Expected) -> list[str]:
    """Every fixture file on disk, so a new capture without expectations fails; when the
    shared folder is absent, the expected names (each test then skips visibly)."""
    folder = SHARED / "fixtures" / channel
    if not folder.is_dir():
        return sorted(expected)
    return sorted(p.name for p in folder.glob("*.json"))


def load_fixture(channel: str, name: str) -> Any:
    path = shared_fixtures(channel) / name
    if not path.is_file():
        pytest.fail(f"{channel}/{name} has expectations but is missing from {path.parent}")
    return json.loads(path.read_text(encoding="utf-8"))


def check_fixture(channel: str, name: str, expected: Expected, parse: Parser) -> None:
    payload = load_fixture(channel, name)
    if name not in expected:
        pytest.fail(
            f"{channel}/{name} has no entry in EXPECTED: add its exact events to "
            f"tests/channels/{channel}/expected.py"
        )
    want = expected[name]
    if isinstance(want, type):
        with pytest.raises(want):
            parse(payload)
        return
    events = parse(payload)
    assert comparable(events) == comparable(want)
    for event in events:
        if isinstance(event, WITH_RAW):
            assert event.raw, f"{type(event).__name__} keeps the item it came from"
        stamp = getattr(event, "timestamp", None)
        if stamp is not None:
            assert stamp.utcoffset() == timedelta(0), "timestamps are timezone-aware UTC"
