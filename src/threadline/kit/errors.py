"""Domain errors. Each carries what is wrong and where, and maps to one HTTP status."""

from __future__ import annotations


class ThreadlineError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, where: str | None = None, details: dict[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.details = details or {}  # what the caller can do instead, problems found, ...

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.where:
            body["where"] = self.where
        return {**body, **self.details}


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
