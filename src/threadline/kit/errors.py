"""Domain errors. Each carries what is wrong and where, and maps to one HTTP status."""

from __future__ import annotations


class ThreadlineError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def as_dict(self) -> dict[str, str]:
        body = {"error": self.code, "message": self.message}
        if self.where:
            body["where"] = self.where
        return body


class InvalidInput(ThreadlineError):
    status_code = 422
    code = "invalid_input"


class NotFound(ThreadlineError):
    status_code = 404
    code = "not_found"


class Conflict(ThreadlineError):
    status_code = 409
    code = "conflict"


class Unauthorized(ThreadlineError):
    status_code = 401
    code = "unauthorized"
