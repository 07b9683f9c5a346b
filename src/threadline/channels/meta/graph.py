"""Calling the Graph API: one POST helper and one reading of its error envelope
`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}` for every Meta type."""

from __future__ import annotations

from typing import Any

import aiohttp

from threadline.channels.errors import ErrorClass, ErrorTable
from threadline.channels.events import ErrorDetail
from threadline.channels.outcome import SendOutcome


def error_outcome(status: int, body: Any, table: ErrorTable) -> SendOutcome:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or "code" not in error:
        # No Graph error body: a proxy or an outage. Retry.
        detail = ErrorDetail(code=-status, title=f"HTTP {status}")
        return SendOutcome(error=detail, error_class=ErrorClass.RETRY, http_status=status)
    data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
    subcode = error.get("error_subcode")
    detail = ErrorDetail(
        code=int(error["code"]),
        title=str(error.get("message", "")),
        message=str(error.get("message", "")),
        details=(data or {}).get("details"),
        subcode=int(subcode) if isinstance(subcode, int | str) and str(subcode).isdigit() else None,
    )
    return SendOutcome(
        error=detail, error_class=table.classify(detail.code, detail.subcode), http_status=status
    )


async def post_json(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[int, Any] | SendOutcome:
    """(HTTP status, parsed body), or the outcome of a request that got no answer."""
    try:
        async with http.post(url, json=body, headers=headers) as response:
            try:
                payload = await response.json(content_type=None)
            except ValueError:
                payload = None
            return response.status, payload
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
        # Never connected: the platform did not see the request, a retry is safe.
        detail = ErrorDetail(code=-1, title=f"connection failed: {type(exc).__name__}")
        return SendOutcome(error=detail, error_class=ErrorClass.RETRY)
    except (TimeoutError, aiohttp.ClientError) as exc:
        detail = ErrorDetail(code=-2, title=f"no answer: {type(exc).__name__}")
        return SendOutcome(error=detail, error_class=ErrorClass.RETRY, outcome_unknown=True)


def accepted_without_id() -> SendOutcome:
    detail = ErrorDetail(code=-3, title="accepted without a message id")
    return SendOutcome(error=detail, error_class=ErrorClass.RETRY, outcome_unknown=True)
