"""A demo workspace with a few hundred contacts, recorded opt-ins, events and conversations."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.consent import service as consent
from threadline.consent.models import ConsentTopic
from threadline.consent.projection import ANY, Action
from threadline.contacts import service as contacts
from threadline.contacts.events import ingest
from threadline.contacts.models import Contact, FieldDefinition
from threadline.contacts.schemas import ContactIn, EventIn, EventKind
from threadline.conversations import service as conversations
from threadline.kit.ids import new_id
from threadline.policy.types import Channel
from threadline.workspaces import service as workspaces
from threadline.workspaces.models import Workspace

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


async def seed_demo(session: AsyncSession, now: datetime, contacts_wanted: int = 300) -> str:
    """Create the demo workspace if it does not exist; return how to use it."""
    existing = await session.scalar(select(Workspace).where(Workspace.name == DEMO_WORKSPACE))
    if existing is None:
        created = await workspaces.create_workspace(session, DEMO_WORKSPACE, now)
        workspace = created.workspace
        await _populate(session, workspace, now, contacts_wanted)
    else:
        workspace = existing
    key = await workspaces.create_api_key(session, workspace.id, f"demo {now:%Y-%m-%d %H:%M}", now)
    count = await session.scalar(
        select(func.count()).select_from(Contact).where(Contact.workspace_id == workspace.id)
    )
    return (
        f"Demo workspace '{workspace.name}' ({workspace.id}) with {count} contacts.\n"
        f"API key (shown once): {key}\n"
        "Try: curl -H 'Authorization: Bearer <key>' http://127.0.0.1:8000/api/v1/contacts"
    )


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
    if rng.random() < 0.3:
        await conversations.record_inbound(
            session,
            workspace_id,
            contact_id,
            Channel.WHATSAPP,
            platform_timestamp=now - timedelta(hours=rng.randint(0, 72)),
            now=now,
        )
    if rng.random() < 0.4:
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
