"""The floor to compare Threadline's webhook receiver with: an endpoint that only checks
X-Hub-Signature-256 and parses the JSON, then answers 200."""

from __future__ import annotations

import json
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from threadline.channels.meta.signature import valid

APP_SECRET = os.environ.get("BARE_APP_SECRET", "bench-app-secret")


async def receive(request: Request) -> Response:
    body = await request.body()
    if not valid(APP_SECRET, body, request.headers.get("x-hub-signature-256")):
        return JSONResponse({"error": "bad signature"}, status_code=401)
    payload = json.loads(body)
    return JSONResponse({"entries": len(payload.get("entry", []))})


app = Starlette(routes=[Route("/webhooks/whatsapp", receive, methods=["POST"])])
