"""A demo workspace with a few hundred contacts, recorded opt-ins, events and conversations."""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import phonenumbers
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import registry
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
# The demo's SMS number, at the emulator's Twilio-compatible provider.
DEMO_SMS_NUMBER = "+14155550123"
DEMO_SMS_ACCOUNT_SID = "AC" + "de305e11" * 4
DEMO_SMS_AUTH_TOKEN = "demo-sms-auth-token"
# The demo's email sender, over SMTP to the emulator's relay (its port is new each run).
DEMO_EMAIL = "shop@demo-shop.example"
DEMO_EMAIL_NAME = "Demo Shop"
DEMO_POSTAL_ADDRESS = "Demo Shop, 1 Market Street, Springfield"
DEMO_SMTP_URL = "smtp://127.0.0.1:2525"
# The demo's Apple Messages for Business account, reached through the emulator's MSP gateway.
DEMO_APPLE_BUSINESS_ID = "d3e0c0de-5a0b-4c4f-9a8b-00000000d3e0"
DEMO_APPLE_MSP_ID = "demo-msp"
DEMO_APPLE_SECRET = base64.b64encode(b"demo-shop-apple-msp-secret-32byt").decode()
# Where Threadline listens in the demo (SMS status callbacks, email unsubscribe links).
DEMO_APP_URL = "http://127.0.0.1:8000"
# People who write to the Page (PSIDs), the Instagram account (IGSIDs), the SMS number
# (phones), the shop's address (mailboxes) and the Apple account (Apple's opaque ids).
MESSENGER_PEOPLE = 12
INSTAGRAM_PEOPLE = 12
PEOPLE = {
    "messenger": MESSENGER_PEOPLE,
    "instagram": INSTAGRAM_PEOPLE,
    "sms": 6,
    "email": 6,
    "apple": 6,
}
# The channels a person reaches directly (a number, an address, Messages): their people
# opted in to marketing there, as the WhatsApp contacts did.
DIRECT = ("sms", "email", "apple")
# The opt-in each person on a direct channel saw (all but the last of them gave it).
DIRECT_DISCLOSURES = {
    "sms": (
        "Yes, text me offers and news from Demo Shop. Up to 4 msgs/month. Msg & data rates "
        "may apply. Reply STOP to opt out, HELP for help."
    ),
    "email": (
        "Yes, email me offers and news from Demo Shop. Unsubscribe at any time with the link "
        "in every email."
    ),
    "apple": (
        "Yes, send me offers and news from Demo Shop in Messages. Reply STOP to opt out at "
        "any time."
    ),
}
# Templates the demo number has on the (emulated) platform: name, category, body.
DEMO_TEMPLATES = (
    ("order_update", "UTILITY", "Hi {{1}}, your order {{2}} is on its way."),
    ("appointment_reminder", "UTILITY", "Reminder: your appointment is on {{1}}."),
    ("spring_sale", "MARKETING", "Spring sale! {{1}} off everything this week."),
    ("cart_reminder", "MARKETING", "Hi {{1}}, you left something in your cart: {{2}}"),
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
    sms_channel_id: str = ""
    email_channel_id: str = ""
    apple_channel_id: str = ""
    phones: list[str] = field(default_factory=list)  # people who text the SMS number
    mailboxes: list[str] = field(default_factory=list)  # people who write to the shop
    apple_ids: list[str] = field(default_factory=list)  # people in Messages (opaque ids)
    # The email channel's own secret: the emulator signs what it posts to Threadline with it.
    email_secret: str = ""


@dataclass(frozen=True)
class _Direct:
    """The SMS number, the email sender and the Apple account, with the people on each."""

    sms: ChannelAccount
    email: ChannelAccount
    apple: ChannelAccount
    email_secret: str
    people: dict[str, list[str]]


async def seed_demo(
    session: AsyncSession,
    now: datetime,
    contacts_wanted: int = 300,
    *,
    graph_url: str = "http://127.0.0.1:8900",
    smtp_url: str = DEMO_SMTP_URL,
    app_url: str = DEMO_APP_URL,
    box: SecretBox | None = None,
) -> DemoInfo:
    """Create the demo workspace, its contacts and its six channels (a WhatsApp number, a
    Messenger Page and the Instagram account linked to it, an SMS number, an email sender and
    an Apple Messages for Business account, all pointing at the emulator) if they do not
    exist; always issue a fresh API key (keys are shown once)."""
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
    psids = await _people(session, workspace.id, "messenger", now)
    igsids = await _people(session, workspace.id, "instagram", now)
    direct = await _direct(session, workspace.id, graph_url, smtp_url, app_url, box, now)
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
    on_direct = sum(len(ids) for ids in direct.people.values())
    return DemoInfo(
        workspace.id,
        workspace.name,
        key,
        len(wa_ids) + len(psids) + len(igsids) + on_direct,
        number.id,
        wa_ids,
        flows,
        messenger_channel_id=page.id,
        instagram_channel_id=instagram.id,
        psids=psids,
        igsids=igsids,
        sms_channel_id=direct.sms.id,
        email_channel_id=direct.email.id,
        apple_channel_id=direct.apple.id,
        phones=direct.people["sms"],
        mailboxes=direct.people["email"],
        apple_ids=direct.people["apple"],
        email_secret=direct.email_secret,
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
        await _registered(session, workspace_id, page, box, now),
        await _registered(session, workspace_id, instagram, box, now),
    )


def _meta(graph_url: str) -> dict[str, str]:
    return {
        "access_token": DEMO_PAGE_TOKEN,
        "app_secret": DEMO_META_APP_SECRET,
        "verify_token": DEMO_META_VERIFY_TOKEN,
        "graph_url": graph_url,
    }


async def _registered(
    session: AsyncSession,
    workspace_id: str,
    spec: channels.NewChannel,
    box: SecretBox,
    now: datetime,
    **repoint: str,
) -> ChannelAccount:
    """The channel, registered when missing; an existing one is pointed at this run's
    emulator (and given this run's `repoint` config, e.g. Threadline's public URL)."""
    channel = await channels.by_address(session, spec.kind.value, spec.address)
    if channel is None:
        return await channels.add(session, workspace_id, spec, box, now)
    channel.base_url = spec.graph_url.rstrip("/")
    if repoint:
        channels.update_config(channel, now, **repoint)
    return channel


async def _direct(
    session: AsyncSession,
    workspace_id: str,
    graph_url: str,
    smtp_url: str,
    app_url: str,
    box: SecretBox,
    now: datetime,
) -> _Direct:
    """The channels a person reaches directly (a phone number, an address, Messages) and
    the people on them."""
    sms = await _sms_channel(session, workspace_id, graph_url, app_url, box, now)
    email = await _email_channel(session, workspace_id, smtp_url, app_url, box, now)
    return _Direct(
        sms=sms,
        email=email,
        apple=await _apple_channel(session, workspace_id, graph_url, box, now),
        email_secret=channels.unseal(box, email).app_secret,
        people={kind: await _people(session, workspace_id, kind, now) for kind in DIRECT},
    )


async def _sms_channel(
    session: AsyncSession,
    workspace_id: str,
    api_url: str,
    app_url: str,
    box: SecretBox,
    now: datetime,
) -> ChannelAccount:
    """The SMS number; status callbacks come to this run's Threadline URL."""
    spec = channels.sms_number(
        DEMO_SMS_NUMBER,
        DEMO_SMS_ACCOUNT_SID,
        auth_token=DEMO_SMS_AUTH_TOKEN,
        api_url=api_url,
        name="Demo Shop SMS",
        public_url=app_url,
    )
    return await _registered(session, workspace_id, spec, box, now, public_url=app_url)


async def _email_channel(
    session: AsyncSession,
    workspace_id: str,
    smtp_url: str,
    app_url: str,
    box: SecretBox,
    now: datetime,
) -> ChannelAccount:
    """The shop's sending address over the emulator's SMTP relay, with the postal address and
    unsubscribe links (pointing at this run's Threadline) that marketing email needs."""
    spec = channels.email_sender(
        DEMO_EMAIL,
        smtp_url=smtp_url,
        name="Demo Shop email",
        from_name=DEMO_EMAIL_NAME,
        postal_address=DEMO_POSTAL_ADDRESS,
        public_url=app_url,
    )
    return await _registered(session, workspace_id, spec, box, now, public_url=app_url)


async def _apple_channel(
    session: AsyncSession, workspace_id: str, gateway_url: str, box: SecretBox, now: datetime
) -> ChannelAccount:
    """The Apple Messages for Business account, through the emulator's MSP gateway."""
    spec = channels.apple_business(
        DEMO_APPLE_BUSINESS_ID,
        DEMO_APPLE_MSP_ID,
        secret=DEMO_APPLE_SECRET,
        gateway_url=gateway_url,
        name="Demo Shop in Messages",
        business_name=DEMO_WORKSPACE,
    )
    return await _registered(session, workspace_id, spec, box, now)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _person_id(kind: str, n: int, name: str) -> str:
    if kind == "messenger":
        return f"7{n:015d}"
    if kind == "instagram":
        return f"8{n:015d}"
    if kind == "sms":
        return f"+1415555{200 + n:04d}"
    if kind == "email":
        first, _, last = name.partition(" ")
        return f"{_ascii(first)}.{_ascii(last)}{n}@example.com"
    tag = base64.urlsafe_b64encode(f"demo-shop-person-{n:02d}".encode()).decode().rstrip("=")
    return f"urn:mbid:AQAA{tag}"


def demo_people(kind: str) -> list[tuple[str, str]]:
    """The demo's people on a channel as (id, name): PSIDs on Messenger, IGSIDs on Instagram,
    phones on SMS, addresses on email, Apple's opaque ids on Apple. Fixed, so a re-seed finds
    them."""
    rng = random.Random(f"{kind}-people")
    people = []
    for n in range(1, PEOPLE[kind] + 1):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        people.append((_person_id(kind, n, name), name))
    return people


def person_ids(kind: str) -> list[str]:
    return [person for person, _ in demo_people(kind)]


async def _people(session: AsyncSession, workspace_id: str, kind: str, now: datetime) -> list[str]:
    """Contacts for the people who write on a channel, made (when missing) the way a first
    message makes them, so the people's messages land on these contacts. On a direct
    channel each but the last opted in to marketing there when they were made."""
    scheme = registry.declaration(kind).urn_scheme
    people = demo_people(kind)
    for n, (person, name) in enumerate(people):
        known = await contacts.find_by_urn(session, workspace_id, f"{scheme}:{person}")
        if known is not None:
            continue
        contact, _ = await contact_for(
            session, workspace_id, scheme, Sender(person, name=name), now
        )
        if kind in DIRECT and n < len(people) - 1:
            change = _direct_opt_in(kind, person, random.Random(person), now)
            await consent.record(session, workspace_id, contact.id, change, now)
    return [person for person, _ in people]


def _direct_opt_in(
    kind: str, address: str, rng: random.Random, now: datetime
) -> consent.ConsentChange:
    return consent.ConsentChange(
        action=Action.GRANT,
        channel=kind,
        topic="marketing",
        source=rng.choice(["widget", "checkout_checkbox", "qr"]),
        actor="contact",
        occurred_at=now - timedelta(days=rng.randint(1, 120)),
        address=address,
        disclosure_text=DIRECT_DISCLOSURES[kind],
        disclosure_version="2026-01",
        evidence={
            "ip": f"203.0.113.{rng.randint(1, 254)}",
            "page_url": "https://shop.example/join",
        },
    )


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
