"""SMTP replies → what to do about them (RFC 5321 reply codes, RFC 3463 enhanced status
codes, the IANA registry of the latter).

An `ErrorDetail` of this type carries two numbers:

- `code`: the basic reply code, three digits (`550`, `421`, `535`); a refusal found in a
  DSN without a Diagnostic-Code gets `550` (or `450`), a failure with no reply at all (the
  relay unreachable) `0`.
- `subcode`: the enhanced status code `class.subject.detail`, encoded as
  `class * 10000 + subject * 100 + detail`, so `5.1.1` is `50101` and `5.7.26` is `50726`
  (`enhanced("5.7.26")`). A compact `511` would be ambiguous: `5.5.2` (syntax) and `552`
  (too large) would be the same number. `None` when the server gave none.

The enhanced code, when the table knows it, decides whatever reply code it came with
(`552 5.2.2` is a full mailbox, `552` alone a message too large); otherwise the reply code
decides, and any other 4xx is transient. The "other" codes (`X.Y.0`, as in `530 5.7.0
Authentication required`) say less than the reply code, so the reply code decides those."""

from __future__ import annotations

import re

from threadline.channels.errors import ErrorClass, ErrorTable

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
# A reply code at the start of a text, with its enhanced code if one follows.
_REPLY = re.compile(r"^\s*([245]\d\d)(?:[ -]+([245]\.\d{1,3}\.\d{1,3}))?")


def enhanced(status: str) -> int | None:
    """`"5.1.1"` → `50101`; None if the text does not start with an enhanced status code
    (or one whose subject or detail does not fit two digits)."""
    found = _ENHANCED.match(status)
    if found is None:
        return None
    klass, subject, detail = (int(part) for part in found.groups())
    if subject > 99 or detail > 99:
        return None
    return klass * 10000 + subject * 100 + detail


def dotted(subcode: int) -> str:
    """`50101` → `"5.1.1"`."""
    return f"{subcode // 10000}.{subcode // 100 % 100}.{subcode % 100}"


def reply_codes(text: str) -> tuple[int | None, int | None]:
    """The reply code and enhanced code a text starts with (`"550 5.1.1 no such user"`,
    a DSN's Diagnostic-Code after its `smtp;`), each None when absent."""
    found = _REPLY.match(text)
    if found is None:
        return None, enhanced(text)
    return int(found.group(1)), enhanced(found.group(2)) if found.group(2) else None


# Enhanced codes that mean the address itself is dead: the mailbox or the domain does not
# exist (or no longer does, or takes no mail). A permanent failure with one of these is a
# hard bounce, and the address is suppressed. Other permanent failures fail the message
# only: a full mailbox (5.2.2), a message too big (5.3.4) or a receiver that distrusts the
# sender (5.7.x: SPF, DMARC, reputation) say nothing against the person's address.
HARD_BOUNCES = frozenset(
    {
        50100,  # 5.1.0 other address status
        50101,  # 5.1.1 bad destination mailbox address
        50102,  # 5.1.2 bad destination system address (no such domain)
        50103,  # 5.1.3 bad destination mailbox address syntax
        50106,  # 5.1.6 destination mailbox has moved, no forwarding address
        50110,  # 5.1.10 recipient address has null MX (RFC 7505)
        50201,  # 5.2.1 mailbox disabled, not accepting messages
        50401,  # 5.4.1 no answer from host (Exchange Online: recipient does not exist)
        50404,  # 5.4.4 unable to route (the domain has no mail host)
    }
)


def hard_bounce(subcode: int | None) -> bool:
    return subcode in HARD_BOUNCES


_BY_ENHANCED: dict[int, ErrorClass] = {
    # -- the address: it does not exist or takes no mail ------------------------------------
    **dict.fromkeys(HARD_BOUNCES, ErrorClass.UNDELIVERABLE),
    # The mailbox is full: the relay has retried already, so this message is lost (the
    # address stays: it exists). A 4.2.2 is transient, like any 4.x.x.
    50202: ErrorClass.UNDELIVERABLE,
    # -- our message was wrong ---------------------------------------------------------------
    50203: ErrorClass.INVALID_REQUEST,  # 5.2.3 message length exceeds administrative limit
    50304: ErrorClass.INVALID_REQUEST,  # 5.3.4 message too big for system
    50501: ErrorClass.INVALID_REQUEST,  # 5.5.1 invalid command
    50502: ErrorClass.INVALID_REQUEST,  # 5.5.2 syntax error
    50503: ErrorClass.INVALID_REQUEST,  # 5.5.3 too many recipients
    50504: ErrorClass.INVALID_REQUEST,  # 5.5.4 invalid command arguments
    50601: ErrorClass.INVALID_REQUEST,  # 5.6.1 media not supported
    50607: ErrorClass.INVALID_REQUEST,  # 5.6.7 non-ASCII addresses not permitted (SMTPUTF8)
    # -- the relay refuses our credentials ---------------------------------------------------
    50708: ErrorClass.AUTH,  # 5.7.8 authentication credentials invalid
    50709: ErrorClass.AUTH,  # 5.7.9 authentication mechanism is too weak
    50711: ErrorClass.AUTH,  # 5.7.11 encryption required for requested mechanism
    # -- the receiver distrusts the sender: its domain, authentication or reputation ---------
    50701: ErrorClass.POLICY_BLOCK,  # 5.7.1 delivery not authorized, message refused
    50723: ErrorClass.POLICY_BLOCK,  # 5.7.23 SPF validation failed
    50724: ErrorClass.POLICY_BLOCK,  # 5.7.24 SPF validation error
    50725: ErrorClass.POLICY_BLOCK,  # 5.7.25 reverse DNS validation failed
    50726: ErrorClass.POLICY_BLOCK,  # 5.7.26 multiple authentication checks failed (DMARC)
    50727: ErrorClass.POLICY_BLOCK,  # 5.7.27 sender address has null MX
    # -- transient, but one of them slows the whole sender or this one recipient -------------
    40201: ErrorClass.PAIR_LIMIT,  # 4.2.1 the person is receiving mail too fast (Gmail)
    40202: ErrorClass.RETRY,  # 4.2.2 mailbox full, for now
    40503: ErrorClass.THROTTLE,  # 4.5.3 too many recipients in this period
    40728: ErrorClass.THROTTLE,  # 4.7.28 unusual rate of mail from the sender (Gmail)
    40701: ErrorClass.RETRY,  # 4.7.1 greylisted
}

_BY_REPLY: dict[int, ErrorClass] = {
    421: ErrorClass.THROTTLE,  # service not available, closing: too many connections/mails
    450: ErrorClass.RETRY,  # mailbox unavailable (busy)
    451: ErrorClass.RETRY,  # local error in processing
    452: ErrorClass.RETRY,  # insufficient system storage
    454: ErrorClass.RETRY,  # TLS / authentication temporarily unavailable
    500: ErrorClass.INVALID_REQUEST,  # syntax error, command unrecognised
    501: ErrorClass.INVALID_REQUEST,  # syntax error in parameters
    503: ErrorClass.INVALID_REQUEST,  # bad sequence of commands
    530: ErrorClass.AUTH,  # authentication required
    534: ErrorClass.AUTH,  # authentication mechanism is too weak
    535: ErrorClass.AUTH,  # authentication credentials invalid
    538: ErrorClass.AUTH,  # encryption required for requested authentication mechanism
    550: ErrorClass.UNDELIVERABLE,  # mailbox unavailable (not found, no access)
    551: ErrorClass.UNDELIVERABLE,  # user not local
    552: ErrorClass.INVALID_REQUEST,  # exceeded storage allocation: the message is too large
    553: ErrorClass.UNDELIVERABLE,  # mailbox name not allowed
    554: ErrorClass.POLICY_BLOCK,  # transaction failed: most often "rejected as spam"
}

TABLE = ErrorTable(
    exact=_BY_REPLY,
    by_subcode_only=_BY_ENHANCED,
    ranges=((400, 499, ErrorClass.RETRY),),
    default=ErrorClass.INVALID_REQUEST,
)

# A send that got no reply at all (connection refused, dropped, timed out).
NO_REPLY = 0
