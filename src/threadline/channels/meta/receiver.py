"""GET/POST /webhooks/<type> for every Meta type: the verification handshake, and
notifications verified on the raw body, stored once and acknowledged at once. Processing
happens in the worker, so a slow step never makes the platform retry."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.api.deps import Now, Session, app_state
from threadline.channels.adapter import Adapter, WebhookFormatError
from threadline.channels.directory import KnownChannel
from threadline.channels.events import ChannelEvent
from threadline.channels.meta import signature
from threadline.kit.crypto import constant_time_equals

log = logging.getLogger("threadline.webhooks")

# The ids a notification is about: (sender addresses, parent accounts).
Referenced = Callable[[Any], tuple[set[str], set[str]]]
# Which of the targeted channels an event belongs to (None: none of ours; it is dropped).
Owner = Callable[[ChannelEvent, Sequence[KnownChannel]], KnownChannel | None]


def _problem(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


def entry_ids(payload: Any) -> tuple[set[str], set[str]]:
    """Messenger and Instagram: each entry's id is the page / Instagram account."""
    ids = {
        str(entry["id"])
        for entry in (payload.get("entry") or [] if isinstance(payload, dict) else [])
        if isinstance(entry, dict) and entry.get("id")
    }
    return ids, set()


def by_account(event: ChannelEvent, targets: Sequence[KnownChannel]) -> KnownChannel | None:
    """The channel the event's account names; an item too broken to name one is kept with
    the first channel of the delivery, for the record."""
    account = getattr(event, "account", None)
    if account is None:
        return targets[0]
    return next((c for c in targets if c.address == str(account)), None)


async def _verify(
    adapter: Adapter,
    request: Request,
    session: AsyncSession,
    mode: str | None,
    token: str | None,
    challenge: str | None,
) -> Response:
    if mode != "subscribe" or not token or challenge is None:
        return _problem(
            400,
            "bad_request",
            "expected hub.mode=subscribe, hub.verify_token and hub.challenge",
        )
    for channel in await app_state(request).channels.of_kind(session, adapter.type.kind):
        if constant_time_equals(channel.verify_token, token):
            return PlainTextResponse(challenge)
    return _problem(403, "forbidden", "verify token does not match")


async def _targets(
    adapter: Adapter, request: Request, addresses: set[str], accounts: set[str]
) -> list[KnownChannel]:
    state = app_state(request)
    # A session of its own, closed at once: on SQLite the process has one connection, and
    # the group commit that stores this delivery needs it.
    async with state.sessions() as session:
        known = await state.channels.of_kind(session, adapter.type.kind)
    return [
        c for c in known if c.address in addresses or (not addresses and c.account_id in accounts)
    ]


def _signed(request: Request, targets: Sequence[KnownChannel], raw: bytes) -> bool:
    """Only one app secret may sign a delivery; targets that disagree cannot be verified."""
    header = request.headers.get("x-hub-signature-256")
    secrets = {c.app_secret for c in targets}
    return len(secrets) == 1 and signature.valid(secrets.pop(), raw, header)


async def _receive(
    adapter: Adapter,
    referenced: Referenced,
    owner: Owner,
    request: Request,
    now: datetime,
) -> Response:
    raw = await request.body()
    try:
        payload = json.loads(raw)
    except ValueError:
        return _problem(400, "bad_request", "body is not JSON")
    addresses, accounts = referenced(payload)
    if not addresses and not accounts:
        # Nothing says whose app secret signed it, so it cannot be verified, only refused.
        return _problem(
            400, "bad_request", "the notification names no account: entry[].id is missing"
        )
    targets = await _targets(adapter, request, addresses, accounts)
    if not targets:
        return _problem(
            404,
            "not_found",
            f"no {adapter.type.title} channel for ids {sorted(addresses | accounts)}",
        )
    if not _signed(request, targets, raw):
        log.warning("rejected a %s webhook with a bad signature", adapter.type.title)
        return _problem(401, "unauthorized", "X-Hub-Signature-256 does not match the app secret")
    try:
        events = adapter.parse(payload)
    except WebhookFormatError as exc:
        return _problem(400, "bad_request", str(exc))
    stored, duplicates = await _store(request, targets, events, owner, now)
    return JSONResponse({"stored": stored, "duplicates": duplicates})


def webhook_router(
    adapter: Adapter, referenced: Referenced, owner: Owner = by_account
) -> APIRouter:
    kind = adapter.type.kind
    router = APIRouter(prefix="/webhooks", tags=["webhooks"])

    @router.get(f"/{kind.value}", name=f"verify_{kind.value}")
    async def verify(
        request: Request,
        session: Session,
        mode: Annotated[str | None, Query(alias="hub.mode")] = None,
        token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
        challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
    ) -> Response:
        """Meta's subscription handshake: echo the challenge if the verify token is ours."""
        return await _verify(adapter, request, session, mode, token, challenge)

    @router.post(f"/{kind.value}", name=f"receive_{kind.value}")
    async def receive(request: Request, now: Now) -> Response:
        return await _receive(adapter, referenced, owner, request, now)

    return router


async def _store(
    request: Request,
    targets: Sequence[KnownChannel],
    events: Sequence[ChannelEvent],
    owner: Owner,
    now: datetime,
) -> tuple[int, int]:
    grouped: dict[str, list[ChannelEvent]] = defaultdict(list)
    channel_by_id: dict[str, KnownChannel] = {}
    for event in events:
        channel = owner(event, targets)
        if channel is None:
            log.info("dropped a %s event for an account that is not ours", type(event).__name__)
            continue
        grouped[channel.id].append(event)
        channel_by_id[channel.id] = channel
    parts = [(channel_by_id[channel_id], batch) for channel_id, batch in grouped.items()]
    return await app_state(request).ingest.store(parts, now)
