"""The MSP gateway's refusals → what to do about them.

Apple's gateway answers `POST /v1/message` with an HTTP status and no error code of its own
(200 with no body when it took the message), so for this type the table is keyed by the HTTP
status, the only code there is."""

from __future__ import annotations

from threadline.channels.errors import ErrorClass, ErrorTable

_EXACT: dict[int, ErrorClass] = {
    400: ErrorClass.INVALID_REQUEST,  # the body or a header is wrong
    401: ErrorClass.AUTH,  # the JWT is missing, forged or stale: check the MSP secret
    403: ErrorClass.AUTH,  # the MSP may not send for this business
    # The destination (an opaque id Apple minted when the person wrote this business) is not
    # known for this business: nothing to retry.
    404: ErrorClass.UNDELIVERABLE,
    408: ErrorClass.RETRY,  # the gateway gave up waiting for our body
    # The person closed or deleted the conversation: nothing goes until they write again.
    410: ErrorClass.OPTED_OUT,
    413: ErrorClass.INVALID_REQUEST,  # too large (interactive data over the inline limit)
    429: ErrorClass.THROTTLE,
}

TABLE = ErrorTable(
    exact=_EXACT,
    ranges=((500, 599, ErrorClass.RETRY),),
    default=ErrorClass.INVALID_REQUEST,
)


def classify(status: int) -> ErrorClass:
    return TABLE.classify(status)
