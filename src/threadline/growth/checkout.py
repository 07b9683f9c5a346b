"""The opt-in checkbox of a checkout, posted by the shop's backend: a grant with the
checkout's evidence, or, for a box left unticked, nothing at all and an answer saying so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.growth import optin_form, pages, subscribe
from threadline.growth.models import OptInPage
from threadline.kit.errors import InvalidInput, NotFound
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of


@dataclass(frozen=True)
class CheckoutOptIn:
    checked: bool
    channels: list[str]
    topic: str
    disclosure_text: str
    disclosure_version: str
    occurred_at: datetime
    phone: str = ""
    email: str = ""
    order_ref: str | None = None
    page_url: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    send_confirmation: bool = True


@dataclass(frozen=True)
class CheckoutResult:
    joined: list[subscribe.Joined]
    confirmations: list[subscribe.Confirmation]


async def record(
    session: AsyncSession, workspace: Workspace, optin: CheckoutOptIn, now: datetime
) -> CheckoutResult:
    if not optin.checked:
        # An unticked box is the person saying no (or nothing): never consent.
        raise InvalidInput("the opt-in box was not ticked: nothing was granted", where="checked")
    form = optin_form.FormInput(
        channels=pages.check_channels(optin.channels),
        phone=optin.phone,
        email=optin.email,
        agreed=True,
    )
    for channel, needs, value in (
        ("whatsapp", "phone", optin.phone),
        ("sms", "phone", optin.phone),
        ("email", "email", optin.email),
    ):
        if channel in form.channels and not value.strip():
            raise InvalidInput(f"{channel} needs the {needs} entered at checkout", where=needs)
    wanted = optin_form.addresses(form, settings_of(workspace).default_country)
    owners = await optin_form.owners_for(session, workspace, wanted, now)
    evidence = {
        "ip": optin.ip,
        "user_agent": optin.user_agent,
        "page_url": optin.page_url,
        "order_ref": optin.order_ref,
        "form": "checkout checkbox, unticked by default",
    }
    joined = []
    for channel, urn in wanted.items():
        event = await subscribe.grant(
            session,
            workspace.id,
            owners[channel],
            channel=channel,
            topic=optin.topic,
            source="checkout_checkbox",
            address=str(urn),
            disclosure_text=optin.disclosure_text,
            disclosure_version=optin.disclosure_version,
            evidence=evidence,
            occurred_at=optin.occurred_at,
            now=now,
            actor="checkout",
        )
        joined.append(subscribe.Joined(channel, owners[channel], event))
    confirmations = []
    if optin.send_confirmation:
        page: OptInPage | None
        try:
            page = await pages.page_for_topic(session, workspace.id, optin.topic)
        except NotFound:
            page = None
        for item in joined:
            confirmations.append(
                await subscribe.send_confirmation(session, workspace, item, page, optin.topic, now)
            )
    return CheckoutResult(joined, confirmations)
