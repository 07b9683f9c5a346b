"""Messenger Platform error codes (Messenger and Instagram) → neutral classes. The code and
subcode decide, never the message (platform reference §2.3)."""

from __future__ import annotations

from threadline.channels.errors import ErrorClass, ErrorTable

TABLE = ErrorTable(
    exact={
        1: ErrorClass.RETRY,
        2: ErrorClass.RETRY,  # also returned when the person blocked the Page
        4: ErrorClass.THROTTLE,
        613: ErrorClass.THROTTLE,
        10: ErrorClass.AUTH,  # permission denied, unless a subcode says window
        190: ErrorClass.AUTH,
        200: ErrorClass.AUTH,
        368: ErrorClass.POLICY_BLOCK,
        551: ErrorClass.UNDELIVERABLE,  # this person isn't available right now
        100: ErrorClass.INVALID_REQUEST,
    },
    subcodes={
        (10, 2018278): ErrorClass.WINDOW_CLOSED,  # sent outside of allowed window
        (10, 2534022): ErrorClass.WINDOW_CLOSED,  # Instagram's variant
        (100, 2018001): ErrorClass.UNDELIVERABLE,  # no matching user
        (100, 2018108): ErrorClass.AUTH,  # app in development mode, person not a tester
    },
    by_subcode_only={2018278: ErrorClass.WINDOW_CLOSED, 1545041: ErrorClass.UNDELIVERABLE},
)
