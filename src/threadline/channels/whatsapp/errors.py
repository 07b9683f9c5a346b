"""WhatsApp error codes → what to do about them. Always the code, never the HTTP status
or the title: Meta changes titles and returns throttling under several statuses."""

from __future__ import annotations

from threadline.channels.errors import ErrorClass, ErrorTable

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

TABLE = ErrorTable(
    exact=_EXACT,
    ranges=(
        (132000, 132999, ErrorClass.TEMPLATE_PROBLEM),
        # Permission missing: fix the app's permissions, don't retry.
        (10, 10, ErrorClass.AUTH),
        (200, 299, ErrorClass.AUTH),
        (131000, 131999, ErrorClass.RETRY),
    ),
)


def classify(code: int) -> ErrorClass:
    return TABLE.classify(code)
