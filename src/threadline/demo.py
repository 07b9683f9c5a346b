"""A demo workspace with a few hundred contacts, recorded opt-ins, events and conversations."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import phonenumbers
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import service as channels
from threadline.channels.events import Sender
from threadline.channels.models import ChannelAccount
from threadline.consent import service as consent
from threadline.consent.models import ConsentTopic
from threadline.consent.projection import ANY, Action
from threadline.contacts import service as contacts
from threadline.contacts.events import ingest
from threadline.contacts.models import ContactURN, FieldDefinition
from threadline.contacts.schemas import ContactIn, EventIn, EventKind
from threadline.flows import service as flow_service
from threadline.flows.loader import Bundle, bundle_from_path, flow_files
from threadline.inbox.identities import contact_for
from threadline.kit.crypto import SecretBox
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.workspaces import service as workspaces
from threadline.workspaces.models import Workspace

log = logging.getLogger("threadline.demo")
DEMO_WORKSPACE = "Demo Shop"
DISCLOSURE = (
    "Yes, send me offers and news from Demo Shop on WhatsApp. Up to 4 messages a month. "
    "Reply STOP to opt out at any time."
)
FIRST_NAMES = [
    "Ana",
    "Bruno",
    "Carla",
    "Diego",
    "Elena",
    "Felipe",
    "Gabi",
    "Hugo",
    "Iris",
    "João",
    "Karin",
    "Luis",
    "Marta",
    "Nico",
    "Olga",
    "Pedro",
    "Rosa",
    "Sofia",
]
LAST_NAMES = ["Silva", "Garcia", "Müller", "Rossi", "Smith", "Santos", "López", "Martin"]
# (country calling code, mobile prefix, random digits after it): shapes of valid mobiles.
NUMBER_SHAPES = [
    ("55", "119", 8),
    ("52", "155", 7),
    ("34", "6", 8),
    ("49", "151", 8),
    ("44", "7700", 6),
    ("1", "202555", 4),
    ("1", "305555", 4),
    ("91", "98", 8),
]


def _phone(rng: random.Random) -> str | None:
    code, prefix, width = rng.choice(NUMBER_SHAPES)
    candidate = f"+{code}{prefix}{rng.randrange(10**width):0{width}d}"
    try:
        parsed = phonenumbers.parse(candidate)
    except phonenumbers.NumberParseException:
        return None
    return candidate if phonenumbers.is_valid_number(parsed) else None


DEMO_PHONE_NUMBER_ID = "100200300400500"
DEMO_WABA_ID = "900800700600500"
DEMO_DISPLAY_NUMBER = "15550001111"
DEMO_TOKEN = "demo-access-token"
DEMO_APP_SECRET = "demo-app-secret"
DEMO_VERIFY_TOKEN = "demo-verify-token"
# The demo's Facebook Page (Messenger) and the Instagram professional account linked to it.
# Instagram messaging goes through the Page's token, as on the real platform.
DEMO_PAGE_ID = "110220330440550"
DEMO_IG_ID = "17841400000000777"
DEMO_IG_USERNAME = "demoshop"
DEMO_PAGE_TOKEN = "demo-page-access-token"
DEMO_META_APP_SECRET = "demo-meta-app-secret"
DEMO_META_VERIFY_TOKEN = "demo-meta-verify-token"
# People who write to the Page (PSIDs) and to the Instagram account (IGSIDs).
MESSENGER_PEOPLE = 12
INSTAGRAM_PEOPLE = 12
# Templates the demo number has on the (emulated) platform: name, category, body.
DEMO_TEMPLATES = (
    ("order_update", "UTILITY", "Hi {{1}}, your order {{2}} is on its way."),
    ("appointment_reminder", "UTILITY", "Reminder: your appointment is on {{1}}."),
    ("spring_sale", "MARKETING", "Spring sale! {{1}} off everything this week."),
    ("login_code", "AUTHENTICATION", "{{1}} is your verification code."),
)


# Contact fields the example flows write (flows may only set declared fields).
FLOW_FIELDS = (
    ("lead_score", "number"),
    ("need", "text"),
    ("budget", "number"),
    ("timing", "text"),
    ("email", "text"),
    ("company", "text"),
    ("appointment_date", "date"),
    ("appointment_slot", "text"),
    ("order_id", "text"),
    ("favourite_category", "text"),
)
EXAMPLE_FLOWS = Path(__file__).resolve().parents[2] / "examples" / "flows"
# The example order-status flow looks orders up in the emulator's stand-in shop.
EXAMPLE_SHOP_URL = "http://127.0.0.1:8900"


@dataclass(frozen=True)
class DemoInfo:
    workspace_id: str
    workspace_name: str
    api_key: str
    contacts: int
    channel_id: str
    wa_ids: list[str]
    flows: list[str]
    messenger_channel_id: str = ""
    instagram_channel_id: str = ""
    psids: list[str] = field(default_factory=list)  # people on the Messenger Page
    igsids: list[str] = field(default_factory=list)  # people on the Instagram account


async def seed_demo(
    session: AsyncSession,
    now: datetime,
    contacts_wanted: int = 300,
    *,
    graph_url: str = "http://127.0.0.1:8900",
    box: SecretBox | None = None,
) -> DemoInfo:
    """Create the demo workspace, its contacts, its WhatsApp number, Messenger Page and
    Instagram account (all pointing at the emulator) if they do not exist; always issue a
    fresh API key (keys are shown once)."""
    box = box or SecretBox("threadline-dev-secret-change-me")
    existing = await session.scalar(select(Workspace).where(Workspace.name == DEMO_WORKSPACE))
    if existing is None:
        created = await workspaces.create_workspace(session, DEMO_WORKSPACE, now)
        workspace = created.workspace
        await _populate(session, workspace, now, contacts_wanted)
    else:
        workspace = existing
    number = await _whatsapp_channel(session, workspace.id, graph_url, box, now)
    page, instagram = await _meta_channels(session, workspace.id, graph_url, box, now)
    psids = await _meta_people(session, workspace.id, "messenger", now)
    igsids = await _meta_people(session, workspace.id, "instagram", now)
    key = await workspaces.create_api_key(session, workspace.id, f"demo {now:%Y-%m-%d %H:%M}", now)
    wa_ids = [
        urn.split(":", 1)[1]
        for urn in await session.scalars(
            Scope(session, workspace.id)
            .columns(ContactURN, ContactURN.urn)
            .where(ContactURN.scheme == "whatsapp")
        )
    ]
    flows = await seed_flows(session, workspace.id, now, shop_url=graph_url)
    return DemoInfo(
        workspace.id,
        workspace.name,
        key,
        len(wa_ids) + len(psids) + len(igsids),
        number.id,
        wa_ids,
        flows,
        messenger_channel_id=page.id,
        instagram_channel_id=instagram.id,
        psids=psids,
        igsids=igsids,
    )


async def _whatsapp_channel(
    session: AsyncSession, workspace_id: str, graph_url: str, box: SecretBox, now: datetime
) -> ChannelAccount:
    """The demo number, pointed at this run's emulator (a re-run keeps the row)."""
    channel = await channels.by_address(session, "whatsapp", DEMO_PHONE_NUMBER_ID)
    if channel is not None:
        channel.base_url = graph_url
        return channel
    spec = channels.whatsapp_number(
        DEMO_PHONE_NUMBER_ID,
        DEMO_WABA_ID,
        access_token=DEMO_TOKEN,
        app_secret=DEMO_APP_SECRET,
        verify_token=DEMO_VERIFY_TOKEN,
        display_number=DEMO_DISPLAY_NUMBER,
        name="Demo Shop WhatsApp",
        graph_url=graph_url,
        messaging_limit=1000,
    )
    return await channels.add(session, workspace_id, spec, box, now)


async def _meta_channels(
    session: AsyncSession, workspace_id: str, graph_url: str, box: SecretBox, now: datetime
) -> tuple[ChannelAccount, ChannelAccount]:
    """The Messenger Page and the Instagram account linked to it."""
    page = channels.messenger_page(DEMO_PAGE_ID, name="Demo Shop on Messenger", **_meta(graph_url))
    instagram = channels.instagram_account(
        DEMO_IG_ID,
        DEMO_PAGE_ID,
        username=DEMO_IG_USERNAME,
        name=f"@{DEMO_IG_USERNAME} on Instagram",
        **_meta(graph_url),
    )
    return (
        await _meta_channel(session, workspace_id, page, box, now),
        await _meta_channel(session, workspace_id, instagram, box, now),
    )


def _meta(graph_url: str) -> dict[str, str]:
    return {
        "access_token": DEMO_PAGE_TOKEN,
        "app_secret": DEMO_META_APP_SECRET,
        "verify_token": DEMO_META_VERIFY_TOKEN,
        "graph_url": graph_url,
    }


async def _meta_channel(
    session: AsyncSession,
    workspace_id: str,
    spec: channels.NewChannel,
    box: SecretBox,
    now: datetime,
) -> ChannelAccount:
    channel = await channels.by_address(session, spec.kind.value, spec.address)
    if channel is None:
        return await channels.add(session, workspace_id, spec, box, now)
    channel.base_url = spec.graph_url
    return channel


def meta_person_ids(kind: str) -> list[str]:
    """The demo's PSIDs (Messenger) or IGSIDs (Instagram): fixed, so a re-seed finds them."""
    if kind == "messenger":
        return [f"7{i:015d}" for i in range(1, MESSENGER_PEOPLE + 1)]
    return [f"8{i:015d}" for i in range(1, INSTAGRAM_PEOPLE + 1)]


async def _meta_people(
    session: AsyncSession, workspace_id: str, kind: str, now: datetime
) -> list[str]:
    """Contacts for the people who write on Messenger or Instagram, made (when missing) the
    way a first message makes them, so the people's messages land on these contacts."""
    rng = random.Random(f"{kind}-people")
    ids = meta_person_ids(kind)
    for person_id in ids:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        await contact_for(session, workspace_id, kind, Sender(person_id, name=name), now)
    return ids


def example_bundles(folder: Path) -> list[Bundle]:
    if not folder.is_dir():
        return []
    bundles = []
    for path in flow_files(folder):
        bundle = bundle_from_path(path)
        bundle.origin = path.name
        bundles.append(bundle)
    return bundles


async def seed_flows(
    session: AsyncSession,
    workspace_id: str,
    now: datetime,
    *,
    folder: Path = EXAMPLE_FLOWS,
    shop_url: str = EXAMPLE_SHOP_URL,
) -> list[str]:
    """Upload the example flows (a new version only when a file changed)."""
    bundles = await asyncio.to_thread(example_bundles, folder)
    if not bundles:
        log.warning("no example flows at %s; the demo runs without flows", folder)
        return []
    declared = set(await contacts.field_types(session, workspace_id))
    for key, kind in FLOW_FIELDS:
        if key not in declared:
            session.add(
                FieldDefinition(
                    id=new_id("fld"),
                    workspace_id=workspace_id,
                    key=key,
                    label=key.replace("_", " ").title(),
                    value_type=kind,
                    created_at=now,
                )
            )
    await session.flush()
    uploaded = []
    for bundle in bundles:
        bundle.main = bundle.main.replace(EXAMPLE_SHOP_URL, shop_url)
        row, _ = await flow_service.upload(session, workspace_id, bundle, now)
        uploaded.append(f"{row.key} v{row.version}")
    return uploaded


async def _populate(
    session: AsyncSession, workspace: Workspace, now: datetime, wanted: int
) -> None:
    rng = random.Random(20261121)
    workspaces.update_settings(workspace, {"default_country": "BR", "global_control_percent": 5})
    session.add(
        ConsentTopic(
            id=new_id("top"),
            workspace_id=workspace.id,
            key="offers",
            name="Offers and sales",
            description="Discounts and sales",
            created_at=now,
        )
    )
    for key, kind in (("city", "text"), ("loyalty_tier", "text"), ("lifetime_value", "number")):
        session.add(
            FieldDefinition(
                id=new_id("fld"),
                workspace_id=workspace.id,
                key=key,
                label=key.replace("_", " ").title(),
                value_type=kind,
                created_at=now,
            )
        )
    await session.flush()
    made = 0
    seen: set[str] = set()
    while made < wanted:
        phone = _phone(rng)
        if phone is None or phone in seen:
            continue
        seen.add(phone)
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        contact = await contacts.create_contact(
            session,
            workspace.id,
            ContactIn(
                name=name,
                urns=[f"whatsapp:{phone}", f"tel:{phone}"],
                fields={"loyalty_tier": rng.choice(["bronze", "silver", "gold"])},
                tags=rng.sample(["vip", "new", "wholesale", "newsletter"], k=rng.randint(0, 2)),
            ),
            now=now,
            default_region="BR",
        )
        made += 1
        await _history(session, workspace.id, contact.id, rng, now)


async def _history(
    session: AsyncSession, workspace_id: str, contact_id: str, rng: random.Random, now: datetime
) -> None:
    opted_in_at = now - timedelta(days=rng.randint(1, 200))
    if rng.random() < 0.8:
        change = consent.ConsentChange(
            action=Action.GRANT,
            channel="whatsapp",
            topic="marketing",
            source=rng.choice(["widget", "checkout_checkbox", "qr", "ad"]),
            actor="contact",
            occurred_at=opted_in_at,
            disclosure_text=DISCLOSURE,
            disclosure_version="2026-01",
            evidence={
                "ip": f"203.0.113.{rng.randint(1, 254)}",
                "page_url": "https://shop.example/join",
            },
        )
        await consent.record(session, workspace_id, contact_id, change, now)
        if rng.random() < 0.08:
            revoke = consent.ConsentChange(
                action=Action.REVOKE,
                channel="whatsapp",
                topic=ANY,
                source="keyword",
                actor="contact",
                occurred_at=opted_in_at + timedelta(days=rng.randint(1, 30)),
                evidence={"text": "STOP"},
            )
            if revoke.occurred_at < now:
                await consent.record(session, workspace_id, contact_id, revoke, now)
    if rng.random() < 0.4:
        # A purchase with the checkout box ticked: order updates may go out as utility.
        checkout = consent.ConsentChange(
            action=Action.GRANT,
            channel="whatsapp",
            topic="transactional",
            source="checkout_checkbox",
            actor="contact",
            occurred_at=now - timedelta(days=rng.randint(91, 120)),
            disclosure_text="Send me order and delivery updates on WhatsApp",
            disclosure_version="checkout-2026-01",
        )
        await consent.record(session, workspace_id, contact_id, checkout, now)
        await ingest(
            session,
            workspace_id,
            EventIn(
                idempotency_key=new_id("demo"),
                kind=EventKind.PURCHASE,
                contact_id=contact_id,
                value=Decimal(rng.randint(10, 400)),
                currency="BRL",
                occurred_at=now - timedelta(days=rng.randint(0, 90)),
            ),
            now=now,
            default_region="BR",
        )
