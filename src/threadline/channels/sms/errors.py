"""Twilio error codes → what to do about them, from Twilio's error dictionary.

The same codes come back two ways: in the JSON of a refused `POST …/Messages.json` (2xxxx,
the request was wrong or the account may not send) and as the `ErrorCode` of an
`undelivered`/`failed` status callback (3xxxx, what the carrier said later). Status callbacks
carry the code alone, so `TITLES` gives each a name for the message history.

Always the code, never the HTTP status: Twilio answers 400 for most of them."""

from __future__ import annotations

from collections.abc import Mapping

from threadline.channels.errors import ErrorClass, ErrorTable

_EXACT: dict[int, ErrorClass] = {
    # -- the person -----------------------------------------------------------------------
    # The person replied STOP: the provider refuses every message to them until START.
    21610: ErrorClass.OPTED_OUT,
    # "Message blocked": the person (or their carrier, on their behalf) blocks this sender.
    # Treated as an opt-out, which revokes marketing consent: writing again to someone who
    # blocked us is the TCPA risk, and service messages are still attempted.
    30004: ErrorClass.OPTED_OUT,
    30003: ErrorClass.UNDELIVERABLE,  # unreachable handset (off, out of coverage)
    30005: ErrorClass.UNDELIVERABLE,  # unknown or inactive number
    30006: ErrorClass.UNDELIVERABLE,  # a landline, or a carrier that takes no SMS
    21211: ErrorClass.UNDELIVERABLE,  # the To number is not a valid phone number
    21612: ErrorClass.UNDELIVERABLE,  # To and From cannot be connected (not reachable by SMS)
    21614: ErrorClass.UNDELIVERABLE,  # To is not a mobile number
    # -- the sender's standing --------------------------------------------------------------
    # Carrier filtering (spam or disallowed content, or a sudden volume). Not the request's
    # fault, and the same text will be filtered again: SPAM_LIMIT is the class that flags the
    # sender's quality and pauses marketing; its retry waits minutes, never at once.
    30007: ErrorClass.SPAM_LIMIT,
    # The number cannot send until its 10DLC campaign / toll-free verification is approved.
    30034: ErrorClass.POLICY_BLOCK,
    30032: ErrorClass.POLICY_BLOCK,  # toll-free number not verified
    30002: ErrorClass.POLICY_BLOCK,  # account suspended
    30037: ErrorClass.POLICY_BLOCK,  # outbound messaging disabled for the account
    20005: ErrorClass.POLICY_BLOCK,  # account not active
    # The From number is not a message-capable number of this account.
    21606: ErrorClass.POLICY_BLOCK,
    20003: ErrorClass.AUTH,  # Account SID / auth token refused
    20403: ErrorClass.AUTH,  # the credentials lack the permission
    # -- pace -----------------------------------------------------------------------------
    20429: ErrorClass.THROTTLE,  # too many API requests
    21611: ErrorClass.THROTTLE,  # the From number's queue holds more than 10 h of messages
    30001: ErrorClass.THROTTLE,  # queue overflow
    30022: ErrorClass.THROTTLE,  # 10DLC campaign rate limit exceeded
    30023: ErrorClass.THROTTLE,  # 10DLC daily message cap reached
    30027: ErrorClass.THROTTLE,  # T-Mobile daily limit reached
    # More than 30 replies between the same two numbers within 30 s (a loop guard): too fast
    # to this one person, not to everyone.
    14107: ErrorClass.PAIR_LIMIT,
    # -- transient --------------------------------------------------------------------------
    30008: ErrorClass.RETRY,  # unknown carrier error
    30009: ErrorClass.RETRY,  # a segment went missing
    30017: ErrorClass.RETRY,  # carrier network congestion
    30410: ErrorClass.RETRY,  # provider timeout
    # -- not sent, on purpose --------------------------------------------------------------
    # Outside the hours local rules allow (e.g. TCPA 8 a.m.-9 p.m. at the recipient): not
    # billed, and an immediate retry is refused the same way; the next send is the policy's
    # quiet-hours decision, not a blind retry.
    30610: ErrorClass.NOT_SENT,
    # Queued past its validity period: the message is stale (a code, a reminder), resending
    # it hours late is worse than not at all.
    30036: ErrorClass.NOT_SENT,
    # -- our request ------------------------------------------------------------------------
    # No geographic permission for the region: an account setting that refuses one country
    # while others still go, so the channel keeps sending; fix it in the provider's console.
    21408: ErrorClass.INVALID_REQUEST,
    21602: ErrorClass.INVALID_REQUEST,  # Body required
    21603: ErrorClass.INVALID_REQUEST,  # From required
    21604: ErrorClass.INVALID_REQUEST,  # To required
    21608: ErrorClass.INVALID_REQUEST,  # trial account: To is not a verified number
    21617: ErrorClass.INVALID_REQUEST,  # Body over 1,600 characters
    21619: ErrorClass.INVALID_REQUEST,  # neither Body nor MediaUrl
    21620: ErrorClass.INVALID_REQUEST,  # invalid media URL
    21623: ErrorClass.INVALID_REQUEST,  # too many media URLs
    21266: ErrorClass.INVALID_REQUEST,  # To and From are the same number
    30011: ErrorClass.INVALID_REQUEST,  # MMS not supported there: send it as text
    30019: ErrorClass.INVALID_REQUEST,  # content size over the carrier's limit
}

TABLE = ErrorTable(exact=_EXACT, default=ErrorClass.INVALID_REQUEST)

TITLES: Mapping[int, str] = {
    14107: "SMS send rate limit exceeded",
    20003: "Authentication failed",
    20005: "Account not active",
    20403: "Permission denied",
    20429: "Too many requests",
    21211: "Invalid 'To' phone number",
    21266: "'To' and 'From' are the same",
    21408: "Permission to send an SMS has not been enabled for the region",
    21602: "Message body is required",
    21603: "'From' phone number is required",
    21604: "'To' phone number is required",
    21606: "'From' is not a valid message-capable number for this account",
    21608: "'To' is not verified for this trial account",
    21610: "Recipient has opted out (replied STOP)",
    21611: "'From' number has exceeded the maximum number of queued messages",
    21612: "'To' is not currently reachable via SMS",
    21614: "'To' is not a valid mobile number",
    21617: "Message body exceeds the 1600 character limit",
    21619: "A text body or media URL is required",
    21620: "Invalid media URL",
    21623: "Number of media files exceeds the limit",
    30001: "Queue overflow",
    30002: "Account suspended",
    30003: "Unreachable destination handset",
    30004: "Message blocked",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered by the carrier",
    30008: "Unknown error",
    30009: "Missing segment",
    30011: "MMS not supported by the receiving number",
    30017: "Carrier network congestion",
    30019: "Content size exceeds carrier limit",
    30022: "10DLC rate limit exceeded",
    30023: "10DLC daily message cap reached",
    30027: "T-Mobile daily message limit reached",
    30032: "Toll-free number has not been verified",
    30034: "Message from an unregistered 10DLC number",
    30036: "Validity period expired",
    30037: "Outbound messaging disabled",
    30410: "Provider timeout",
    30610: "Not delivered: outside the hours local rules allow",
}


def title(code: int) -> str:
    """A name for a code that arrived without one (status callbacks carry the code only)."""
    return TITLES.get(code, f"Twilio error {code}")
