"""WhatsApp message pricing: a replaceable rate card and the rules that say what is billed.

>>> from threadline.pricing import default_card, estimate
"""

from threadline.pricing.ratecard import (
    ANY_MARKET,
    Rate,
    RateCard,
    RateCardError,
    RateCardProblem,
    RateCategory,
    default_card,
    load,
    parse,
)
from threadline.pricing.rules import (
    Charge,
    MissingRate,
    PricingType,
    actual,
    estimate,
    market_for,
)

__all__ = [
    "ANY_MARKET",
    "Charge",
    "MissingRate",
    "PricingType",
    "Rate",
    "RateCard",
    "RateCardError",
    "RateCardProblem",
    "RateCategory",
    "actual",
    "default_card",
    "estimate",
    "load",
    "market_for",
    "parse",
]
