"""Error codes → what to do; the HTTP client's outcomes; webhook signatures."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web

from tests.channels.whatsapp.harness import free_port
from threadline.channels.errors import RETRYABLE, ErrorClass
from threadline.channels.http import http_session
from threadline.channels.meta import signature
from threadline.channels.outcome import SendOutcome
from threadline.channels.whatsapp.client import WhatsAppClient
from threadline.channels.whatsapp.errors import classify

E = ErrorClass


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (130429, E.THROTTLE),
        (4, E.THROTTLE),
        (80007, E.THROTTLE),
        (131056, E.PAIR_LIMIT),
        (131048, E.SPAM_LIMIT),
        (131047, E.WINDOW_CLOSED),
        (131050, E.OPTED_OUT),
        (131049, E.PER_USER_MARKETING_LIMIT),
        (131026, E.UNDELIVERABLE),
        (130497, E.UNDELIVERABLE),
        (132000, E.TEMPLATE_PROBLEM),
        (132001, E.TEMPLATE_PROBLEM),
        (132015, E.TEMPLATE_PROBLEM),
        (132016, E.TEMPLATE_PROBLEM),
        (0, E.AUTH),
        (190, E.AUTH),
        (10, E.AUTH),
        (200, E.AUTH),
        (368, E.POLICY_BLOCK),
        (131031, E.POLICY_BLOCK),
        (131000, E.RETRY),
        (131016, E.RETRY),
        (130472, E.NOT_SENT),
        (100, E.INVALID_REQUEST),
        # Unknown codes: inside the 131xxx "send failed" family → retry with backoff;
        # anything else → treat as our mistake, never retry blindly.
        (131999, E.RETRY),
        (999999, E.INVALID_REQUEST),
        (-1, E.INVALID_REQUEST),
    ],
)
def test_classify(code: int, expected: ErrorClass) -> None:
    assert classify(code) == expected


def test_only_transient_classes_are_retryable() -> None:
    assert {classify(c) for c in (130429, 131056, 131048, 131000)} <= RETRYABLE
    for code in (131047, 131050, 131049, 131026, 132001, 190, 368, 130472):
        assert classify(code) not in RETRYABLE, code


# -- the client -----------------------------------------------------------------------------
# A real Graph stand-in (aiohttp.web) on a local port: each phone-number id is one route,
# answered by path, not by call order; every request it receives is recorded.
VERSION = "v21.0"
TOKEN = "secret-token"
TIMEOUT = 0.3  # seconds; the "slow" route answers only after the client gave up


def graph_error(code: int, message: str) -> dict[str, object]:
    return {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": f"details of {code}"},
            "fbtrace_id": "A1",
        }
    }


def ok(body: dict[str, object]) -> Callable[[], web.Response]:
    return lambda: web.json_response(body)


def fail(status: int, body: dict[str, object]) -> Callable[[], web.Response]:
    return lambda: web.json_response(body, status=status)


ROUTES: dict[str, Callable[[], web.Response]] = {
    "text-ok": ok(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": "+5511999990000", "wa_id": "5511999990000"}],
            "messages": [{"id": "wamid.TEXT"}],
        }
    ),
    "template-ok": ok(
        {"messages": [{"id": "wamid.TPL", "message_status": "held_for_quality_assessment"}]}
    ),
    "throttled-429": fail(429, graph_error(130429, "(#130429) Rate")),
    "throttled-400": fail(400, graph_error(130429, "(#130429) Rate")),
    "pair-400": fail(400, graph_error(131056, "(#131056) pair")),
    "window-429": fail(429, graph_error(131047, "(#131047) window")),
    "token-401": fail(401, graph_error(190, "Error validating token")),
    "bad-gateway": lambda: web.Response(
        status=502, text="<html>Bad Gateway</html>", content_type="text/html"
    ),
    "unavailable": lambda: web.Response(status=503),
    "no-id": ok({"messages": []}),
}


@dataclass(frozen=True)
class Seen:
    method: str
    url: str
    authorization: str | None
    body: bytes


@dataclass
class Graph:
    url: str
    seen: list[Seen]


@pytest.fixture
async def graph() -> AsyncIterator[Graph]:
    seen: list[Seen] = []
    release = asyncio.Event()

    async def messages(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(
            Seen(request.method, str(request.url), request.headers.get("Authorization"), body)
        )
        route = request.match_info["route"]
        if route == "slow":
            # Answers only once the test is over: long after the client's timeout.
            await release.wait()
            route = "text-ok"
        return ROUTES[route]()

    app = web.Application()
    app.router.add_post(f"/{VERSION}/{{route}}/messages", messages)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield Graph(f"http://{host}:{port}", seen)
    finally:
        release.set()
        await runner.cleanup()


async def send(base_url: str, route: str, session_timeout: float = 10.0) -> SendOutcome:
    async with http_session(timeout=session_timeout) as http:
        client = WhatsAppClient(
            http,
            base_url=base_url + "/",
            api_version=VERSION,
            phone_number_id=route,
            access_token=TOKEN,
        )
        return await client.send({"messaging_product": "whatsapp", "to": "5511999990000"})


async def test_success_gives_the_provider_id(graph: Graph) -> None:
    text = await send(graph.url, "text-ok")
    assert (text.ok, text.provider_id, text.message_status) == (True, "wamid.TEXT", None)
    assert text.error is None and text.error_class is None and not text.outcome_unknown
    assert text.http_status == 200
    template = await send(graph.url, "template-ok")
    assert (template.provider_id, template.message_status) == (
        "wamid.TPL",
        "held_for_quality_assessment",
    )
    request = graph.seen[0]
    assert request.url == f"{graph.url}/{VERSION}/text-ok/messages"
    assert request.method == "POST"
    assert request.authorization == f"Bearer {TOKEN}"
    assert json.loads(request.body) == {"messaging_product": "whatsapp", "to": "5511999990000"}


@pytest.mark.parametrize(
    ("route", "status", "code", "expected"),
    [
        ("throttled-429", 429, 130429, E.THROTTLE),
        ("throttled-400", 400, 130429, E.THROTTLE),
        ("pair-400", 400, 131056, E.PAIR_LIMIT),
        ("window-429", 429, 131047, E.WINDOW_CLOSED),
        ("token-401", 401, 190, E.AUTH),
    ],
)
async def test_graph_errors_are_classified_by_code_not_http_status(
    graph: Graph, route: str, status: int, code: int, expected: ErrorClass
) -> None:
    outcome = await send(graph.url, route)
    assert not outcome.ok
    assert outcome.http_status == status
    assert outcome.error is not None
    assert outcome.error.code == code
    assert outcome.error.details == f"details of {code}"
    assert outcome.error_class == expected
    assert not outcome.outcome_unknown


@pytest.mark.parametrize(("route", "status"), [("bad-gateway", 502), ("unavailable", 503)])
async def test_5xx_without_a_graph_body_is_retried(graph: Graph, route: str, status: int) -> None:
    outcome = await send(graph.url, route)
    assert (outcome.ok, outcome.error_class, outcome.http_status) == (False, E.RETRY, status)
    assert outcome.error is not None and outcome.error.code == -status
    assert not outcome.outcome_unknown
    assert len(graph.seen) == 1


async def test_connection_failure_is_a_safe_retry() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    outcome = await send(nobody, "text-ok")
    assert (outcome.ok, outcome.error_class, outcome.outcome_unknown) == (False, E.RETRY, False)
    assert outcome.http_status is None
    assert outcome.error is not None and outcome.error.code == -1


async def test_timeout_leaves_the_outcome_unknown(graph: Graph) -> None:
    started = time.monotonic()
    outcome = await send(graph.url, "slow", session_timeout=TIMEOUT)
    assert time.monotonic() - started < TIMEOUT + 2
    assert (outcome.ok, outcome.error_class, outcome.outcome_unknown) == (False, E.RETRY, True)
    assert outcome.http_status is None
    # The platform did receive it: why a blind retry could send it twice.
    assert [s.url for s in graph.seen] == [f"{graph.url}/{VERSION}/slow/messages"]


async def test_accepted_without_an_id_is_not_a_success(graph: Graph) -> None:
    outcome = await send(graph.url, "no-id")
    assert (outcome.ok, outcome.outcome_unknown) == (False, True)


# -- signatures -----------------------------------------------------------------------------
SECRET = "app-secret"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def test_signature_matches_hmac_sha256_of_the_raw_body() -> None:
    # Computed outside Python: printf '%s' "$BODY" | openssl dgst -sha256 -hmac app-secret
    expected = "sha256=d3e4f9da0ce6c71ab3dba55929b8eeeee2455349e534924ead19f98d143e904f"
    assert signature.signature(SECRET, BODY) == expected
    assert signature.valid(SECRET, BODY, expected)


@pytest.mark.parametrize(
    ("secret", "body", "header"),
    [
        ("other-secret", BODY, signature.signature(SECRET, BODY)),
        (SECRET, BODY, None),
        (SECRET, BODY, ""),
        (SECRET, BODY, signature.signature(SECRET, BODY).removeprefix("sha256=")),
        (SECRET, BODY, "sha1=" + signature.signature(SECRET, BODY).removeprefix("sha256=")),
        (SECRET, BODY.replace(b"[]", b"[{}]"), signature.signature(SECRET, BODY)),
        (SECRET, BODY + b" ", signature.signature(SECRET, BODY)),
    ],
    ids=[
        "wrong-secret",
        "missing-header",
        "empty-header",
        "no-prefix",
        "sha1-prefix",
        "tampered",
        "trailing-byte",
    ],
)
def test_invalid_signatures_are_refused(secret: str, body: bytes, header: str | None) -> None:
    assert not signature.valid(secret, body, header)
