"""Conformance: every captured WhatsApp webhook in ../shared/fixtures/whatsapp parses to the
events we expect.

Message fixtures are checked against the fixtures README's index table (sender, message id,
type), so the expectations below only add what the table does not say. The fixtures are read
from the shared folder at test time and never copied into this repository."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shared_fixtures
from threadline.channels import codec
from threadline.channels.adapter import WebhookFormatError
from threadline.channels.events import (
    ChannelEvent,
    InboundMessage,
    Malformed,
    MarketingPreference,
    PlatformErrors,
    Pricing,
    StatusUpdate,
    TemplateCategoryChange,
    TemplateQualityChange,
    TemplateStatusChange,
    Unhandled,
)
from threadline.channels.whatsapp.webhooks import parse

# The location the brief fixes; `shared_fixtures()` resolves the same folder and skips
# visibly when it is not beside the checkout.
FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "whatsapp"

# README "Type" notation → our InboundMessage.kind. The README writes `interactive/<sub>`,
# `system/<sub>` and `voice` exactly as the parser reports them; "×N" (N identical copies)
# is read separately. Nothing else needs translating today; add aliases here if it does.
KIND_ALIASES: dict[str, str] = {}


# -- expectation kinds ---------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    """InboundMessage(s) matching the README row; `fields` adds dotted-path checks."""

    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Status:
    status: str
    external_id: str
    recipient: str | None
    pricing: Pricing | None
    error_codes: tuple[int, ...] = ()
    origin: str | None = None
    callback_data: str | None = None


@dataclass(frozen=True)
class Errors:
    """`value.errors` → PlatformErrors with these codes."""

    codes: tuple[int, ...]
    account: str | None


@dataclass(frozen=True)
class Exactly:
    """Business-management events, compared whole."""

    event: ChannelEvent


@dataclass(frozen=True)
class Bad:
    """One broken item → Malformed(field) whose reason mentions `reason`."""

    field: str
    reason: str


@dataclass(frozen=True)
class Ignored:
    """Well-formed but not acted on → Unhandled(field) whose summary mentions `summary`."""

    field: str
    summary: str


Spec = Message | Status | Errors | Exactly | Bad | Ignored

CBP_SERVICE = Pricing(model="CBP", category="service", billable=True)
CBP_REFERRAL = Pricing(model="CBP", category="referral_conversion", billable=False)
PYWA_WAMID = "wamid.xyzxyz"
PYWA_USER = "972987654321"
PYWA_CONVERSATION = "7270432eae37498234f4444b35ffc5"


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _account_updates() -> dict[str, tuple[Spec, ...]]:
    events = {
        "account_deleted": "ACCOUNT_DELETED",
        "account_disabled": "DISABLED_UPDATE",
        "account_offboarded": "ACCOUNT_OFFBOARDED",
        "account_reconnected": "ACCOUNT_RECONNECTED",
        "account_restriction": "ACCOUNT_RESTRICTION",
        "account_violation": "ACCOUNT_VIOLATION",
        "ad_account_linked": "AD_ACCOUNT_LINKED",
        "authentication_international_eligibility": "AUTH_INTL_PRICE_ELIGIBILITY_UPDATE",
        "mm_api_for_wa_terms_of_service": "MM_LITE_TERMS_SIGNED",
        "partner_added": "PARTNER_ADDED",
        "partner_app_installed": "PARTNER_APP_INSTALLED",
        "partner_app_uninstalled": "PARTNER_APP_UNINSTALLED",
        "partner_led_business_verification_status": "PARTNER_CLIENT_CERTIFICATION_STATUS_UPDATE",
        "partner_removed": "PARTNER_REMOVED",
        "partner_removed_wa_app_disconnection": "PARTNER_REMOVED",
        "pricing_tiering_update": "VOLUME_BASED_PRICING_TIER_UPDATE",
        "primary_business_location_set": "BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE",
    }
    return {
        f"pywa__account_update__{case}.json": (Ignored("account_update", event),)
        for case, event in events.items()
    }


EXPECTED: dict[str, tuple[Spec, ...]] = {
    # ---- courier: inbound messages
    "courier__audio.json": (
        Message(
            {
                "text": "Check out my new phone!",
                "media.kind": "audio",
                "media.media_id": "id_audio",
                "media.voice": False,
            }
        ),
    ),
    "courier__button.json": (Message({"text": "No", "payload": "No-Button-Payload"}),),
    "courier__button_reply.json": (Message({"text": "Yes", "payload": "id_button_reply"}),),
    "courier__document.json": (
        Message({"media.kind": "document", "media.mime_type": "application/pdf"}),
    ),
    # edge: the same message twice; both survive parsing, and share one dedupe key.
    "courier__duplicate.json": (
        Message({"text": "Hello World", "dedupe_key": "msg:external_id"}),
        Message({"text": "Hello World", "dedupe_key": "msg:external_id"}),
    ),
    "courier__error_msg.json": (Message({"errors.0.code": 131051}),),
    "courier__group_message.json": (Message({"text": "Hello World, group message"}),),
    "courier__hello.json": (
        Message(
            {
                "text": "Hello World",
                "account": "1234567890",
                "sender.name": "Kerry Fisher",
                "sender.phone_id": "5678",
                "sender.user_id": None,
            }
        ),
    ),
    "courier__hello_bsuid_in_from.json": (
        Message({"sender.phone_id": None, "sender.user_id": "US.1234"}),
    ),
    "courier__hello_from_bsuid.json": (
        Message(
            {
                "sender.phone_id": None,
                "sender.user_id": "US.1234",
                "sender.username": "kfisher",
                "sender.name": "Kerry Fisher",
            }
        ),
    ),
    # edge: a malformed optional user id is dropped, the message is kept.
    "courier__hello_invalid_user_id.json": (
        Message({"sender.phone_id": "5678", "sender.user_id": None}),
    ),
    "courier__hello_user_id.json": (
        Message(
            {"sender.phone_id": "5678", "sender.user_id": "US.1234", "sender.username": "@kfisher"}
        ),
    ),
    "courier__image.json": (Message({"text": "Check out my new phone!", "media.kind": "image"}),),
    "courier__invalid_from.json": (Bad("messages", "'bla'"),),
    "courier__invalid_timestamp.json": (Bad("messages", "invalid timestamp"),),
    "courier__list_reply.json": (Message({"text": "Yes", "payload": "id_list_reply"}),),
    "courier__location.json": (
        Message(
            {
                "location": {
                    "latitude": 0.0,
                    "longitude": 1.0,
                    "name": "Main Street Beach",
                    "address": "Main Street Beach, Santa Cruz, CA",
                    "url": "https://foursquare.com/v/4d7031d35b5df7744",
                }
            }
        ),
    ),
    "courier__nfm_reply.json": (Message({"text": "Sent"}),),
    # edge: a Flow reply whose response_json is an array is still a message (we keep raw).
    "courier__nfm_reply_non_object.json": (Message({"text": "Sent"}),),
    "courier__no_from.json": (Bad("messages", "no sender"),),
    "courier__video.json": (Message({"media.kind": "video"}),),
    # Legacy on-prem `voice`: kind stays `voice`, the media is audio flagged as a voice note.
    "courier__voice.json": (
        Message({"media.kind": "audio", "media.voice": True, "media.media_id": "id_voice"}),
    ),
    # ---- courier: statuses and errors
    "courier__error_errors.json": (Errors((0,), account="1234567890"),),
    "courier__error_status.json": (
        Status(
            "failed",
            "external_id",
            "5678",
            CBP_REFERRAL,
            error_codes=(131014,),
            origin="referral_conversion",
        ),
    ),
    "courier__ignore_status.json": (Ignored("statuses", "deleted"),),
    "courier__invalid_status.json": (Bad("statuses", "in_orbit"),),
    "courier__valid_status.json": (
        Status("sent", "external_id", "5678", CBP_REFERRAL, origin="referral_conversion"),
    ),
    # ---- pywa: account updates, calls, echoes, component updates → not acted on
    **_account_updates(),
    "pywa__call_connect__business_initiated.json": (Ignored("calls", "calls"),),
    "pywa__call_connect__user_initiated.json": (Ignored("calls", "calls"),),
    "pywa__call_status.json": (Ignored("calls", "calls"),),
    "pywa__call_terminate.json": (Ignored("calls", "calls"),),
    "pywa__outgoing_message__delete.json": (Ignored("smb_message_echoes", "echoes"),),
    "pywa__outgoing_message__edit.json": (Ignored("smb_message_echoes", "echoes"),),
    "pywa__outgoing_message__text.json": (Ignored("smb_message_echoes", "echoes"),),
    "pywa__template_components_update__all.json": (
        Ignored("message_template_components_update", "components"),
    ),
    "pywa__template_components_update__element.json": (
        Ignored("message_template_components_update", "components"),
    ),
    # ---- pywa: inbound messages
    "pywa__call_permission_update__accept.json": (Message({"reply_to": "wamid.y=="}),),
    "pywa__call_permission_update__reject.json": (Message(),),
    "pywa__callback_button__button.json": (
        Message({"payload": "callback_data", "text": "title", "reply_to": "wamid.xyzxyz"}),
    ),
    "pywa__callback_button__quick_reply.json": (
        Message({"payload": "callback_data", "text": "title"}),
    ),
    "pywa__callback_button__quick_reply_without_context.json": (
        Message({"payload": "callback_data", "reply_to": None}),
    ),
    "pywa__callback_selection__callback.json": (Message({"payload": "callback_data"}),),
    "pywa__callback_selection__description.json": (Message({"payload": "callback_data"}),),
    "pywa__chat_opened.json": (Message(),),
    # Documentation placeholders ("<WHATSAPP_USER_PHONE_NUMBER>") are not a sender we can
    # answer: the item is Malformed, naming the bad id.
    "pywa__deleted_message__revoke.json": (Bad("messages", "<WHATSAPP_USER_PHONE_NUMBER>"),),
    "pywa__edited_message__image.json": (Message(),),
    "pywa__flow_completion__completion.json": (Message({"text": "Sent"}),),
    "pywa__flow_completion__without_flow_token.json": (Message({"text": "Sent"}),),
    "pywa__message__animated_sticker.json": (
        Message({"media.kind": "sticker", "media.animated": True}),
    ),
    "pywa__message__audio.json": (Message({"media.voice": False, "forwarded": True}),),
    "pywa__message__chosen_location.json": (
        Message({"location.name": "Facebook HQ", "forwarded": True}),
    ),
    "pywa__message__contacts.json": (
        Message({"raw.contacts.2.name.formatted_name": "Rachel Green"}),
    ),
    "pywa__message__current_location.json": (Message({"location.name": None, "forwarded": True}),),
    "pywa__message__document.json": (
        Message({"media.filename": "filename.pdf", "text": "caption"}),
    ),
    "pywa__message__forwarded.json": (Message({"forwarded": True}),),
    "pywa__message__forwarded_many_times.json": (Message({"forwarded": True}),),
    "pywa__message__image.json": (Message({"media.kind": "image", "media.url": None}),),
    # An interactive message Meta could not render, plus value-level errors[131000].
    "pywa__message__interactive_message_with_err.json": (
        Message({"text": None, "payload": None}),
        Errors((131000,), account="1122334455667"),
    ),
    "pywa__message__media_with_url.json": (
        Message({"media.media_id": "65463453", "media.url": "https://lookaside.fbsbx.com/"}),
    ),
    # The cart sent from the catalog: its lines, prices as exact decimal text.
    "pywa__message__order.json": (
        Message(
            {
                "order.catalog_id": "354160437058781",
                "order.lines.0.retailer_id": "HAMBURGER",
                "order.lines.0.quantity": 3,
                "order.lines.1.item_price": "35",
                "order.lines.2.currency": "ILS",
                "order.text": None,
            }
        ),
    ),
    "pywa__message__reaction.json": (Message({"text": "😮", "payload": "wamid.yzxyzx="}),),
    "pywa__message__referral.json": (
        Message({"text": "BODY", "referral.ctwa_clid": "CTWA_CLID", "referral.source_id": "ADID"}),
    ),
    "pywa__message__reply.json": (Message({"reply_to": "wamid.xyzxyz==", "forwarded": False}),),
    "pywa__message__static_sticker.json": (Message({"media.animated": False}),),
    "pywa__message__text.json": (Message({"text": "Body Text", "sender.name": "Test Name"}),),
    "pywa__message__text_bsuid.json": (Message({"sender.phone_id": None}),),
    # Reaction removed: empty emoji and missing emoji both read as "".
    "pywa__message__unreaction_empty.json": (Message({"text": ""}),),
    "pywa__message__unreaction_no_emoji.json": (Message({"text": ""}),),
    "pywa__message__unsupported.json": (Message({"errors.0.code": 131051}),),
    "pywa__message__unsupported_with_type.json": (Message({"errors.0.code": 131051}),),
    "pywa__message__video.json": (Message({"media.kind": "video", "text": "caption"}),),
    "pywa__message__voice.json": (Message({"media.kind": "audio", "media.voice": True}),),
    "pywa__system__identity_change.json": (Message({"text": "User identity changed"}),),
    "pywa__system__phone_number_change.json": (Message(),),
    # ---- pywa: statuses
    "pywa__message_status__delivered.json": (
        Status("delivered", PYWA_WAMID, PYWA_USER, CBP_SERVICE, origin="service"),
    ),
    "pywa__message_status__delivered_bsuid.json": (
        Status(
            "delivered",
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
            "US.13491208655302741918",
            Pricing(model="PMP", category="marketing", type="regular", billable=True),
        ),
    ),
    "pywa__message_status__failed.json": (
        Status("failed", PYWA_WAMID, PYWA_USER, None, error_codes=(130472,)),
    ),
    "pywa__message_status__group.json": (
        Status("read", "<WHATSAPP_MESSAGE_ID>", "fowefinoewcnw", None),
    ),
    "pywa__message_status__played.json": (
        Status("played", PYWA_WAMID, PYWA_USER, CBP_SERVICE, origin="service"),
    ),
    "pywa__message_status__read.json": (
        Status("read", PYWA_WAMID, PYWA_USER, CBP_SERVICE, origin="service"),
    ),
    "pywa__message_status__sent.json": (
        Status("sent", PYWA_WAMID, PYWA_USER, CBP_SERVICE, origin="service"),
    ),
    "pywa__message_status__with_tracker.json": (
        Status(
            "sent", PYWA_WAMID, PYWA_USER, CBP_SERVICE, origin="service", callback_data="some data"
        ),
    ),
    # ---- pywa: templates and preferences
    "pywa__template_category_update__marketing.json": (
        Exactly(
            TemplateCategoryChange(
                account="57438975935",
                template_id="12345678",
                name="my_message_template",
                language="he",
                new_category="MARKETING",
                notified_at=1750344882,  # the entry's time: a later identical change is new
            )
        ),
    ),
    "pywa__template_quality_update__yellow.json": (
        Exactly(
            TemplateQualityChange(
                account="102290129340398",
                template_id="806312974732579",
                name="welcome_template",
                language="en_US",
                new_score="YELLOW",
                previous_score="GREEN",
                notified_at=1674864290,
            )
        ),
    ),
    "pywa__template_status_update__approved.json": (
        Exactly(
            TemplateStatusChange(
                account="102290129340398",
                template_id="1689556908129832",
                name="order_confirmation",
                language="en_US",
                status="APPROVED",
                reason="NONE",
                category="UTILITY",
                notified_at=1751247548,
            )
        ),
    ),
    "pywa__template_status_update__rejected.json": (
        Exactly(
            TemplateStatusChange(
                account="102290129340398",
                template_id="1689556908129835",
                name="abandoned_cart",
                language="en",
                status="REJECTED",
                reason="INVALID_FORMAT",
                category="MARKETING",
                notified_at=1751247548,
                detail={
                    "rejection_info": {
                        "reason": "Your template has parameters placed next to each other "
                        "(like {{1}}{{2}}) without text or punctuation between them.",
                        "recommendation": "Separate parameters with descriptive text and "
                        "ensure each parameter is clearly contextualized.",
                    }
                },
            )
        ),
    ),
    "pywa__user_marketing_preferences__resume.json": (
        Exactly(
            MarketingPreference(
                account="106540352242922",
                address="16505551234",
                value="resume",
                timestamp=_ts(1731705721),
                detail="User requested to resume marketing messages",
            )
        ),
    ),
    "pywa__user_marketing_preferences__signup.json": (
        Exactly(
            MarketingPreference(
                account="106540352242922",
                address="16505551234",
                value="signup",
                timestamp=_ts(1731705721),
                detail="User signed up via signup link",
            )
        ),
    ),
}


# -- the README index ----------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    file: str
    sender: str | None
    message_id: str | None
    kind: str | None
    copies: int


def _cell(text: str) -> str | None:
    text = text.strip()
    return None if text in ("—", "") else text.strip("`")


@cache
def readme_rows() -> dict[str, Row]:
    readme = shared_fixtures("whatsapp").parent / "README.md"
    if not readme.is_file():
        pytest.skip("../shared/fixtures/README.md is not present beside the checkout")
    rows: dict[str, Row] = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `whatsapp/"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 6, f"unexpected README row: {line}"
        file, _platform, _what, sender, message_id, kind_cell = cells
        kind, copies = None, 1
        if kind_cell != "—":
            found = re.fullmatch(r"`([^`]+)`(?:\s*×(\d+))?", kind_cell)
            assert found, f"unexpected type notation {kind_cell!r}"
            kind, copies = found[1], int(found[2] or 1)
        name = file.strip("`").removeprefix("whatsapp/")
        rows[name] = Row(name, _cell(sender), _cell(message_id), kind, copies)
    return rows


def load(name: str) -> Any:
    folder = shared_fixtures("whatsapp")
    path = folder / name
    if not path.is_file():
        pytest.fail(f"{name} has expectations here but is missing from {folder}")
    return json.loads(path.read_text(encoding="utf-8"))


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list | tuple):
            obj = obj[int(part)]
        else:
            obj = getattr(obj, part)
    return obj


# -- checks ---------------------------------------------------------------------------------
def check_message(event: ChannelEvent, spec: Message, row: Row) -> None:
    assert isinstance(event, InboundMessage), event
    assert row.kind is not None, f"{row.file}: README has no type for a message fixture"
    assert event.sender.address == row.sender
    assert event.external_id == row.message_id
    assert event.kind == KIND_ALIASES.get(row.kind, row.kind)
    assert event.timestamp.tzinfo is not None
    assert event.timestamp.utcoffset() == timedelta(0)
    assert event.timestamp == _ts(int(event.raw["timestamp"]))
    for path, expected in spec.fields.items():
        actual = _get(event, path)
        if path == "media.url" and expected:
            assert str(actual).startswith(expected), (path, actual)
        else:
            assert actual == expected, (path, actual)


def check_status(event: ChannelEvent, spec: Status) -> None:
    assert isinstance(event, StatusUpdate), event
    assert (event.status, event.external_id, event.recipient) == (
        spec.status,
        spec.external_id,
        spec.recipient,
    )
    assert event.pricing == spec.pricing
    assert tuple(e.code for e in event.errors) == spec.error_codes
    assert event.conversation_origin == spec.origin
    assert event.callback_data == spec.callback_data
    assert event.timestamp.utcoffset() == timedelta(0)


def check(event: ChannelEvent, spec: Spec, row: Row | None) -> None:
    if isinstance(spec, Message):
        assert row is not None
        check_message(event, spec, row)
    elif isinstance(spec, Status):
        check_status(event, spec)
    elif isinstance(spec, Errors):
        assert isinstance(event, PlatformErrors), event
        assert tuple(e.code for e in event.errors) == spec.codes
        assert event.account == spec.account
    elif isinstance(spec, Exactly):
        assert event == spec.event
    elif isinstance(spec, Bad):
        assert isinstance(event, Malformed), event
        assert event.field == spec.field
        assert spec.reason in event.reason, event.reason
        assert event.raw, "a Malformed item keeps what it could not read"
    else:
        assert isinstance(event, Unhandled), event
        assert event.field == spec.field
        assert spec.summary in event.summary, event.summary
    stamp = getattr(event, "timestamp", None)
    if stamp is not None:
        assert stamp.utcoffset() == timedelta(0), "timestamps are timezone-aware UTC"


# -- tests ----------------------------------------------------------------------------------
def test_every_fixture_has_expectations_and_a_readme_row() -> None:
    folder = shared_fixtures("whatsapp")
    assert folder == FIXTURES
    on_disk = {p.name for p in folder.glob("*.json")}
    assert on_disk, f"no fixtures in {folder}"
    assert sorted(on_disk - EXPECTED.keys()) == [], "fixtures without expectations"
    assert sorted(EXPECTED.keys() - on_disk) == [], "expectations for missing fixtures"
    assert sorted(on_disk - readme_rows().keys()) == [], "fixtures missing from the README"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_as_expected(name: str) -> None:
    row = readme_rows().get(name)
    events = parse(load(name))
    specs = EXPECTED[name]
    assert len(events) == len(specs), events
    for event, spec in zip(events, specs, strict=True):
        check(event, spec, row)
    messages = [e for e in events if isinstance(e, InboundMessage)]
    if row is not None and row.kind is not None and messages:
        assert len(messages) == row.copies


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_event_round_trips_through_the_codec(name: str) -> None:
    for event in parse(load(name)):
        stored = json.loads(json.dumps(codec.dump(event)))
        loaded = codec.load(stored)
        assert loaded == event
        assert type(loaded) is type(event)
        assert codec.dump(loaded) == stored


GOOD_MESSAGE = {
    "from": "5511999990000",
    "id": "wamid.GOOD",
    "timestamp": "1751400000",
    "type": "text",
    "text": {"body": "still here"},
}
GOOD_STATUS = {
    "id": "wamid.GOOD",
    "status": "delivered",
    "timestamp": "1751400100",
    "recipient_id": "5511999990000",
}
MALFORMED = sorted(n for n, specs in EXPECTED.items() if any(isinstance(s, Bad) for s in specs))


@pytest.mark.parametrize("name", MALFORMED)
def test_a_broken_item_does_not_cost_the_rest_of_the_payload(name: str) -> None:
    payload = load(name)
    value = payload["entry"][0]["changes"][0]["value"]
    bad = EXPECTED[name][0]
    assert isinstance(bad, Bad)
    items = "messages" if bad.field == "messages" else "statuses"
    good = GOOD_MESSAGE if items == "messages" else GOOD_STATUS
    value[items] = [good, *value[items], good | {"id": "wamid.GOOD2"}]
    events = parse(payload)
    assert [type(e).__name__ for e in events] == [
        "InboundMessage" if items == "messages" else "StatusUpdate",
        "Malformed",
        "InboundMessage" if items == "messages" else "StatusUpdate",
    ]
    assert [getattr(e, "external_id", None) for e in events] == ["wamid.GOOD", None, "wamid.GOOD2"]


@pytest.mark.parametrize(
    "body",
    [
        {"object": "page", "entry": []},
        [{"object": "whatsapp_business_account", "entry": []}],
        {"object": "whatsapp_business_account"},
        {"object": "whatsapp_business_account", "entry": {"id": "1"}},
        {"object": "whatsapp_business_account", "entry": ["not an object"]},
        "whatsapp_business_account",
    ],
    ids=["page", "list", "no-entry", "entry-not-list", "entry-item-not-object", "string"],
)
def test_non_whatsapp_bodies_are_refused(body: Any) -> None:
    with pytest.raises(WebhookFormatError):
        parse(body)


@pytest.mark.parametrize("channel", ["messenger", "instagram"])
def test_other_meta_channels_fixtures_are_refused(channel: str) -> None:
    folder = shared_fixtures(channel)
    files = sorted(folder.glob("*.json"))
    assert files
    for path in files:
        with pytest.raises(WebhookFormatError):
            parse(json.loads(path.read_text(encoding="utf-8")))
