"""Calling the Graph API: one POST helper and one reading of its error envelope
`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}` for every Meta type."""

from __future__ import annotations

from typing import Any

import aiohttp

from threadline.channels.errors import ErrorClass, ErrorTable
from threadline.channels.events import ErrorDetail
from threadline.channels.http import post_for_answer
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
    return await post_for_answer(http, url, headers, json=body)
