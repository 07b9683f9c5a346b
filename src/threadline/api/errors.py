"""Every error answers with JSON saying what is wrong and where."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from threadline.kit.errors import ThreadlineError

# Where FastAPI found the value; only the first element of a location names one.
_SOURCES = ("body", "query", "path", "header", "cookie")


def _where(loc: tuple[object, ...] | list[object]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]  # not every "query": a parameter may be called that too
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or "request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ThreadlineError)
    async def _domain_error(_: Request, exc: ThreadlineError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(exc.as_dict(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            where = _where(error.get("loc", ()))
            message = str(error.get("msg", "invalid value"))
            if error.get("type") == "json_invalid":
                # The location is a character offset into the body, not a field.
                position = error.get("loc", ("body", "?"))[-1]
                reason = (error.get("ctx") or {}).get("error", "malformed")
                where = "body"
                message = f"invalid JSON at character {position}: {reason}"
            elif error.get("type") == "extra_forbidden":
                message = f"unknown field '{where.rsplit('.', 1)[-1]}'"
            problems.append({"where": where, "message": message})
        first = problems[0] if problems else {"where": "request", "message": "invalid request"}
        return JSONResponse(
            {
                "error": "invalid_input",
                "message": f"{first['where']}: {first['message']}",
                "where": first["where"],
                "problems": problems,
            },
            status_code=422,
        )
