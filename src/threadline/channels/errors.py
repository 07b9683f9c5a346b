"""What to do about a platform's refusal, in one vocabulary for every channel. Each type
declares a table from its own error codes to these classes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ErrorClass(StrEnum):
    RETRY = "retry"  # transient: retry with backoff
    THROTTLE = "throttle"  # slow the sender's token bucket, then retry
    PAIR_LIMIT = "pair_limit"  # too fast to this one recipient: retry that recipient later
    SPAM_LIMIT = "spam_limit"  # quality-based limit: pause marketing, check quality
    WINDOW_CLOSED = "window_closed"  # free-form outside the window
    OPTED_OUT = "opted_out"  # the person stopped marketing messages
    PER_USER_MARKETING_LIMIT = "per_user_marketing_limit"  # try again after 24 h at the earliest
    UNDELIVERABLE = "undeliverable"  # the person can't receive it: don't retry
    TEMPLATE_PROBLEM = "template_problem"  # missing, unapproved, paused, wrong parameters
    AUTH = "auth"  # token invalid or expired, or a permission missing: stop the channel
    POLICY_BLOCK = "policy_block"  # account blocked or locked: stop the channel
    INVALID_REQUEST = "invalid_request"  # our request was wrong: don't retry
    NOT_SENT = "not_sent"  # deliberately not delivered (experiment): not billed, don't retry


RETRYABLE = frozenset(
    {ErrorClass.RETRY, ErrorClass.THROTTLE, ErrorClass.PAIR_LIMIT, ErrorClass.SPAM_LIMIT}
)


@dataclass(frozen=True, slots=True)
class ErrorTable:
    """A type's error codes → classes: always the code (and subcode), never the HTTP status
    or the message, which platforms reword and reuse."""

    exact: Mapping[int, ErrorClass]
    # (code, subcode) pairs that mean more than the code alone (Messenger's 10/2018278).
    subcodes: Mapping[tuple[int, int], ErrorClass] = field(default_factory=dict)
    ranges: tuple[tuple[int, int, ErrorClass], ...] = ()
    default: ErrorClass = ErrorClass.INVALID_REQUEST
    # Subcodes that decide whatever code they come with.
    by_subcode_only: Mapping[int, ErrorClass] = field(default_factory=dict)

    def classify(self, code: int, subcode: int | None = None) -> ErrorClass:
        if subcode is not None:
            pair = self.subcodes.get((code, subcode)) or self.by_subcode_only.get(subcode)
            if pair is not None:
                return pair
        if code in self.exact:
            return self.exact[code]
        for low, high, error_class in self.ranges:
            if low <= code <= high:
                return error_class
        return self.default
