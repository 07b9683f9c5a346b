"""The HTTP client session every channel's client shares (aiohttp, see docs/benchmarks.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from threadline.channels.errors import ErrorClass
from threadline.channels.events import ErrorDetail
from threadline.channels.outcome import SendOutcome

KEEPALIVE = 4.0  # seconds


def http_session(timeout: float = 10.0, connections: int = 32) -> aiohttp.ClientSession:
    # No total timeout: waiting for a pooled connection is not the platform being slow.
    # Connecting and reading are timed separately, so a connect timeout (request never
    # sent) can be retried safely while a read timeout (maybe sent) is reconciled.
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=min(timeout, 5.0), sock_read=timeout
        ),
        # An idle pooled connection is dropped before a server's usual idle limit (uvicorn
        # and many proxies close at 5 s): reused just as the server closed it, a send ends
        # as "no answer" and waits out the reconcile grace instead of going at once.
        connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=KEEPALIVE),
    )


# What a send that got no answer comes to, the same for every channel's client.
NO_ANSWER_ERRORS = (TimeoutError, aiohttp.ClientError)
NEVER_CONNECTED_ERRORS = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


async def post_for_answer(
    http: aiohttp.ClientSession, url: str, headers: Mapping[str, str], **payload: Any
) -> tuple[int, Any] | SendOutcome:
    """POST (`json=` or `data=`): the HTTP status and the parsed JSON answer (None when it
    is not JSON), or what a request without an answer comes to."""
    try:
        async with http.post(url, headers=dict(headers), **payload) as response:
            try:
                answer = await response.json(content_type=None)
            except ValueError:
                answer = None
            return response.status, answer
    except NEVER_CONNECTED_ERRORS as exc:
        return never_connected(exc)
    except NO_ANSWER_ERRORS as exc:
        return no_answer(exc)


def never_connected(exc: BaseException) -> SendOutcome:
    """The request never reached the platform: a retry is safe."""
    detail = ErrorDetail(code=-1, title=f"connection failed: {type(exc).__name__}")
    return SendOutcome(error=detail, error_class=ErrorClass.RETRY)


def accepted_without_id(status: int | None = None) -> SendOutcome:
    """A success answer without the platform's id: it may have been taken, reconcile."""
    detail = ErrorDetail(code=-3, title="accepted without a message id")
    return SendOutcome(
        error=detail, error_class=ErrorClass.RETRY, http_status=status, outcome_unknown=True
    )


def no_answer(exc: BaseException) -> SendOutcome:
    """The request may have been taken: reconcile before retrying, or risk a duplicate."""
    detail = ErrorDetail(code=-2, title=f"no answer: {type(exc).__name__}")
    return SendOutcome(error=detail, error_class=ErrorClass.RETRY, outcome_unknown=True)
