"""What each reason code means, for people reading an API answer or a report."""

from __future__ import annotations

from threadline.policy.types import Reason

REASON_DESCRIPTIONS: dict[Reason, str] = {
    Reason.OPTED_OUT: "The contact revoked consent for this channel/topic (STOP, platform "
    "preference, API or agent). Outranks every other rule.",
    Reason.CHANNEL_CANNOT_INITIATE: "The channel only lets the customer start: Apple Messages "
    "always; Messenger/Instagram outside the 24 h window (7 days for a human agent).",
    Reason.WINDOW_CLOSED: "A service reply needs an open customer-service window (24 h since "
    "the contact's last message).",
    Reason.TEMPLATE_REQUIRED: "WhatsApp accepts only approved templates outside the window, and "
    "one-time codes only as authentication templates.",
    Reason.TEMPLATE_NOT_APPROVED: "The template is not in the approved state (pending, rejected, "
    "paused, disabled...).",
    Reason.CATEGORY_MISMATCH: "The template's category does not match the purpose of the send.",
    Reason.NO_CONSENT: "No opt-in on record for this channel and topic (or only an unconfirmed "
    "double opt-in); transactional sends need a transactional basis or an open window.",
    Reason.REGION_BLOCKED: "The platform does not deliver this kind of message to the "
    "recipient's region (e.g. WhatsApp marketing to US numbers).",
    Reason.HOLDOUT: "The contact is in the global control group or the campaign's control.",
    Reason.QUALITY_PAUSED: "The sending number's quality rating is RED: marketing is paused.",
    Reason.BUDGET_EXCEEDED: "The estimated cost exceeds the remaining workspace budget.",
    Reason.FREQUENCY_CAP: "The contact already received the maximum marketing messages in a "
    "rolling window (workspace caps and legal limits such as Florida's 3 per 24 h).",
    Reason.MESSAGING_LIMIT: "The number reached its messaging-limit tier of unique "
    "business-initiated recipients per rolling 24 h; deferred until a slot frees.",
    Reason.SUBSCRIPTION_REQUIRED: "Outside the window Messenger and Instagram take marketing "
    "only on the person's Marketing Messages subscription (its token is the consent evidence), "
    "and none is live.",
    Reason.QUIET_HOURS: "Outside the recipient's local sending hours (08:00-21:00 by default, "
    "stricter by region): deferred to the next allowed time, never dropped.",
}
