"""Everything the emulated platform knows, and the rules it applies to a send."""

from __future__ import annotations

import base64
import random
import re
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from threadline.emulator.meta_messaging import MetaState
from threadline.emulator.sms_state import SmsState

SERVICE_WINDOW = timedelta(hours=24)
ENTRY_POINT_WINDOW = timedelta(hours=72)
LIMIT_WINDOW = timedelta(hours=24)
PAIR_BURST = 10
PAIR_SECONDS = 6.0
_POSITIONAL = re.compile(r"\{\{\s*(\d+)\s*\}\}")
_NAMED = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
SESSION_TYPES = frozenset(
    {
        "text",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "location",
        "contacts",
        "interactive",
        "reaction",
    }
)


def tier_label(tier: int | None) -> str:
    """The platform's name for a messaging limit: TIER_250, TIER_1K, TIER_UNLIMITED..."""
    if tier is None:
        return "TIER_UNLIMITED"
    if tier >= 1000 and tier % 1000 == 0:
        return f"TIER_{tier // 1000}K"
    return f"TIER_{tier}"


@dataclass
class Number:
    phone_number_id: str
    waba_id: str
    display_phone_number: str
    access_token: str
    app_secret: str
    callback_url: str | None = None
    verify_token: str | None = None
    mps: int = 80
    tier: int | None = 250  # unique business-initiated recipients per rolling 24 h
    quality: str = "GREEN"


@dataclass
class TemplateDef:
    id: str
    waba_id: str
    name: str
    language: str
    category: str  # MARKETING | UTILITY | AUTHENTICATION
    status: str = "APPROVED"
    body: str = ""
    header: str | None = None
    buttons: list[dict[str, Any]] = field(default_factory=list)
    # Lifecycle of templates created through the Graph API (emulator/templates.py).
    components: list[dict[str, Any]] = field(default_factory=list)
    parameter_format: str = "POSITIONAL"
    rejection_reason: str | None = None
    quality: str = "UNKNOWN"  # GREEN | YELLOW | RED | UNKNOWN
    pause_count: int = 0
    paused_until: datetime | None = None
    review_due: datetime | None = None  # set while PENDING
    edits: list[datetime] = field(default_factory=list)  # edits made while APPROVED
    history: list[dict[str, Any]] = field(default_factory=list)

    def body_params(self) -> tuple[int, set[str]]:
        positional = {int(n) for n in _POSITIONAL.findall(self.body)}
        return len(positional), set(_NAMED.findall(self.body))


@dataclass
class WabaTemplates:
    """A WABA's template settings and bookkeeping."""

    review_delay: float = 60.0  # emulator seconds from submission to review
    reject_miscategorised: bool = False  # promotional UTILITY → REJECTED, not recategorised
    created: deque[datetime] = field(default_factory=deque)  # for the hourly creation cap
    deleted_names: dict[str, datetime] = field(default_factory=dict)


@dataclass
class SimUser:
    wa_id: str
    name: str = ""
    reply: float = 0.0
    read: float = 0.8
    block: float = 0.0
    report: float = 0.0
    convert: float = 0.0
    unreachable: bool = False
    marketing_stopped: bool = False
    blocked: bool = False
    last_inbound_at: datetime | None = None
    entry_point_at: datetime | None = None
    inbox: list[dict[str, Any]] = field(default_factory=list)
    marketing_received: list[datetime] = field(default_factory=list)


@dataclass
class Faults:
    error_rate: float = 0.0  # share of sends answered with a 500 before doing anything
    latency_ms: int = 0
    timeout_rate: float = 0.0  # share of sends accepted, then answered too late
    timeout_ms: int = 15_000
    throttle_burst: int = 0  # the next N sends get 130429


@dataclass
class RequestRecord:
    at: str
    method: str
    path: str
    to: str | None
    type: str | None
    result: str  # "accepted" or "error"
    code: int | None = None
    message_id: str | None = None
    callback_data: str | None = None


class Refusal(Exception):
    """A send the platform refuses at once (an HTTP error answer)."""

    def __init__(self, code: int, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status


@dataclass
class Accepted:
    message_id: str
    user: SimUser
    # Failures the platform reports later, in a status webhook, after accepting the send.
    late_failure: tuple[int, str] | None
    pricing: dict[str, Any] | None
    template_message_status: str | None


class EmulatorState:
    def __init__(self, seed: int = 0, throttle_http_status: int = 429) -> None:
        self.rng = random.Random(seed)
        self.offset = timedelta()
        self.numbers: dict[str, Number] = {}
        self.templates: dict[str, TemplateDef] = {}
        self.wabas: dict[str, WabaTemplates] = defaultdict(WabaTemplates)
        self.template_hooks_due = 0.0  # keeps template webhooks in the order they happened
        self._template_ids = 0
        self.users: dict[str, SimUser] = {}
        # Commerce catalogs connected to the businesses: catalog id -> product retailer ids.
        self.catalogs: dict[str, set[str]] = {}
        self.faults = Faults()
        self.requests: list[RequestRecord] = []
        self.per_user_marketing_limit = 2
        self.throttle_http_status = throttle_http_status
        self._sends: dict[str, deque[float]] = defaultdict(deque)
        self._pair: dict[tuple[str, str], tuple[float, datetime]] = {}
        self._business_initiated: dict[str, dict[str, datetime]] = defaultdict(dict)
        self._counter = 0
        # Messenger Pages and Instagram accounts, on the same clock.
        self.meta = MetaState(self.now, seed)
        # The Twilio-compatible SMS provider, on the same clock, with faults of its own.
        self.sms = SmsState(self.now, seed, Faults())

    # -- time ---------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> datetime:
        self.offset += timedelta(seconds=seconds)
        return self.now()

    # -- ids ----------------------------------------------------------------------------
    def new_wamid(self) -> str:
        self._counter += 1
        raw = f"{self._counter}:{self.rng.getrandbits(64):016x}".encode()
        return "wamid." + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def new_template_id(self) -> str:
        self._template_ids += 1
        return str(10**15 + self._template_ids)

    # -- lookups ------------------------------------------------------------------------
    def number_for_token(self, phone_number_id: str, token: str | None) -> Number:
        number = self.numbers.get(phone_number_id)
        if number is None:
            raise Refusal(
                100,
                f"Unsupported post request. Object with ID '{phone_number_id}' does not exist",
                400,
            )
        if token != number.access_token:
            raise Refusal(190, "Error validating access token", 401)
        return number

    def template(self, waba_id: str, name: str, language: str) -> TemplateDef | None:
        for template in self.templates.values():
            if (template.waba_id, template.name, template.language) == (waba_id, name, language):
                return template
        return None

    def window_open(self, user: SimUser, now: datetime) -> bool:
        if user.last_inbound_at and now < user.last_inbound_at + SERVICE_WINDOW:
            return True
        return bool(user.entry_point_at and now < user.entry_point_at + ENTRY_POINT_WINDOW)

    # -- the rules of a send ------------------------------------------------------------
    def check_throughput(self, number: Number, wall: float) -> None:
        sends = self._sends[number.phone_number_id]
        while sends and wall - sends[0] >= 1.0:
            sends.popleft()
        if len(sends) >= number.mps:
            raise Refusal(
                130429,
                "(#130429) Rate limit hit: message throughput exceeded",
                self.throttle_http_status,
            )
        sends.append(wall)

    def send(self, number: Number, body: dict[str, Any], wall: float) -> Accepted:
        now = self.now()
        if body.get("messaging_product") != "whatsapp":
            raise Refusal(100, "(#100) The parameter messaging_product is required.")
        if self.faults.throttle_burst > 0:
            self.faults.throttle_burst -= 1
            raise Refusal(130429, "(#130429) Rate limit hit", self.throttle_http_status)
        self.check_throughput(number, wall)
        kind = body.get("type", "text")
        to = str(body.get("to", "")).lstrip("+")
        if not to:
            raise Refusal(100, "(#100) The parameter to is required.")
        user = self.users.get(to)
        template = None
        category = "service"
        if kind == "template":
            template = self._template_for(number, body)
            category = template.category.lower()
        elif kind not in SESSION_TYPES:
            raise Refusal(100, "(#100) Param type must be one of the supported message types")
        self._check_pair_rate(number, to, now)
        in_window = user is not None and self.window_open(user, now)
        business_initiated = not in_window
        if business_initiated:
            self._check_tier(number, to, now)
        message_id = self.new_wamid()
        late = self._late_failure(user, kind, category, in_window, now)
        if user is None:
            user = SimUser(wa_id=to, unreachable=True)
        if late is None:
            user.inbox.append({"id": message_id, "at": now.isoformat(), **body})
            if category == "marketing":
                user.marketing_received.append(now)
            if business_initiated:
                self._business_initiated[number.waba_id][to] = now
        pricing = self._pricing(user, category, in_window, now) if late is None else None
        status = "accepted" if template is not None else None
        return Accepted(message_id, user, late, pricing, status)

    def _template_for(self, number: Number, body: dict[str, Any]) -> TemplateDef:
        spec = body.get("template") or {}
        name = spec.get("name")
        language = (spec.get("language") or {}).get("code")
        template = self.template(number.waba_id, str(name), str(language))
        if template is None:
            raise Refusal(132001, "(#132001) Template name does not exist in the translation")
        if template.status == "PAUSED":
            raise Refusal(132015, "(#132015) Template is Paused")
        if template.status == "DISABLED":
            raise Refusal(132016, "(#132016) Template was disabled")
        if template.status != "APPROVED":
            raise Refusal(132001, "(#132001) Template is not approved")
        expected_positional, expected_named = template.body_params()
        given: list[dict[str, Any]] = []
        for component in spec.get("components") or []:
            if component.get("type") == "body":
                given = component.get("parameters") or []
        named = {p.get("parameter_name") for p in given if p.get("parameter_name")}
        if expected_named:
            if named != expected_named:
                raise Refusal(
                    132000,
                    "(#132000) Number of parameters does not match the expected number of params",
                )
        elif len(given) != expected_positional:
            raise Refusal(
                132000,
                "(#132000) Number of parameters does not match the expected "
                f"number of params ({len(given)} given, {expected_positional} "
                "expected)",
            )
        return template

    def _check_pair_rate(self, number: Number, to: str, now: datetime) -> None:
        """One message per 6 s to the same person on average, with short bursts allowed:
        a token bucket of PAIR_BURST refilled at 1/6 per second."""
        key = (number.phone_number_id, to)
        tokens, last = self._pair.get(key, (float(PAIR_BURST), now))
        tokens = min(float(PAIR_BURST), tokens + (now - last).total_seconds() / PAIR_SECONDS)
        if tokens < 1.0:
            raise Refusal(
                131056,
                "(#131056) (Business Account, Consumer Account) pair rate limit hit",
                self.throttle_http_status,
            )
        self._pair[key] = (tokens - 1.0, now)

    def _check_tier(self, number: Number, to: str, now: datetime) -> None:
        if number.tier is None:
            return
        reached = self._business_initiated[number.waba_id]
        for wa_id, at in list(reached.items()):
            if now - at >= LIMIT_WINDOW:
                del reached[wa_id]
        if to not in reached and len(reached) >= number.tier:
            raise Refusal(
                131048,
                "(#131048) Spam rate limit hit: messaging limit reached",
                self.throttle_http_status,
            )

    def _late_failure(
        self, user: SimUser | None, kind: str, category: str, in_window: bool, now: datetime
    ) -> tuple[int, str] | None:
        if user is None or user.unreachable or user.blocked:
            return 131026, "Message undeliverable"
        if kind != "template" and not in_window:
            return 131047, (
                "Re-engagement message: more than 24 hours have passed since the "
                "recipient last replied"
            )
        if category == "marketing":
            if user.marketing_stopped:
                return 131050, "User has stopped marketing messages"
            if user.wa_id.startswith("1"):
                return 130497, "Business account is restricted from messaging users in this country"
            recent = [t for t in user.marketing_received if now - t < LIMIT_WINDOW]
            if len(recent) >= self.per_user_marketing_limit:
                return (
                    131049,
                    "This message was not delivered to maintain healthy ecosystem engagement",
                )
        return None

    def _pricing(
        self, user: SimUser, category: str, in_window: bool, now: datetime
    ) -> dict[str, Any]:
        entry = user.entry_point_at is not None and now < user.entry_point_at + ENTRY_POINT_WINDOW
        if entry:
            kind = "free_entry_point"
        elif category == "service" or (category == "utility" and in_window):
            kind = "free_customer_service"
        else:
            kind = "regular"
        return {
            "billable": kind == "regular",
            "pricing_model": "PMP",
            "type": kind,
            "category": "referral_conversion" if entry else category,
        }
