"""Conformance: every captured Messenger webhook in ../shared/fixtures/messenger parses to exactly
the events in expected.py. The fixtures are read from the shared folder at test time and
never copied into this repository; a fixture without expectations fails."""

from __future__ import annotations

import json

import pytest

from tests.channels.messenger.expected import EXPECTED
from tests.channels.meta.compare import check_fixture, fixture_names, load_fixture
from tests.conftest import shared_fixtures
from threadline.channels import codec
from threadline.channels.adapter import WebhookFormatError
from threadline.channels.messenger.webhooks import parse

CHANNEL = "messenger"
NAMES = fixture_names(CHANNEL, EXPECTED)
PARSED = sorted(name for name, want in EXPECTED.items() if isinstance(want, list))


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_fixture_parses_as_expected(name: str) -> None:
    check_fixture(CHANNEL, name, EXPECTED, parse)


def test_every_expectation_has_its_fixture() -> None:
    on_disk = {p.name for p in shared_fixtures(CHANNEL).glob("*.json")}
    assert on_disk, f"no fixtures in ../shared/fixtures/{CHANNEL}"
    assert sorted(EXPECTED.keys() - on_disk) == [], "expectations for missing fixtures"


@pytest.mark.parametrize("name", PARSED, ids=PARSED)
def test_every_event_round_trips_through_the_codec(name: str) -> None:
    for event in parse(load_fixture(CHANNEL, name)):
        stored = json.loads(json.dumps(codec.dump(event)))
        loaded = codec.load(stored)
        assert loaded == event
        assert type(loaded) is type(event)


@pytest.mark.parametrize("channel", ["instagram", "whatsapp"])
def test_other_channels_fixtures_are_refused(channel: str) -> None:
    files = sorted(shared_fixtures(channel).glob("*.json"))
    assert files
    for path in files:
        with pytest.raises(WebhookFormatError, match="object must be '"):
            parse(json.loads(path.read_text(encoding="utf-8")))
