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
    configure,
    current_card,
    default_card,
    load,
    parse,
    use_card,
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
    "configure",
    "current_card",
    "default_card",
    "estimate",
    "load",
    "market_for",
    "parse",
    "use_card",
]
