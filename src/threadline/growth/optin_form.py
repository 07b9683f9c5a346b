"""The hosted form, once posted: check what the person typed, find or create their
contact, write one grant per channel they ticked (with the evidence of the visit) and
queue the confirmations. Everything is checked before anything is written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.contacts import service as contacts
from threadline.contacts.schemas import ContactIn
from threadline.contacts.urns import URN, InvalidURN, parse_urn, phone_to_urns
from threadline.growth import pages, subscribe
from threadline.growth.models import OptInPage
from threadline.growth.tokens import FormToken
from threadline.kit.errors import InvalidInput
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of

MAX_FIELD = 320


@dataclass(frozen=True)
class Visit:
    """What we know of the browser that posted the form: the consent evidence."""

    ip: str | None
    user_agent: str | None
    page_url: str
    forwarded_for: str | None = None


@dataclass(frozen=True)
class FormInput:
    channels: list[str]
    phone: str
    email: str
    agreed: bool


@dataclass
class Signup:
    joined: list[subscribe.Joined] = field(default_factory=list)
    confirmations: list[subscribe.Confirmation] = field(default_factory=list)


def field_value(fields: Mapping[str, list[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[0].strip()[:MAX_FIELD]


def read_form(fields: Mapping[str, list[str]], page: OptInPage) -> FormInput:
    """The form's fields, with every problem found at once (InvalidInput's `problems`)."""
    offered = page.channels
    chosen = [c for c in fields.get("channel", []) if c in offered]
    if len(offered) == 1:
        chosen = list(offered)
    form = FormInput(
        channels=[c for c in offered if c in chosen],
        phone=field_value(fields, "phone"),
        email=field_value(fields, "email"),
        agreed=field_value(fields, "agree") == "yes",
    )
    problems: list[dict[str, str]] = []
    if not form.agreed:
        problems.append(
            {"where": "agree", "message": "tick the box to agree; nothing is signed up without it"}
        )
    if not form.channels:
        problems.append({"where": "channel", "message": "choose where you want our messages"})
    if {"whatsapp", "sms"} & set(form.channels) and not form.phone:
        problems.append({"where": "phone", "message": "enter your mobile number"})
    if "email" in form.channels and not form.email:
        problems.append({"where": "email", "message": "enter your email address"})
    if problems:
        raise InvalidInput(
            problems[0]["message"], where=problems[0]["where"], details={"problems": problems}
        )
    return form


def addresses(form: FormInput, region: str | None) -> dict[str, URN]:
    """The address each chosen channel reaches the person at."""
    found: dict[str, URN] = {}
    problems: list[dict[str, str]] = []
    if {"whatsapp", "sms"} & set(form.channels):
        try:
            tel, whatsapp = phone_to_urns(form.phone, region)
        except (InvalidURN, ValueError):
            problems.append(
                {
                    "where": "phone",
                    "message": "that is not a mobile number we can reach; include the country "
                    "code, e.g. +44 7700 900123",
                }
            )
        else:
            found.update({"sms": tel, "whatsapp": whatsapp})
    if "email" in form.channels:
        try:
            found["email"] = parse_urn(f"mailto:{form.email}")
        except InvalidURN:
            problems.append({"where": "email", "message": "that is not an email address"})
    if problems:
        raise InvalidInput(
            problems[0]["message"], where=problems[0]["where"], details={"problems": problems}
        )
    return {channel: found[channel] for channel in form.channels}


async def owners_for(
    session: AsyncSession, workspace: Workspace, wanted: dict[str, URN], now: datetime
) -> dict[str, str]:
    """The contact each address belongs to. Addresses nobody has yet join the person's
    existing contact (found by another of their addresses) or a new one."""
    region = settings_of(workspace).default_country
    owners: dict[str, str] = {}
    for channel, urn in wanted.items():
        contact = await contacts.find_by_urn(session, workspace.id, urn)
        if contact is not None:
            owners[channel] = contact.id
    free = [str(urn) for channel, urn in wanted.items() if channel not in owners]
    if not free:
        return owners
    if owners:
        main = next(iter(owners.values()))
        for urn_text in dict.fromkeys(free):
            await contacts.add_urn(
                session, workspace.id, main, urn_text, now=now, default_region=region
            )
    else:
        created = await contacts.create_contact(
            session, workspace.id, ContactIn(urns=free), now=now, default_region=region
        )
        main = created.id
    return {channel: owners.get(channel, main) for channel in wanted}


async def submit(
    session: AsyncSession,
    workspace: Workspace,
    page: OptInPage,
    form: FormInput,
    token: FormToken,
    visit: Visit,
    now: datetime,
) -> Signup:
    wanted = addresses(form, settings_of(workspace).default_country)
    link = await pages.link_for_ref(session, workspace.id, token.ref) if token.ref else None
    if link is not None and link.page_id != page.id:
        link = None
    # The words on the screen when the form was opened, even if the page changed since.
    shown = await pages.disclosure(session, page, token.version)
    owners = await owners_for(session, workspace, wanted, now)
    evidence: dict[str, Any] = {
        "ip": visit.ip,
        "user_agent": visit.user_agent,
        "page_url": visit.page_url,
        "forwarded_for": visit.forwarded_for,
        "page_id": page.id,
        "ref": link.ref if link is not None else None,
        "form": "hosted opt-in page, unticked checkbox ticked by the person",
    }
    signup = Signup()
    for channel, urn in wanted.items():
        event = await subscribe.grant(
            session,
            workspace.id,
            owners[channel],
            channel=channel,
            topic=page.topic,
            source=link.source if link is not None else "widget",
            address=str(urn),
            disclosure_text=shown,
            disclosure_version=pages.disclosure_version(page, token.version),
            evidence=evidence,
            occurred_at=now,
            now=now,
        )
        signup.joined.append(subscribe.Joined(channel, owners[channel], event))
    for joined in signup.joined:
        signup.confirmations.append(
            await subscribe.send_confirmation(session, workspace, joined, page, page.topic, now)
        )
    return signup
