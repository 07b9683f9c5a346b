"""QR codes of a page's address, as SVG (for print: it scales) and PNG (for chat and
slides). Error correction M survives a smudged poster and keeps the code small."""

from __future__ import annotations

import io
from typing import Literal

import segno

Kind = Literal["svg", "png"]
MEDIA_TYPES: dict[str, str] = {"svg": "image/svg+xml", "png": "image/png"}


def qr_code(data: str, kind: Kind, scale: int = 8) -> bytes:
    code = segno.make(data, error="m", micro=False)
    buffer = io.BytesIO()
    if kind == "svg":
        code.save(buffer, kind="svg", scale=scale, border=4, title="Scan to sign up")
    else:
        code.save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
