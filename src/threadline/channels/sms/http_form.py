"""POSTing a form (`application/x-www-form-urlencoded`, names may repeat) and reading the
answer, with what a request that got no answer means for the sender.

Transport failures are read by `channels/http` as for every channel: a request that never
connected did not reach the provider (a retry is safe); one that got no answer may have been
taken (the sender must reconcile before sending again)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from threadline.channels.http import post_for_answer
from threadline.channels.outcome import SendOutcome

Fields = Sequence[tuple[str, str]]


async def post_form(
    http: aiohttp.ClientSession, url: str, fields: Fields, headers: Mapping[str, str]
) -> tuple[int, Any] | SendOutcome:
    """(HTTP status, parsed JSON body or None), or the outcome of a request with no answer."""
    return await post_for_answer(http, url, headers, data=list(fields))
