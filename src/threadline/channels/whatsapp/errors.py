"""WhatsApp error codes → what to do about them. Always the code, never the HTTP status
or the title: Meta changes titles and returns throttling under several statuses."""

from __future__ import annotations

from enum import StrEnum


class ErrorClass(StrEnum):
    RETRY = "retry"  # transient: retry with backoff
    THROTTLE = "throttle"  # slow the number's token bucket, then retry
    PAIR_LIMIT = "pair_limit"  # too fast to this one recipient: retry that recipient later
    SPAM_LIMIT = "spam_limit"  # quality-based limit: pause marketing, check quality
    WINDOW_CLOSED = "window_closed"  # free-form outside the 24 h window: send a template
    OPTED_OUT = "opted_out"  # the person stopped marketing messages
    PER_USER_MARKETING_LIMIT = "per_user_marketing_limit"  # try again after 24 h at the earliest
    UNDELIVERABLE = "undeliverable"  # not on WhatsApp / can't receive: don't retry
    TEMPLATE_PROBLEM = "template_problem"  # missing, unapproved, paused, wrong parameters
    AUTH = "auth"  # token invalid or expired, or a permission missing: stop the channel
    POLICY_BLOCK = "policy_block"  # account blocked or locked: stop the channel
    INVALID_REQUEST = "invalid_request"  # our request was wrong: don't retry
    NOT_SENT = "not_sent"  # deliberately not delivered (experiment): not billed, don't retry


_EXACT: dict[int, ErrorClass] = {
    0: ErrorClass.AUTH,
    190: ErrorClass.AUTH,
    4: ErrorClass.THROTTLE,
    80007: ErrorClass.THROTTLE,
    130429: ErrorClass.THROTTLE,
    131056: ErrorClass.PAIR_LIMIT,
    131048: ErrorClass.SPAM_LIMIT,
    131047: ErrorClass.WINDOW_CLOSED,
    131050: ErrorClass.OPTED_OUT,
    131049: ErrorClass.PER_USER_MARKETING_LIMIT,
    131026: ErrorClass.UNDELIVERABLE,
    368: ErrorClass.POLICY_BLOCK,
    131031: ErrorClass.POLICY_BLOCK,
    131000: ErrorClass.RETRY,
    131016: ErrorClass.RETRY,
    1: ErrorClass.RETRY,
    2: ErrorClass.RETRY,
    130472: ErrorClass.NOT_SENT,
    # The business may not message users in that country (e.g. marketing to US numbers).
    130497: ErrorClass.UNDELIVERABLE,
    100: ErrorClass.INVALID_REQUEST,
    131008: ErrorClass.INVALID_REQUEST,
    131009: ErrorClass.INVALID_REQUEST,
    131051: ErrorClass.INVALID_REQUEST,
    131052: ErrorClass.RETRY,
    131053: ErrorClass.INVALID_REQUEST,
    131014: ErrorClass.INVALID_REQUEST,
    131064: ErrorClass.SPAM_LIMIT,
}

RETRYABLE = frozenset(
    {ErrorClass.RETRY, ErrorClass.THROTTLE, ErrorClass.PAIR_LIMIT, ErrorClass.SPAM_LIMIT}
)


def classify(code: int) -> ErrorClass:
    if code in _EXACT:
        return _EXACT[code]
    if 132000 <= code <= 132999:
        return ErrorClass.TEMPLATE_PROBLEM
    if code == 10 or 200 <= code <= 299:
        return ErrorClass.AUTH  # permission missing: fix the app's permissions, don't retry
    if 131000 <= code <= 131999:
        return ErrorClass.RETRY
    return ErrorClass.INVALID_REQUEST
