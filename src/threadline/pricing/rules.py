"""What a WhatsApp message costs under per-message pricing (PMP, from 2025-07-01).

:func:`estimate` prices a send before it happens, from what Threadline knows (template
category, windows, markets); :func:`actual` prices a message after the fact, from the
``pricing`` block of its status webhook. Both are pure: the rate card is an argument.

Meta charges per *delivered* message: marketing and authentication templates always, utility
templates only outside an open customer-service window, free-form ("service") messages never
(they can only be sent inside the window), and nothing at all inside a free entry-point window
(72 h after a click-to-WhatsApp ad or Page call-to-action conversation).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import phonenumbers

from threadline.channels.events import Pricing
from threadline.contacts.urns import region_for_phone
from threadline.pricing.ratecard import Rate, RateCard, RateCategory

__all__ = [
    "SERVICE",
    "Charge",
    "MissingRate",
    "PricingType",
    "actual",
    "estimate",
    "market_for",
]

SERVICE = "service"
REFERRAL_CONVERSION = "referral_conversion"
_ZERO = Decimal(0)
_TEMPLATE_CATEGORIES = frozenset(
    {RateCategory.MARKETING, RateCategory.UTILITY, RateCategory.AUTHENTICATION}
)


class PricingType(StrEnum):
    """``pricing.type`` of a PMP status webhook."""

    REGULAR = "regular"
    FREE_CUSTOMER_SERVICE = "free_customer_service"
    FREE_ENTRY_POINT = "free_entry_point"


@dataclass(frozen=True, slots=True)
class Charge:
    billable: bool
    amount: Decimal  # 0 when not billable
    currency: str  # the rate card's currency, also for free messages
    # A PricingType value, or the raw ``pricing.type`` of a webhook when it is not one.
    pricing_type: str
    # The ``pricing.category`` Meta reports (or would report): marketing, utility,
    # authentication, authentication_international, service, referral_conversion, ...
    pricing_category: str
    reason: str
    rate: Rate | None = None  # the card row the amount comes from


class MissingRate(LookupError):
    """A billable message for which the rate card has no rate on that date."""


def estimate(
    *,
    category: str | None,
    market: str | None,
    window_open: bool,
    entry_point_open: bool,
    business_market: str | None,
    at: datetime,
    card: RateCard,
) -> Charge:
    """The expected charge for one message, assuming it is delivered.

    ``category``: the template category (marketing, utility, authentication, any case), or
    None (or "service") for a free-form message. ``market``: the recipient's ISO region (see
    :func:`market_for`); None prices at the card's ``*`` rates. ``business_market``: the
    business's own country, used to spot authentication-international sends.

    Raises ValueError for an unknown category or a free-form message outside an open
    customer-service window (the platform refuses it, error 131047), and :class:`MissingRate`
    when the card has no rate in force on ``at``.
    """
    template = _template_category(category)
    if template is None and not window_open:
        raise ValueError(
            "a free-form message can only be sent inside an open customer-service window; "
            "outside it the platform refuses the send (131047), so there is nothing to price"
        )
    if entry_point_open:
        return _free(
            card,
            PricingType.FREE_ENTRY_POINT,
            REFERRAL_CONVERSION,
            "free entry-point window (72 h after a click-to-WhatsApp ad or Page "
            "call-to-action conversation): every message is free",
        )
    if template is None:
        return _free(
            card,
            PricingType.FREE_CUSTOMER_SERVICE,
            SERVICE,
            "free-form (service) message inside the customer-service window: free",
        )
    if template is RateCategory.UTILITY and window_open:
        return _free(
            card,
            PricingType.FREE_CUSTOMER_SERVICE,
            template.value,
            "utility template inside an open customer-service window: free",
        )
    if template is RateCategory.UTILITY:
        return _billed(card, market, template, at, "utility template outside the window")
    if template is RateCategory.MARKETING:
        return _billed(card, market, template, at, "marketing template: always billed")
    return _authentication(card, market, business_market, at)


def actual(pricing: Pricing, *, market: str | None, at: datetime, card: RateCard) -> Charge:
    """The charge reported by a status webhook's ``pricing`` block, priced with ``card``.

    ``pricing.type`` decides (PMP); a block without it (CBP era) is decided by ``billable``,
    and one with neither by its category (service and referral_conversion are free). A billed
    category the card does not price (e.g. service, marketing_lite, group_marketing) gives a
    charge that is not billable, with a reason saying so. CBP blocks were charged once per
    24 h conversation: the amount is then the conversation's, to be counted once per
    conversation id, not per message.

    Raises :class:`MissingRate` when a priced category has no rate in force on ``at`` (for
    authentication_international: no row for that very market).
    """
    category = pricing.category or ""
    kind = _reported_type(pricing)
    if kind is PricingType.FREE_ENTRY_POINT:
        return _free(
            card,
            kind,
            category or REFERRAL_CONVERSION,
            "reported free: free entry-point window",
        )
    if kind is PricingType.FREE_CUSTOMER_SERVICE:
        return _free(
            card,
            kind,
            category or SERVICE,
            "reported free: customer-service window",
        )
    if kind is None:
        return _unpriced(
            card, pricing.type or "", category, f"unknown pricing type {pricing.type!r}"
        )
    try:
        priced = RateCategory(category)
    except ValueError:
        return _unpriced(
            card,
            kind.value,
            category,
            f"category {category or None!r} has no rate on the card: not priced",
        )
    cbp = (pricing.model or "").upper() == "CBP"
    note = " (CBP: per 24 h conversation, count once per conversation)" if cbp else ""
    if priced is RateCategory.AUTHENTICATION_INTERNATIONAL:
        rate = card.rate(market, priced, at, fallback=False)
        if rate is None:
            raise MissingRate(
                f"the platform billed authentication_international for market {market!r} on "
                f"{at.date()}, but {card.source} has no such rate for that market"
            )
        return _charge(rate, kind, priced.value, f"reported billable{note}")
    return _billed(card, market, priced, at, f"reported billable{note}", kind=kind)


def market_for(e164: str) -> str | None:
    """The rate-card market of a phone number: ``"+5511999990000"``, or a WhatsApp id /
    webhook ``recipient_id`` without the "+" (``"5511999990000"``). None if not valid.

    Meta prices by the recipient's country calling code, so the market is the main country of
    that code: Canadian and Caribbean +1 numbers give ``US``, Guernsey/Jersey/Isle of Man +44
    numbers give ``GB``, Kazakh +7 numbers give ``RU``.
    """
    return _market_for(e164)


# Cached: the policy prices every send, and a contact's number comes back on each of them.
@functools.lru_cache(maxsize=65_536)
def _market_for(e164: str) -> str | None:
    text = e164.strip()
    if text.isascii() and text.isdigit():
        text = "+" + text
    region = region_for_phone(text)  # validates the number
    if region is None:
        return None
    # A region belongs to exactly one calling code, the number's own: no second parse.
    code = phonenumbers.country_code_for_region(region)
    main = phonenumbers.region_code_for_country_code(code) if code else None
    return region if main in (None, phonenumbers.UNKNOWN_REGION, "001") else main


# --- internals -----------------------------------------------------------------------------


def _template_category(category: str | None) -> RateCategory | None:
    if category is None or category.strip().lower() == SERVICE:
        return None
    try:
        wanted = RateCategory(category.strip().lower())
    except ValueError:
        wanted = None
    if wanted not in _TEMPLATE_CATEGORIES:
        raise ValueError(
            f"unknown template category {category!r}: expected marketing, utility, "
            "authentication, or None for a free-form message"
        )
    return wanted


def _authentication(
    card: RateCard, market: str | None, business_market: str | None, at: datetime
) -> Charge:
    recipient = market.strip().upper() if market else None
    business = business_market.strip().upper() if business_market else None
    if recipient and business and recipient != business:
        rate = card.rate(recipient, RateCategory.AUTHENTICATION_INTERNATIONAL, at, fallback=False)
        if rate is not None:
            return _charge(
                rate,
                PricingType.REGULAR,
                rate.category.value,
                f"authentication template to {recipient} from a {business} business: "
                "authentication-international rate",
            )
        why = f"no authentication-international rate for {recipient}: authentication rate"
    elif recipient and business:
        why = "domestic authentication"
    else:
        why = "market of recipient or business unknown: authentication rate"
    return _billed(card, market, RateCategory.AUTHENTICATION, at, f"authentication template, {why}")


def _reported_type(pricing: Pricing) -> PricingType | None:
    if pricing.type is not None:
        try:
            return PricingType(pricing.type)
        except ValueError:
            return None
    # No type and no billable flag: only the category is left to go by.
    free_category = pricing.category in (SERVICE, REFERRAL_CONVERSION)
    billable = not free_category if pricing.billable is None else pricing.billable
    if billable:
        return PricingType.REGULAR
    if pricing.category == REFERRAL_CONVERSION:
        return PricingType.FREE_ENTRY_POINT
    return PricingType.FREE_CUSTOMER_SERVICE


def _billed(
    card: RateCard,
    market: str | None,
    category: RateCategory,
    at: datetime,
    reason: str,
    *,
    kind: PricingType = PricingType.REGULAR,
) -> Charge:
    rate = card.rate(market, category, at)
    if rate is None:
        raise MissingRate(
            f"{card.source} has no {category.value} rate for market {market or '*'!r} "
            f"in force on {at.date()}"
        )
    return _charge(rate, kind, category.value, reason)


def _charge(rate: Rate, kind: PricingType, category: str, reason: str) -> Charge:
    where = "rest of world" if rate.market == "*" else rate.market
    return Charge(
        billable=True,
        amount=rate.price,
        currency=rate.currency,
        pricing_type=kind.value,
        pricing_category=category,
        reason=f"{reason} ({where} {rate.category.value} rate from {rate.effective_from})",
        rate=rate,
    )


def _free(card: RateCard, kind: PricingType, category: str, reason: str) -> Charge:
    return Charge(False, _ZERO, card.currency, kind.value, category, reason)


def _unpriced(card: RateCard, kind: str, category: str, reason: str) -> Charge:
    return Charge(False, _ZERO, card.currency, kind, category, reason)
