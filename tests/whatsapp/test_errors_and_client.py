"""Error codes → what to do; the HTTP client's outcomes; webhook signatures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from threadline.channels.whatsapp import signature
from threadline.channels.whatsapp.client import SendOutcome, WhatsAppClient
from threadline.channels.whatsapp.errors import RETRYABLE, ErrorClass, classify

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
BASE = "https://graph.test"
VERSION = "v21.0"
TOKEN = "secret-token"


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


def _raise(exc_type: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)

    return handler


# Each phone-number id is one route: the handler answers by path, not by call order.
ROUTES: dict[str, Callable[[httpx.Request], httpx.Response]] = {
    "text-ok": lambda r: httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": "+5511999990000", "wa_id": "5511999990000"}],
            "messages": [{"id": "wamid.TEXT"}],
        },
    ),
    "template-ok": lambda r: httpx.Response(
        200,
        json={"messages": [{"id": "wamid.TPL", "message_status": "held_for_quality_assessment"}]},
    ),
    "throttled-429": lambda r: httpx.Response(429, json=graph_error(130429, "(#130429) Rate")),
    "throttled-400": lambda r: httpx.Response(400, json=graph_error(130429, "(#130429) Rate")),
    "pair-400": lambda r: httpx.Response(400, json=graph_error(131056, "(#131056) pair")),
    "window-429": lambda r: httpx.Response(429, json=graph_error(131047, "(#131047) window")),
    "token-401": lambda r: httpx.Response(401, json=graph_error(190, "Error validating token")),
    "bad-gateway": lambda r: httpx.Response(502, text="<html>Bad Gateway</html>"),
    "unavailable": lambda r: httpx.Response(503, content=b""),
    "no-id": lambda r: httpx.Response(200, json={"messages": []}),
    "connect-error": _raise(httpx.ConnectError),
    "read-timeout": _raise(httpx.ReadTimeout),
}


@pytest.fixture
def seen() -> list[httpx.Request]:
    return []


@pytest.fixture
async def http(seen: list[httpx.Request]) -> AsyncIterator[httpx.AsyncClient]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        _, version, route, tail = request.url.path.split("/")
        assert (version, tail) == (VERSION, "messages")
        return ROUTES[route](request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        yield client


async def send(http: httpx.AsyncClient, route: str) -> SendOutcome:
    client = WhatsAppClient(
        http, base_url=BASE + "/", api_version=VERSION, phone_number_id=route, access_token=TOKEN
    )
    return await client.send({"messaging_product": "whatsapp", "to": "5511999990000"})


async def test_success_gives_the_provider_id(
    http: httpx.AsyncClient, seen: list[httpx.Request]
) -> None:
    text = await send(http, "text-ok")
    assert (text.ok, text.provider_id, text.message_status) == (True, "wamid.TEXT", None)
    assert text.error is None and text.error_class is None and not text.outcome_unknown
    template = await send(http, "template-ok")
    assert (template.provider_id, template.message_status) == (
        "wamid.TPL",
        "held_for_quality_assessment",
    )
    request = seen[0]
    assert str(request.url) == f"{BASE}/{VERSION}/text-ok/messages"
    assert request.method == "POST"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {"messaging_product": "whatsapp", "to": "5511999990000"}


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
    http: httpx.AsyncClient, route: str, status: int, code: int, expected: ErrorClass
) -> None:
    outcome = await send(http, route)
    assert not outcome.ok
    assert outcome.http_status == status
    assert outcome.error is not None
    assert outcome.error.code == code
    assert outcome.error.details == f"details of {code}"
    assert outcome.error_class == expected
    assert not outcome.outcome_unknown


@pytest.mark.parametrize(("route", "status"), [("bad-gateway", 502), ("unavailable", 503)])
async def test_5xx_without_a_graph_body_is_retried(
    http: httpx.AsyncClient, route: str, status: int
) -> None:
    outcome = await send(http, route)
    assert (outcome.ok, outcome.error_class, outcome.http_status) == (False, E.RETRY, status)
    assert not outcome.outcome_unknown


async def test_connection_failure_is_a_safe_retry(
    http: httpx.AsyncClient, seen: list[httpx.Request]
) -> None:
    outcome = await send(http, "connect-error")
    assert (outcome.ok, outcome.error_class, outcome.outcome_unknown) == (False, E.RETRY, False)
    assert len(seen) == 1


async def test_timeout_leaves_the_outcome_unknown(http: httpx.AsyncClient) -> None:
    outcome = await send(http, "read-timeout")
    assert (outcome.ok, outcome.error_class, outcome.outcome_unknown) == (False, E.RETRY, True)


async def test_accepted_without_an_id_is_not_a_success(http: httpx.AsyncClient) -> None:
    outcome = await send(http, "no-id")
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
