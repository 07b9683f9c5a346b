"""Sending a draft over SMTP to the account's relay (aiosmtplib), and reading media.

The relay is `access.base_url`: `smtp://user@host:587` (STARTTLS when the relay offers it,
required for a password to go), `smtps://user@host:465` (implicit TLS); the password is
`access.access_token`, the envelope sender (MAIL FROM, where DSNs go) the From address.
Connections are kept for the next send (a few at once, closed when idle for a while), so a
batch does not pay a TCP and TLS handshake per message.

What the relay says becomes an `ErrorDetail` (code: the reply code; subcode: the enhanced
status code, see `errors.py`) classified by the type's table. A relay that cannot be
reached is a retry; a connection lost or timed out during DATA may have delivered the
message, so that outcome is unknown (the Message-ID is the same on a retry, so a receiver
can tell a duplicate)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import html
import logging
import mimetypes
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, unquote_to_bytes, urlsplit

import aiohttp
import aiosmtplib

from threadline.channels.adapter import AccountAccess, RenderError
from threadline.channels.email.declaration import ATTACHMENTS_MAX
from threadline.channels.email.errors import NO_REPLY, TABLE, enhanced
from threadline.channels.email.mime import Attachment, as_bytes, compose, domain_of
from threadline.channels.errors import ErrorClass
from threadline.channels.events import ErrorDetail
from threadline.channels.outcome import SendOutcome

DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
CONNECTIONS = 3  # sessions open at once to one relay
IDLE_SECONDS = 20.0  # a kept session older than this is closed, not reused
TITLE_MAX = 500


@dataclass(frozen=True, slots=True)
class Relay:
    host: str
    port: int
    implicit_tls: bool
    username: str


def relay_of(base_url: str) -> Relay:
    """`smtp://user@host:port` → where and as whom to connect; ValueError if not SMTP."""
    url = urlsplit(base_url)
    scheme = url.scheme.lower()
    if scheme not in DEFAULT_PORTS or not url.hostname:
        raise ValueError(f"not an SMTP URL: {base_url!r} (smtp://user@host:port or smtps://…)")
    return Relay(
        host=url.hostname,
        port=url.port or DEFAULT_PORTS[scheme],
        implicit_tls=scheme == "smtps",
        username=unquote(url.username or ""),
    )


class _Failed(Exception):
    def __init__(self, outcome: SendOutcome) -> None:
        super().__init__(outcome.error.title if outcome.error else "")
        self.outcome = outcome


def _refused(code: int, message: str) -> SendOutcome:
    detail = ErrorDetail(
        code=code, title=" ".join(message.split())[:TITLE_MAX], subcode=enhanced(message)
    )
    return SendOutcome(error=detail, error_class=TABLE.classify(detail.code, detail.subcode))


def _no_reply(title: str, *, unknown: bool = False) -> SendOutcome:
    return SendOutcome(
        error=ErrorDetail(code=NO_REPLY, title=title[:TITLE_MAX]),
        error_class=ErrorClass.RETRY,
        outcome_unknown=unknown,
    )


def _invalid(title: str) -> SendOutcome:
    return SendOutcome(
        error=ErrorDetail(code=NO_REPLY, title=title[:TITLE_MAX]),
        error_class=ErrorClass.INVALID_REQUEST,
    )


log = logging.getLogger("threadline.email")


class EmailClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        access: AccountAccess,
        *,
        timeout: float = 30.0,
        connections: int = CONNECTIONS,
        clock: Callable[[], datetime] | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._http = http
        self._access = access
        try:
            self._relay: Relay | None = relay_of(access.base_url)
            self._misconfigured = ""
        except ValueError as exc:  # every send says so; the channel must be fixed
            self._relay, self._misconfigured = None, str(exc)
        self._timeout = timeout
        self._clock = clock or (lambda: datetime.now(UTC))
        self._tls_context = tls_context
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []

    # -- sending ---------------------------------------------------------------------------
    async def send(self, body: dict[str, Any]) -> SendOutcome:
        if self._relay is None:
            detail = ErrorDetail(code=NO_REPLY, title=self._misconfigured)
            return SendOutcome(error=detail, error_class=ErrorClass.AUTH)
        try:
            files, missing = await self._attachments(body.get("attachments") or [])
            message = compose(_with_links(body, missing), self._access, self._clock(), files)
        except _Failed as failed:
            return failed.outcome
        except RenderError as exc:
            return _invalid(str(exc))
        provider_id = str(message["Message-ID"]).strip().strip("<>")
        raw = as_bytes(message)
        async with self._slots:
            try:
                await self._deliver(str(body["to"]), raw)
            except _Failed as failed:
                return failed.outcome
        return SendOutcome(provider_id=provider_id, message_status="accepted")

    async def _deliver(self, to: str, raw: bytes) -> None:
        smtp, fresh = await self._session()
        try:
            try:
                await smtp.mail(self._access.address)
            except aiosmtplib.SMTPServerDisconnected:
                if fresh:
                    raise
                # A kept session the relay closed meanwhile: nothing was sent; once more.
                smtp.close()
                smtp, fresh = await self._connect(), True
                await smtp.mail(self._access.address)
            await smtp.rcpt(to)
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset(smtp)
            raise _Failed(_refused(exc.code, exc.message)) from None
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            smtp.close()
            raise _Failed(_no_reply(f"relay connection lost before DATA: {exc}")) from None
        except UnicodeEncodeError:
            await self._reset(smtp)
            raise _Failed(_invalid("the address is not ASCII (SMTPUTF8 is not used)")) from None
        try:
            await smtp.data(raw)
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset(smtp)
            raise _Failed(_refused(exc.code, exc.message)) from None
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            smtp.close()
            raise _Failed(
                _no_reply(f"no answer to DATA, the message may have gone: {exc}", unknown=True)
            ) from None
        self._idle.append((smtp, time.monotonic()))

    async def _reset(self, smtp: aiosmtplib.SMTP) -> None:
        """After a refusal the session stays usable once RSET is accepted."""
        try:
            await smtp.rset()
        except aiosmtplib.SMTPException:
            smtp.close()
            return
        self._idle.append((smtp, time.monotonic()))

    async def _session(self) -> tuple[aiosmtplib.SMTP, bool]:
        now = time.monotonic()
        while self._idle:
            smtp, since = self._idle.pop()
            if smtp.is_connected and now - since <= IDLE_SECONDS:
                return smtp, False
            await _quit(smtp)
        return await self._connect(), True

    async def _connect(self) -> aiosmtplib.SMTP:
        relay = self._relay
        assert relay is not None
        smtp = aiosmtplib.SMTP(
            hostname=relay.host,
            port=relay.port,
            username=relay.username or None,
            password=self._access.access_token or None,
            use_tls=relay.implicit_tls,
            start_tls=None if not relay.implicit_tls else False,
            timeout=self._timeout,
            local_hostname=domain_of(self._access.address) or None,
            tls_context=self._tls_context,
        )
        try:
            await smtp.connect()
        except aiosmtplib.SMTPResponseException as exc:  # a 421 greeting, a 535 login
            smtp.close()
            raise _Failed(_refused(exc.code, exc.message)) from None
        except aiosmtplib.SMTPTimeoutError as exc:
            smtp.close()
            raise _Failed(_no_reply(f"relay {relay.host}:{relay.port} timed out: {exc}")) from None
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError) as exc:
            smtp.close()
            raise _Failed(
                _no_reply(f"relay {relay.host}:{relay.port} unreachable: {exc}")
            ) from None
        except aiosmtplib.SMTPException as exc:  # no AUTH, no STARTTLS where required
            smtp.close()
            detail = ErrorDetail(code=NO_REPLY, title=f"relay refused the session: {exc}")
            raise _Failed(SendOutcome(error=detail, error_class=ErrorClass.AUTH)) from None
        return smtp

    async def aclose(self) -> None:
        """Close the kept sessions (QUIT)."""
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            await _quit(smtp)

    # -- media -----------------------------------------------------------------------------
    async def _attachments(
        self, wanted: Sequence[Mapping[str, Any]]
    ) -> tuple[list[Attachment], list[tuple[str, str]]]:
        """The files to attach, and (filename, URL) of those that could not be fetched: a
        picture whose host is down or gone goes as its link, as the other channels would show
        it, instead of holding back the mail (and the person's next ones) for retries."""
        files: list[Attachment] = []
        missing: list[tuple[str, str]] = []
        total = 0
        for item in wanted:
            url = str(item.get("url") or "")
            filename = str(item.get("filename") or "attachment")
            try:
                data, mime = await self._download(url, ATTACHMENTS_MAX - total)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.info("attachment %s not fetched (%s): sent as a link", url, exc)
                missing.append((filename, url))
                continue
            total += len(data)
            guessed = mimetypes.guess_type(filename)[0]
            if mime in ("", "application/octet-stream") and guessed:
                mime = guessed
            files.append(Attachment(filename, data, mime or "application/octet-stream"))
        return files, missing

    async def _download(self, url: str, budget: int) -> tuple[bytes, str]:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
        async with self._http.get(url) as response:
            response.raise_for_status()
            if (response.content_length or 0) > budget:
                raise ValueError(f"{url} is larger than email can carry ({ATTACHMENTS_MAX} B)")
            data = await response.content.read(budget + 1)
            if len(data) > budget:
                raise ValueError(f"{url} is larger than email can carry ({ATTACHMENTS_MAX} B)")
            return data, response.content_type or ""

    async def fetch_media(self, media: Mapping[str, Any]) -> tuple[bytes, str]:
        """An attachment a person sent: carried in its `data:` URL (small attachments are
        kept so, see `webhooks.py`), or at an http(s) URL a relay gave."""
        url = str(media.get("url") or "")
        if url.startswith("data:"):
            return data_url_bytes(url)
        if url.startswith(("https://", "http://")):
            async with self._http.get(url) as response:
                response.raise_for_status()
                mime = str(media.get("mime_type") or response.content_type)
                return await response.read(), mime
        raise ValueError(
            "this attachment was too large to keep with the message; only its name and "
            "checksum are known"
        )


def data_url_bytes(url: str) -> tuple[bytes, str]:
    """`data:<mime>;base64,<data>` (RFC 2397) → (bytes, mime)."""
    header, comma, payload = url.partition(",")
    if not header.startswith("data:") or not comma:
        raise ValueError("not a data: URL")
    params = header.removeprefix("data:").split(";")
    mime = params[0] or "text/plain"
    if "base64" in params[1:]:
        try:
            return base64.b64decode(payload, validate=True), mime
        except (binascii.Error, ValueError) as exc:
            raise ValueError("data: URL is not valid base64") from exc
    return unquote_to_bytes(payload), mime


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        if smtp.is_connected:
            await smtp.quit()
    smtp.close()


def _with_links(body: dict[str, Any], missing: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The draft with a link line for each attachment that could not be fetched."""
    if not missing:
        return body
    text = "\n".join(f"{name}: {url}" for name, url in missing)
    links = "".join(
        f'<p><a href="{html.escape(url)}">{html.escape(name)}</a></p>' for name, url in missing
    )
    return {
        **body,
        "text": f"{body.get('text') or ''}\n\n{text}".strip(),
        "html": f"{body.get('html') or ''}\n{links}",
    }
