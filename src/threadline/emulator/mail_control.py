"""`/_emulator/mail/...`: register Threadline's sending addresses and their inbound webhook,
read the simulated mailboxes, set how a recipient behaves, and make people act on what they
received: reply, or click the one-click unsubscribe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict

from threadline.emulator import mail_reports
from threadline.emulator.mail import Behaviour, Delivered, InboundTarget, MailEmulator

_STRICT = ConfigDict(extra="forbid")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Included with the mail router: the SMTP relay listens while the app runs, on the
    emulator's clock."""
    runtime = getattr(app.state, "emulator", None)
    mail = MailEmulator.from_env(clock=runtime.state.now if runtime is not None else None)
    app.state.mail = mail
    await mail.start()
    try:
        yield
    finally:
        await mail.stop()


router = APIRouter(prefix="/_emulator/mail", tags=["emulator mail"], lifespan=lifespan)


def mail_of(request: Request) -> MailEmulator:
    mail: MailEmulator | None = getattr(request.app.state, "mail", None)
    if mail is None:
        raise HTTPException(503, "the mail emulator runs with the app's lifespan")
    return mail


@router.get("")
async def server(request: Request) -> dict[str, Any]:
    """Where the SMTP relay listens (the channel's base_url) and who is registered."""
    mail = mail_of(request)
    return {
        "host": mail.host,
        "port": mail.port,
        "url": mail.url,
        "targets": sorted(mail.targets),
        "logins": mail.logins,
    }


class TargetIn(BaseModel):
    model_config = _STRICT
    address: str  # Threadline's From address: "shop@example.com"
    inbound_url: str  # Threadline's "http://…/webhooks/email"
    secret: str  # the channel's app secret, which signs what is posted there


@router.post("/domains")
async def add_target(body: TargetIn, request: Request) -> dict[str, Any]:
    """Mail for `address` (replies, bounces, complaints) is posted to `inbound_url`."""
    address = body.address.strip().lower()
    if "@" not in address:
        raise HTTPException(400, "address must be an email address")
    mail_of(request).targets[address] = InboundTarget(address, body.inbound_url, body.secret)
    return {"address": address, "inbound_url": body.inbound_url}


@router.get("/mailboxes/{address}")
async def mailbox(address: str, request: Request) -> dict[str, Any]:
    box = mail_of(request).mailbox(address)
    return {
        "address": box.address,
        "behaviour": box.behaviour,
        "messages": [delivered.summary() for delivered in box.messages],
    }


class BehaviourIn(BaseModel):
    model_config = _STRICT
    behaviour: Literal["ok", "bounce", "complain", "reject"]


@router.post("/mailboxes/{address}/behaviour")
async def set_behaviour(address: str, body: BehaviourIn, request: Request) -> dict[str, Any]:
    box = mail_of(request).mailbox(address)
    behaviour: Behaviour = body.behaviour
    box.behaviour = behaviour
    return {"address": box.address, "behaviour": box.behaviour}


def _received(mail: MailEmulator, address: str, message_id: str | None) -> Delivered:
    found = mail.find(address, message_id)
    if found is None:
        raise HTTPException(404, f"{address} has no message {message_id or ''}".strip())
    return found


class ReplyIn(BaseModel):
    model_config = _STRICT
    text: str
    message_id: str | None = None  # the message answered (default: the latest received)
    name: str | None = None  # the person's display name


@router.post("/mailboxes/{address}/reply")
async def reply(address: str, body: ReplyIn, request: Request) -> dict[str, Any]:
    """The person answers a message they received; posted at once to the sender's webhook."""
    mail = mail_of(request)
    original = _received(mail, address, body.message_id)
    raw = mail.reply_to(original, body.text, body.name)
    replied = str(mail_reports.parse(raw).get("Message-ID", "")).strip().strip("<>")
    hook = await mail.post("reply", original.mail_from, raw, replied)
    return {"message_id": replied, "status": hook.status, "answer": hook.answer}


class WriteIn(BaseModel):
    model_config = _STRICT
    to: str  # the business's address
    subject: str
    text: str
    name: str | None = None


@router.post("/mailboxes/{address}/write")
async def write(address: str, body: WriteIn, request: Request) -> dict[str, Any]:
    """The person writes to the business first; posted at once to its inbound webhook."""
    mail = mail_of(request)
    person = address.strip().lower()
    message_id = f"{mail.next_id('w')}@{person.rpartition('@')[2]}"
    raw = mail_reports.first_mail(
        person=person,
        name=body.name,
        to=body.to,
        subject=body.subject,
        text=body.text,
        message_id=message_id,
        at=mail.clock(),
    )
    hook = await mail.post("write", body.to, raw, message_id)
    return {"message_id": message_id, "status": hook.status, "answer": hook.answer}


class ClickIn(BaseModel):
    model_config = _STRICT
    message_id: str | None = None


@router.post("/mailboxes/{address}/unsubscribe")
async def unsubscribe(address: str, body: ClickIn, request: Request) -> dict[str, Any]:
    """The person's mail client sends the one-click unsubscribe of a received message."""
    mail = mail_of(request)
    original = _received(mail, address, body.message_id)
    try:
        url, status = await mail.one_click(original)
    except LookupError as exc:
        raise HTTPException(409, str(exc)) from exc
    return {"url": url, "status": status}


@router.get("/hooks")
async def hooks(request: Request) -> list[dict[str, Any]]:
    """Every post to Threadline's inbound webhook and how it was answered."""
    return [
        {
            "kind": hook.kind,
            "target": hook.target,
            "about": hook.message_id,
            "status": hook.status,
            "attempts": hook.attempts,
            "answer": hook.answer,
        }
        for hook in mail_of(request).hooks
    ]
