"""The SMS provider's form callbacks, signed the way Twilio signs them: status callbacks that
follow an accepted message (sent → delivered, or undelivered / failed with an ErrorCode), and
the inbound-message webhook posted to a number's sms_url.

X-Twilio-Signature = base64(HMAC-SHA1(auth token, full URL + key + value of every form
parameter, sorted by key)). Status callbacks are posted once, not retried, as Twilio does by
default; every attempt is recorded on the message for tests to assert on."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import mimetypes
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
from fastapi import FastAPI, Request

from threadline.emulator.sms_state import (
    API_VERSION,
    Outcome,
    SmsMessage,
    SmsNumber,
    SmsState,
    Status,
    country,
)

log = logging.getLogger("threadline.emulator.sms")
SENT_DELAY = 0.05  # wall seconds from acceptance to "sent" (or "failed")
FINAL_DELAY = 0.1  # wall seconds from "sent" to the final status, at the least
CLOCK_POLL = 0.02  # how often a delayed delivery looks at the emulator clock
Form = list[tuple[str, str]]


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """X-Twilio-Signature of a form POST to `url`. A parameter repeated with the same value
    counts once, as in Twilio's own validators."""
    data = url + "".join(key + value for key, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def status_params(message: SmsMessage) -> Form:
    """The form of a status callback, as Twilio posts it."""
    params = [
        ("MessageSid", message.sid),
        ("SmsSid", message.sid),
        ("AccountSid", message.account_sid),
        ("From", message.from_),
        ("To", message.to),
        ("MessageStatus", message.status),
        ("SmsStatus", message.status),
        ("ApiVersion", API_VERSION),
    ]
    if message.status in ("failed", "undelivered") and message.error is not None:
        params += [("ErrorCode", str(message.error[0])), ("ErrorMessage", message.error[1])]
    return params


def inbound_params(message: SmsMessage) -> Form:
    """The form of the inbound-message webhook (no MessagingServiceSid: none is emulated)."""
    params = [
        ("MessageSid", message.sid),
        ("SmsSid", message.sid),
        ("SmsMessageSid", message.sid),
        ("AccountSid", message.account_sid),
        ("From", message.from_),
        ("To", message.to),
        ("Body", message.body),
        ("NumMedia", str(len(message.media))),
        ("NumSegments", str(message.num_segments)),
        ("SmsStatus", "received"),
        ("FromCountry", country(message.from_)),
        ("ToCountry", country(message.to)),
        ("ApiVersion", API_VERSION),
    ]
    for i, url in enumerate(message.media):
        params += [(f"MediaUrl{i}", url), (f"MediaContentType{i}", _content_type(url))]
    if message.opt_out_type is not None:
        params.append(("OptOutType", message.opt_out_type))
    return params


def _content_type(url: str) -> str:
    guessed, _ = mimetypes.guess_type(url.split("?", 1)[0])
    return guessed or "image/jpeg"


@dataclass
class Answer:
    """What the receiving server answered to a form POST (status None: unreachable)."""

    status: int | None
    body: str = ""
    error: str | None = None


class SmsHooks:
    """Posts the provider's callbacks from background tasks of the app's event loop."""

    def __init__(self, state: SmsState) -> None:
        self.state = state
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10)
        return self._http

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def post(self, url: str, params: Form, auth_token: str) -> Answer:
        """One signed form POST."""
        headers = {
            "X-Twilio-Signature": signature(auth_token, url, params),
            "User-Agent": "TwilioProxy/1.1",
        }
        try:
            response = await self.http.post(url, data=dict(params), headers=headers)
        except httpx.HTTPError as exc:
            log.debug("SMS callback to %s failed: %s", url, exc)
            return Answer(None, error=str(exc) or type(exc).__name__)
        return Answer(response.status_code, response.text)

    def follow(self, message: SmsMessage, outcome: Outcome) -> None:
        """Carry an accepted message through its statuses, in order, in the background."""
        task = asyncio.create_task(self._course(message, outcome))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _course(self, message: SmsMessage, outcome: Outcome) -> None:
        await asyncio.sleep(SENT_DELAY)
        if outcome.final == "failed":
            await self._move(message, "failed", outcome)
            return
        await self._move(message, "sent", outcome)
        if outcome.final is None:
            return  # never delivered: it stays "sent"
        await asyncio.sleep(FINAL_DELAY)
        await self._clock_reaches(message, outcome.delay)
        await self._move(message, outcome.final, outcome)

    async def _clock_reaches(self, message: SmsMessage, delay: float) -> None:
        """Wait for the emulator clock (real time plus what tests advanced it by)."""
        due = message.created + timedelta(seconds=delay)
        while True:  # polled: the clock moves by /_emulator/clock/advance without notice
            left = (due - self.state.now()).total_seconds()
            if left <= 0:
                return
            await asyncio.sleep(min(left, CLOCK_POLL))

    async def _move(self, message: SmsMessage, status: Status, outcome: Outcome) -> None:
        error = outcome.error if status in ("failed", "undelivered") else None
        self.state.set_status(message, status, error)
        url = message.status_callback
        account = self.state.accounts.get(message.account_sid)
        if not url or account is None:
            return
        answer = await self.post(url, status_params(message), account.auth_token)
        message.callbacks.append(
            {
                "status": status,
                "url": url,
                "http_status": answer.status,
                "error": answer.error,
                "at": self.state.now().isoformat(),
            }
        )

    async def forward(self, message: SmsMessage, number: SmsNumber) -> tuple[Form, Answer]:
        """Post a person's message to the number's sms_url; the form and the answer."""
        params = inbound_params(message)
        account = self.state.accounts.get(number.account_sid)
        if not number.sms_url or account is None:
            return params, Answer(None, error="the number has no sms_url")
        return params, await self.post(number.sms_url, params, account.auth_token)


def sms_hooks(app: FastAPI) -> SmsHooks:
    """The app's SMS callback sender, made on first use (the lifespan closes it)."""
    hooks: SmsHooks | None = getattr(app.state, "sms_hooks", None)
    if hooks is None:
        hooks = SmsHooks(app.state.emulator.state.sms)
        app.state.sms_hooks = hooks
    return hooks


def request_hooks(request: Request) -> SmsHooks:
    return sms_hooks(request.app)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Included with the SMS router: pending callbacks stop, and the client closes, with
    the app."""
    sms_hooks(app)
    yield
    await sms_hooks(app).close()
