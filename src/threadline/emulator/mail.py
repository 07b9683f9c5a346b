"""The emulator's mail side: an SMTP relay (aiosmtpd, in the emulator's own event loop)
that takes Threadline's outbound mail into simulated mailboxes, and the mail the world sends
back, posted raw and signed to Threadline's /webhooks/email as an inbound-parse relay does.

Each recipient's behaviour decides what happens to mail for them:

- `ok`: delivered to the mailbox;
- `reject`: refused at RCPT with `550 5.1.1` (Threadline's client sees the refusal);
- `bounce`: accepted, then a DSN (5.1.1) goes to the envelope sender's inbound webhook;
- `complain`: delivered, then an ARF abuse report goes to the sender's inbound webhook.

The SMTP port comes from `THREADLINE_EMULATOR_SMTP_PORT` (0, the default: any free port,
read back from `MailEmulator.port`), the interface from `THREADLINE_EMULATOR_SMTP_HOST`
(127.0.0.1). Any credentials are accepted, over plain SMTP."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Literal

import httpx
from aiosmtpd.smtp import SMTP, AuthResult

from threadline.channels.email.signature import HEADER as SIGNATURE_HEADER
from threadline.channels.email.signature import signature
from threadline.emulator import mail_reports as reports

log = logging.getLogger("threadline.emulator.mail")
Behaviour = Literal["ok", "bounce", "complain", "reject"]
HOOK_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)
REJECTED = "550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual table"


@dataclass
class Delivered:
    """One message as its recipient's mailbox holds it."""

    id: str
    mail_from: str
    recipient: str
    raw: bytes
    received_at: datetime

    @property
    def message(self) -> EmailMessage:
        return reports.parse(self.raw)

    def summary(self) -> dict[str, Any]:
        msg = self.message
        plain = msg.get_body(preferencelist=("plain",))
        page = msg.get_body(preferencelist=("html",))
        return {
            "id": self.id,
            "mail_from": self.mail_from,
            "recipient": self.recipient,
            "message_id": str(msg.get("Message-ID", "")).strip().strip("<>"),
            "subject": str(msg.get("Subject", "")),
            "headers": {name: str(value) for name, value in msg.items()},
            "text": _content(plain),
            "html": _content(page),
            "received_at": self.received_at.isoformat(),
        }


def _content(part: Any) -> str | None:
    if not isinstance(part, EmailMessage):
        return None
    content = part.get_content()
    return content.replace("\r\n", "\n") if isinstance(content, str) else None


@dataclass
class Mailbox:
    address: str
    behaviour: Behaviour = "ok"
    messages: list[Delivered] = field(default_factory=list)


@dataclass
class InboundTarget:
    """A sending address of Threadline's and where mail for it is posted."""

    address: str
    inbound_url: str
    secret: str


@dataclass
class Hook:
    kind: str  # reply, bounce, complaint
    target: str
    message_id: str
    status: int | None = None  # Threadline's answer to the last attempt
    attempts: int = 0
    answer: Any = None


class MailEmulator:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], datetime] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.clock = clock or (lambda: datetime.now(UTC))
        self.mailboxes: dict[str, Mailbox] = {}
        self.targets: dict[str, InboundTarget] = {}
        self.hooks: list[Hook] = []
        self.logins: list[str] = []
        self._http = http
        self._own_http = http is None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Ids carry a token of this run: a restarted emulator must not hand out the Message-IDs
        # an earlier run's mail had (Threadline drops a mail whose id it has seen).
        self._run = uuid.uuid4().hex[:8]
        self._ids = itertools.count(1)

    @classmethod
    def from_env(cls, **kwargs: Any) -> MailEmulator:
        host = os.environ.get("THREADLINE_EMULATOR_SMTP_HOST", "127.0.0.1")
        port = int(os.environ.get("THREADLINE_EMULATOR_SMTP_PORT", "0"))
        return cls(host, port, **kwargs)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._server is not None:
            return
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10)
        handler = _Handler(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(
                handler,
                hostname="mx.emulator.test",
                authenticator=self._authenticate,
                auth_require_tls=False,
            ),
            self.host,
            self.port,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._own_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def url(self) -> str:
        """What Threadline's channel's base_url should be."""
        return f"smtp://{self.host}:{self.port}"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        login = getattr(data, "login", b"")
        self.logins.append(login.decode() if isinstance(login, bytes) else str(login))
        return AuthResult(success=True, handled=False)

    # -- mailboxes -------------------------------------------------------------------------
    def mailbox(self, address: str) -> Mailbox:
        address = address.lower()
        found = self.mailboxes.get(address)
        if found is None:
            found = self.mailboxes[address] = Mailbox(address)
        return found

    def next_id(self, prefix: str) -> str:
        return f"{prefix}.{self._run}.{next(self._ids)}"

    def accept(self, mail_from: str, recipient: str, raw: bytes) -> Delivered:
        box = self.mailbox(recipient)
        delivered = Delivered(
            self.next_id("mail"), mail_from.lower(), box.address, raw, self.clock()
        )
        if box.behaviour == "bounce":
            self._later(self._bounce(delivered))
            return delivered
        box.messages.append(delivered)
        if box.behaviour == "complain":
            self._later(self._complain(delivered))
        return delivered

    def find(self, address: str, message_id: str | None = None) -> Delivered | None:
        """A message in the mailbox: by Message-ID or our id, else the latest."""
        messages = self.mailbox(address).messages
        if message_id is None:
            return messages[-1] if messages else None
        wanted = message_id.strip("<>")
        for delivered in reversed(messages):
            if delivered.id == wanted or _message_id(delivered) == wanted:
                return delivered
        return None

    # -- mail back to Threadline -----------------------------------------------------------
    def _target(self, address: str) -> InboundTarget | None:
        return self.targets.get(address.lower())

    async def _bounce(self, delivered: Delivered) -> None:
        raw = reports.bounce(
            delivered.raw,
            mail_from=delivered.mail_from,
            recipient=delivered.recipient,
            message_id=f"{self.next_id('dsn')}@{reports.REPORTING_MTA}",
            at=self.clock(),
        )
        await self.post("bounce", delivered.mail_from, raw, _message_id(delivered))

    async def _complain(self, delivered: Delivered) -> None:
        target = self._target(delivered.mail_from)
        raw = reports.complaint(
            delivered.raw,
            mail_from=delivered.mail_from,
            recipient=delivered.recipient,
            message_id=f"{self.next_id('arf')}@{reports.REPORTING_MTA}",
            at=self.clock(),
            to=target.address if target else delivered.mail_from,
        )
        await self.post("complaint", delivered.mail_from, raw, _message_id(delivered))

    def reply_to(self, delivered: Delivered, text: str, name: str | None = None) -> bytes:
        person = delivered.recipient
        domain = person.rpartition("@")[2]
        message_id = f"{hashlib.sha256(delivered.raw).hexdigest()[:12]}.{self.next_id('r')}"
        return reports.reply(
            delivered.raw,
            person=person,
            name=name,
            text=text,
            message_id=f"{message_id}@{domain}",
            at=self.clock(),
        )

    async def post(self, kind: str, address: str, raw: bytes, about: str) -> Hook:
        """Post a raw message to the inbound webhook of our `address`, signed, retried a
        few times while Threadline does not answer 200."""
        hook = Hook(kind, address.lower(), about)
        self.hooks.append(hook)
        target = self._target(address)
        if target is None or self._http is None:
            log.info("no inbound target for %s: %s dropped", address, kind)
            return hook
        headers = {
            "Content-Type": "message/rfc822",
            SIGNATURE_HEADER: signature(target.secret, raw),
            "X-Threadline-Recipient": target.address,
        }
        for delay in (0.0, *HOOK_RETRY_DELAYS):
            await asyncio.sleep(delay)
            hook.attempts += 1
            try:
                response = await self._http.post(target.inbound_url, content=raw, headers=headers)
            except httpx.HTTPError as exc:
                log.debug("inbound webhook to %s failed: %s", target.inbound_url, exc)
                continue
            hook.status = response.status_code
            with contextlib.suppress(ValueError):
                hook.answer = response.json()
            if response.status_code == 200 or 400 <= response.status_code < 500:
                break
        return hook

    async def one_click(self, delivered: Delivered) -> tuple[str, int]:
        """The mail client's one-click unsubscribe (RFC 8058): POST to the https URL of
        List-Unsubscribe with `List-Unsubscribe=One-Click`."""
        header = str(delivered.message.get("List-Unsubscribe", ""))
        links = [part.strip().strip("<>") for part in header.split(",")]
        url = next((link for link in links if link.startswith(("https://", "http://"))), "")
        if not url:
            raise LookupError("the message has no List-Unsubscribe http(s) link")
        if self._http is None:
            raise RuntimeError("the mail emulator is not started")
        response = await self._http.post(
            url,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return url, response.status_code

    def _later(self, work: Any) -> None:
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _message_id(delivered: Delivered) -> str:
    return str(delivered.message.get("Message-ID", "")).strip().strip("<>")


class _Handler:
    """aiosmtpd's hooks: who may receive (the recipient's behaviour) and the delivery."""

    def __init__(self, mail: MailEmulator) -> None:
        self._mail = mail

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self._mail.mailbox(address).behaviour == "reject":
            return REJECTED.format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        sender = envelope.mail_from or ""
        ids = [self._mail.accept(sender, rcpt, data).id for rcpt in envelope.rcpt_tos]
        return f"250 2.0.0 Ok: queued as {','.join(ids)}"
