"""What a send attempt came to, in the same shape for every channel."""

from __future__ import annotations

from dataclasses import dataclass

from threadline.channels.errors import ErrorClass
from threadline.channels.events import ErrorDetail


@dataclass(frozen=True, slots=True)
class SendOutcome:
    provider_id: str | None = None
    message_status: str | None = None  # e.g. WhatsApp's accepted | held_for_quality_assessment
    error: ErrorDetail | None = None
    error_class: ErrorClass | None = None
    http_status: int | None = None
    # The request may or may not have reached the platform (timeout, dropped connection):
    # the sender must reconcile before retrying, or it risks a duplicate.
    outcome_unknown: bool = False

    @property
    def ok(self) -> bool:
        return self.provider_id is not None
