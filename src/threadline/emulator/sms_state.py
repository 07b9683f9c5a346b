"""A Twilio-compatible SMS provider: accounts, their numbers, the simulated phones that text
them, and the rules the provider and the carriers apply to a message (REST API 2010-04-01).

Self-contained on purpose, like the Meta side: nothing here imports Threadline's own SMS code
(channels/sms), so the emulator's segment counter and opt-out rules are an independent check
of the product's. Time is the emulator's clock (passed in), so `/_emulator/clock/advance`
refills rate buckets and releases delayed deliveries."""

from __future__ import annotations

import hmac
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from threadline.emulator.state import Faults

API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
BODY_MAX = 1600  # characters; longer bodies are refused (21617), not split further
MEDIA_MAX = 10
DEFAULT_MPS = 10

Behaviour = Literal["ok", "unreachable", "unknown", "landline", "filtered", "never"]
Status = Literal["queued", "sent", "delivered", "undelivered", "failed", "received"]
Final = Literal["delivered", "undelivered", "failed"]

# What the carrier does with a message to a phone of each behaviour: the final status and
# the error the status callback carries. "never" has no final status: it stays "sent".
CARRIER: dict[str, tuple[Final | None, tuple[int, str] | None]] = {
    "ok": ("delivered", None),
    "unreachable": ("undelivered", (30003, "Unreachable destination handset")),
    "unknown": ("failed", (30005, "Unknown destination handset")),
    "landline": ("failed", (30006, "Landline or unreachable carrier")),
    "filtered": ("undelivered", (30007, "Message filtered")),
    "never": (None, None),
}
UNREGISTERED = (30034, "Message from an unregistered number")

# Default opt-out management: whole-message keywords, matched without regard to case.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
REPLIES = {
    "STOP": (
        "You have successfully been unsubscribed. You will not receive any more messages "
        "from this number. Reply START to resubscribe."
    ),
    "START": (
        "You have successfully been re-subscribed to messages from this number. Reply HELP "
        "for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply."
    ),
    "HELP": "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
}

# Country calling codes of the numbers tests use, for FromCountry / ToCountry.
_COUNTRIES = {
    "1": "US",
    "44": "GB",
    "55": "BR",
    "52": "MX",
    "54": "AR",
    "56": "CL",
    "57": "CO",
    "34": "ES",
    "351": "PT",
    "33": "FR",
    "49": "DE",
    "39": "IT",
    "353": "IE",
    "61": "AU",
    "91": "IN",
}

# GSM 03.38: the basic table (one septet each) and the extension table (escape + septet).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


def segments(body: str) -> tuple[int, str]:
    """How many SMS parts a body takes, and its encoding (GSM-7 or UCS-2).

    GSM-7 holds 160 septets alone or 153 per part of a longer message (the rest is the
    concatenation header); UCS-2 holds 70 UTF-16 units alone or 67 per part. An escape
    pair or a surrogate pair is never split across two parts."""
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in body):
        return _pack([2 if c in GSM_EXTENDED else 1 for c in body], 160, 153), "GSM-7"
    return _pack([2 if ord(c) > 0xFFFF else 1 for c in body], 70, 67), "UCS-2"


def _pack(units: Sequence[int], single: int, per_part: int) -> int:
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for unit in units:
        if used + unit > per_part:
            parts, used = parts + 1, 0
        used += unit
    return parts


def country(phone: str) -> str:
    """The ISO country of an E.164 number, by its calling code ("" if unknown here)."""
    digits = phone.lstrip("+")
    for length in (3, 2, 1):
        found = _COUNTRIES.get(digits[:length])
        if found:
            return found
    return ""


def rfc2822(at: datetime | None) -> str | None:
    """Twilio's date format: "Thu, 30 Jul 2015 20:12:31 +0000"."""
    return format_datetime(at) if at is not None else None


class SmsRefusal(Exception):
    """A request the provider refuses at once, with its Twilio error code."""

    def __init__(self, code: int, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status


@dataclass
class SmsAccount:
    account_sid: str
    auth_token: str


@dataclass
class SmsNumber:
    account_sid: str
    number: str
    sms_url: str | None = None
    status_callback: str | None = None  # for sends that name no StatusCallback
    mps: int = DEFAULT_MPS
    opt_out_management: bool = False
    registered: bool = True  # an unregistered 10DLC number's sends fail with 30034


@dataclass
class SmsPerson:
    phone: str
    behaviour: Behaviour = "ok"
    delay_seconds: float = 0.0  # emulator seconds from "sent" to the final status
    inbox: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What will become of an accepted message; decided when it is accepted."""

    final: Final | None  # None: it stays "sent"
    error: tuple[int, str] | None
    delay: float


@dataclass
class SmsMessage:
    sid: str
    account_sid: str
    direction: str  # outbound-api | inbound | outbound-reply
    from_: str
    to: str
    body: str
    media: list[str]
    created: datetime
    status: Status
    form: list[tuple[str, str]] = field(default_factory=list)  # as received, in order
    status_callback: str | None = None
    opt_out_type: str | None = None
    error: tuple[int, str] | None = None
    updated: datetime | None = None
    sent_at: datetime | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def num_segments(self) -> int:
        return 1 if self.media and not self.body else segments(self.body)[0]

    @property
    def encoding(self) -> str:
        return segments(self.body)[1]


@dataclass
class SmsRequest:
    """One REST call as the provider received it, and its answer."""

    at: str
    method: str
    path: str
    account_sid: str
    form: list[tuple[str, str]]
    http_status: int = 0
    code: int | None = None
    sid: str | None = None


def _form_value(form: Sequence[tuple[str, str]], key: str) -> str | None:
    return next((value for name, value in form if name == key), None)


class SmsState:
    def __init__(self, clock: Callable[[], datetime], seed: int, faults: Faults) -> None:
        self._clock = clock
        # Its own generator, so SMS traffic never shifts the other platforms' sequences.
        self.rng = random.Random(seed)
        self.faults = faults  # the same knobs as /_emulator/faults, set apart for SMS
        self.accounts: dict[str, SmsAccount] = {}
        self.numbers: dict[str, SmsNumber] = {}
        self.people: dict[str, SmsPerson] = {}
        self.messages: dict[str, SmsMessage] = {}
        self.requests: list[SmsRequest] = []
        self.blocked: set[tuple[str, str]] = set()  # (business number, person) opted out
        self._buckets: dict[str, tuple[float, datetime]] = {}

    def now(self) -> datetime:
        return self._clock()

    def new_sid(self, prefix: str = "SM") -> str:
        return prefix + f"{self.rng.getrandbits(128):032x}"

    def person(self, phone: str) -> SmsPerson:
        """Every phone exists: one never configured behaves "ok"."""
        return self.people.setdefault(phone, SmsPerson(phone))

    # -- the rules of a send ----------------------------------------------------------------
    def authenticate(self, account_sid: str, credentials: tuple[str, str] | None) -> SmsAccount:
        """HTTP Basic AccountSid:AuthToken, for the account named in the URL."""
        account = self.accounts.get(account_sid)
        if (
            account is None
            or credentials is None
            or credentials[0] != account_sid
            or not hmac.compare_digest(credentials[1], account.auth_token)
        ):
            raise SmsRefusal(20003, "Authenticate", 401)
        return account

    def send(self, account: SmsAccount, form: list[tuple[str, str]]) -> tuple[SmsMessage, Outcome]:
        """Accept an outbound message or refuse it; the outcome says what happens next."""
        to, sender, body, media = _check_form(form)
        number = self.numbers.get(sender)
        if number is None or number.account_sid != account.account_sid:
            raise SmsRefusal(
                21606,
                "The From phone number is not a valid, SMS-capable inbound phone number "
                "or short code for your account",
            )
        if (number.number, to) in self.blocked:
            raise SmsRefusal(21610, "Attempt to send to unsubscribed recipient")
        self._take_token(number)
        callback = _form_value(form, "StatusCallback") or number.status_callback
        message = SmsMessage(
            sid=self.new_sid(),
            account_sid=account.account_sid,
            direction="outbound-api",
            from_=number.number,
            to=to,
            body=body,
            media=media,
            created=self.now(),
            status="queued",
            form=list(form),
            status_callback=callback,
        )
        self._store(message)
        return message, self.outcome(number, self.person(to))

    def _take_token(self, number: SmsNumber) -> None:
        """A token bucket per number: `mps` sends at once, refilled at `mps` a second."""
        now = self.now()
        tokens, last = self._buckets.get(number.number, (float(number.mps), now))
        elapsed = max(0.0, (now - last).total_seconds())
        tokens = min(float(number.mps), tokens + elapsed * number.mps)
        if tokens < 1.0:
            self._buckets[number.number] = (tokens, now)
            raise SmsRefusal(20429, "Too Many Requests", 429)
        self._buckets[number.number] = (tokens - 1.0, now)

    def outcome(self, number: SmsNumber, person: SmsPerson) -> Outcome:
        if not number.registered:
            return Outcome("failed", UNREGISTERED, 0.0)
        final, error = CARRIER[person.behaviour]
        return Outcome(final, error, person.delay_seconds)

    def throttled(self) -> bool:
        """The `throttle_burst` fault: the next N sends are refused with 20429."""
        if self.faults.throttle_burst <= 0:
            return False
        self.faults.throttle_burst -= 1
        return True

    # -- what happens after -------------------------------------------------------------------
    def set_status(
        self, message: SmsMessage, status: Status, error: tuple[int, str] | None
    ) -> None:
        """Move a message on; a delivered one lands in the person's inbox."""
        now = self.now()
        message.status, message.updated = status, now
        if status == "sent":
            message.sent_at = now
        if error is not None:
            message.error = error
        message.history.append({"status": status, "at": now.isoformat()})
        if status == "delivered":
            self.person(message.to).inbox.append(inbox_item(message, now))

    def _store(self, message: SmsMessage) -> None:
        message.updated = message.created
        message.history.append({"status": message.status, "at": message.created.isoformat()})
        self.messages[message.sid] = message

    # -- a person texts a business --------------------------------------------------------------
    def inbound(
        self, person: SmsPerson, number: SmsNumber, body: str, media: list[str]
    ) -> SmsMessage:
        """Record what the person sent; with opt-out management on, act on a keyword the
        way the provider does (block or unblock the pair, answer by itself)."""
        message = SmsMessage(
            sid=self.new_sid(),
            account_sid=number.account_sid,
            direction="inbound",
            from_=person.phone,
            to=number.number,
            body=body,
            media=media,
            created=self.now(),
            status="received",
        )
        self._store(message)
        if number.opt_out_management:
            message.opt_out_type = self._opt_out(person, number, body)
        return message

    def _opt_out(self, person: SmsPerson, number: SmsNumber, body: str) -> str | None:
        word = body.strip().upper()
        pair = (number.number, person.phone)
        if word in STOP_WORDS:
            kind = "STOP"
            self.blocked.add(pair)
        elif word in START_WORDS:
            kind = "START"
            self.blocked.discard(pair)
        elif word in HELP_WORDS:
            kind = "HELP"
        else:
            return None
        self._auto_reply(person, number, REPLIES[kind])
        return kind

    def _auto_reply(self, person: SmsPerson, number: SmsNumber, text: str) -> None:
        """The provider's own answer to a keyword: delivered at once, no callbacks."""
        reply = SmsMessage(
            sid=self.new_sid(),
            account_sid=number.account_sid,
            direction="outbound-reply",
            from_=number.number,
            to=person.phone,
            body=text,
            media=[],
            created=self.now(),
            status="queued",
        )
        self._store(reply)
        self.set_status(reply, "sent", None)
        self.set_status(reply, "delivered", None)


def _check_form(form: list[tuple[str, str]]) -> tuple[str, str, str, list[str]]:
    """To, From, Body and MediaUrls of a send, or the provider's refusal."""
    to = (_form_value(form, "To") or "").strip()
    sender = (_form_value(form, "From") or "").strip()
    body = _form_value(form, "Body") or ""
    media = [value for name, value in form if name == "MediaUrl" and value]
    if not to:
        raise SmsRefusal(21604, "A 'To' phone number is required.")
    if not E164.match(to):
        raise SmsRefusal(21211, f"Invalid 'To' Phone Number: {to}")
    if not sender:
        raise SmsRefusal(21603, "A 'From' phone number is required.")
    if not body and not media:
        raise SmsRefusal(21602, "Message body is required.")
    if len(body) > BODY_MAX:
        raise SmsRefusal(
            21617, f"The concatenated message body exceeds the {BODY_MAX} character limit."
        )
    if len(media) > MEDIA_MAX:
        raise SmsRefusal(21623, "Number of media files exceeds allowed limit")
    if any(not url.startswith(("http://", "https://")) for url in media):
        raise SmsRefusal(21620, "Invalid media URL(s)")
    return to, sender, body, media


def inbox_item(message: SmsMessage, at: datetime) -> dict[str, Any]:
    """A message as the person's phone shows it."""
    return {
        "sid": message.sid,
        "from": message.from_,
        "body": message.body,
        "media": list(message.media),
        "status": message.status,
        "segments": message.num_segments,
        "time": at.isoformat(),
    }
