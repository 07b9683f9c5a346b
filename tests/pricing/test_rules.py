"""Pricing rules: the estimate before a send, the actual charge from a status webhook, and
that the two agree for the pricing block the platform sends in the same situation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from threadline.channels.events import Pricing, StatusUpdate
from threadline.channels.whatsapp.webhooks import parse as parse_webhook
from threadline.policy.types import TemplateCategory
from threadline.pricing import (
    Charge,
    MissingRate,
    PricingType,
    RateCard,
    actual,
    default_card,
    estimate,
    market_for,
    parse,
)

# Round figures that are easy to tell apart; independent of the shipped sample card.
CARD = parse(
    """\
market,category,price,currency,effective_from
*,marketing,0.0600,USD,2025-07-01
*,utility,0.0080,USD,2025-07-01
*,authentication,0.0070,USD,2025-07-01
BR,marketing,0.0625,USD,2025-07-01
BR,utility,0.0068,USD,2025-07-01
BR,utility,0.0080,USD,2026-01-01
BR,authentication,0.0068,USD,2025-07-01
DE,marketing,0.1365,USD,2025-07-01
DE,utility,0.0550,USD,2025-07-01
DE,authentication,0.0768,USD,2025-07-01
IN,marketing,0.0107,USD,2025-07-01
IN,marketing,0.0118,USD,2026-01-01
IN,utility,0.0014,USD,2025-07-01
IN,authentication,0.0014,USD,2025-07-01
IN,authentication_international,0.0280,USD,2025-07-01
""",
    source="test-card.csv",
)
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
BEFORE_CARD = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)

REGULAR = PricingType.REGULAR
FREE_CS = PricingType.FREE_CUSTOMER_SERVICE
FREE_EP = PricingType.FREE_ENTRY_POINT
FREE = None  # amount column: not billable, 0
OPEN, CLOSED = True, False
ENTRY, NO_ENTRY = True, False


@dataclass(frozen=True)
class Row:
    category: str | None
    window_open: bool
    entry_point_open: bool
    market: str | None
    business_market: str | None
    amount: str | None  # None: free
    pricing_type: PricingType
    pricing_category: str


def row(*args: Any) -> Any:
    return pytest.param(Row(*args), id=_row_id(Row(*args)))


def _row_id(r: Row) -> str:
    window = "window" if r.window_open else "no-window"
    entry = "+entry-point" if r.entry_point_open else ""
    return f"{r.category or 'free-form'}-{window}{entry}-to-{r.market}-from-{r.business_market}"


TABLE = [
    # free-form (service) messages: free, and only possible inside the window
    row(None, OPEN, NO_ENTRY, "BR", "BR", FREE, FREE_CS, "service"),
    row("service", OPEN, NO_ENTRY, "DE", "BR", FREE, FREE_CS, "service"),
    row(None, OPEN, ENTRY, "BR", "BR", FREE, FREE_EP, "referral_conversion"),
    # utility: free inside the window, billed outside it
    row("utility", OPEN, NO_ENTRY, "BR", "BR", FREE, FREE_CS, "utility"),
    row("utility", CLOSED, NO_ENTRY, "BR", "BR", "0.0080", REGULAR, "utility"),
    row("utility", CLOSED, NO_ENTRY, "DE", "BR", "0.0550", REGULAR, "utility"),
    row("utility", CLOSED, NO_ENTRY, "JP", "BR", "0.0080", REGULAR, "utility"),  # rest of world
    row("utility", CLOSED, ENTRY, "BR", "BR", FREE, FREE_EP, "referral_conversion"),
    row("utility", OPEN, ENTRY, "BR", "BR", FREE, FREE_EP, "referral_conversion"),
    row(TemplateCategory.UTILITY, CLOSED, NO_ENTRY, "IN", "BR", "0.0014", REGULAR, "utility"),
    # marketing: always billed, window or not, except in a free entry-point window
    row("marketing", CLOSED, NO_ENTRY, "BR", "BR", "0.0625", REGULAR, "marketing"),
    row("marketing", OPEN, NO_ENTRY, "BR", "BR", "0.0625", REGULAR, "marketing"),
    row("MARKETING", CLOSED, NO_ENTRY, "DE", "BR", "0.1365", REGULAR, "marketing"),
    row("marketing", CLOSED, NO_ENTRY, "IN", "BR", "0.0118", REGULAR, "marketing"),  # 2026 rate
    row("marketing", CLOSED, NO_ENTRY, None, "BR", "0.0600", REGULAR, "marketing"),
    row("marketing", CLOSED, NO_ENTRY, "MX", None, "0.0600", REGULAR, "marketing"),
    row("marketing", CLOSED, ENTRY, "DE", "BR", FREE, FREE_EP, "referral_conversion"),
    row("marketing", OPEN, ENTRY, "DE", "BR", FREE, FREE_EP, "referral_conversion"),
    # authentication: always billed; international rate for a foreign business when priced
    row("authentication", CLOSED, NO_ENTRY, "BR", "BR", "0.0068", REGULAR, "authentication"),
    row("authentication", OPEN, NO_ENTRY, "BR", "BR", "0.0068", REGULAR, "authentication"),
    row("authentication", CLOSED, NO_ENTRY, "IN", "IN", "0.0014", REGULAR, "authentication"),
    row(
        "authentication",
        CLOSED,
        NO_ENTRY,
        "IN",
        "BR",
        "0.0280",
        REGULAR,
        "authentication_international",
    ),
    row(
        "authentication",
        OPEN,
        NO_ENTRY,
        "in",
        " br",
        "0.0280",
        REGULAR,
        "authentication_international",
    ),
    # ... but not where the card has no international rate for the recipient's market
    row("authentication", CLOSED, NO_ENTRY, "BR", "IN", "0.0068", REGULAR, "authentication"),
    row("authentication", CLOSED, NO_ENTRY, "JP", "IN", "0.0070", REGULAR, "authentication"),
    # ... nor when either market is unknown
    row("authentication", CLOSED, NO_ENTRY, "IN", None, "0.0014", REGULAR, "authentication"),
    row("authentication", CLOSED, NO_ENTRY, None, "BR", "0.0070", REGULAR, "authentication"),
    row("authentication", CLOSED, ENTRY, "IN", "BR", FREE, FREE_EP, "referral_conversion"),
]


@pytest.mark.parametrize("case", TABLE)
def test_estimate_table(case: Row) -> None:
    charge = estimate(
        category=case.category,
        market=case.market,
        window_open=case.window_open,
        entry_point_open=case.entry_point_open,
        business_market=case.business_market,
        at=NOW,
        card=CARD,
    )
    assert charge.billable is (case.amount is not None)
    assert charge.amount == Decimal(case.amount or 0)
    assert charge.currency == "USD"
    assert charge.pricing_type == case.pricing_type
    assert charge.pricing_category == case.pricing_category
    assert charge.reason
    assert (charge.rate is not None) is charge.billable


def test_table_covers_every_rule() -> None:
    rows = [p.values[0] for p in TABLE]
    assert len(rows) >= 20
    assert {(r.pricing_type, r.pricing_category) for r in rows} == {
        (FREE_CS, "service"),
        (FREE_CS, "utility"),
        (FREE_EP, "referral_conversion"),
        (REGULAR, "utility"),
        (REGULAR, "marketing"),
        (REGULAR, "authentication"),
        (REGULAR, "authentication_international"),
    }


def test_international_reason_names_both_markets() -> None:
    charge = _estimate("authentication", market="IN", business_market="BR")
    assert "IN" in charge.reason and "BR" in charge.reason
    assert "international" in charge.reason


def test_estimate_uses_the_rate_in_force_on_the_date() -> None:
    december = datetime(2025, 12, 31, 12, 0, tzinfo=UTC)
    assert _estimate("utility", market="BR", at=december).amount == Decimal("0.0068")
    assert _estimate("utility", market="BR").amount == Decimal("0.0080")


@pytest.mark.parametrize("entry_point_open", [False, True])
def test_free_form_outside_the_window_cannot_be_priced(entry_point_open: bool) -> None:
    with pytest.raises(ValueError, match="customer-service window"):
        _estimate(None, window_open=False, entry_point_open=entry_point_open)


@pytest.mark.parametrize("category", ["promotional", "authentication_international", ""])
def test_estimate_refuses_unknown_categories(category: str) -> None:
    with pytest.raises(ValueError, match="unknown template category"):
        _estimate(category)


def test_estimate_without_a_rate_on_that_date_raises() -> None:
    with pytest.raises(MissingRate, match="marketing"):
        _estimate("marketing", at=BEFORE_CARD)


def test_free_estimates_need_no_rate() -> None:
    charge = _estimate("utility", window_open=True, at=BEFORE_CARD)
    assert not charge.billable and charge.amount == 0


def test_estimate_with_the_shipped_card() -> None:
    charge = _estimate("marketing", market="BR", card=default_card())
    assert charge.billable and charge.amount > 0 and charge.currency == "USD"


# --- actual: from a status webhook's pricing block --------------------------------------


def _pricing(**block: Any) -> Pricing:
    return Pricing(
        model=block.get("pricing_model"),
        category=block.get("category"),
        type=block.get("type"),
        billable=block.get("billable"),
    )


ACTUAL = [
    # PMP blocks (type decides)
    ({"pricing_model": "PMP", "type": "regular", "category": "marketing"}, "BR", "0.0625"),
    ({"pricing_model": "PMP", "type": "regular", "category": "utility"}, "BR", "0.0080"),
    ({"pricing_model": "PMP", "type": "regular", "category": "authentication"}, "DE", "0.0768"),
    (
        {"pricing_model": "PMP", "type": "regular", "category": "authentication_international"},
        "IN",
        "0.0280",
    ),
    ({"pricing_model": "PMP", "type": "regular", "category": "marketing"}, None, "0.0600"),
    ({"pricing_model": "PMP", "type": "regular", "category": "marketing"}, "JP", "0.0600"),
    ({"pricing_model": "PMP", "type": "free_customer_service", "category": "utility"}, "BR", None),
    ({"pricing_model": "PMP", "type": "free_customer_service", "category": "service"}, "BR", None),
    (
        {"pricing_model": "PMP", "type": "free_entry_point", "category": "referral_conversion"},
        "BR",
        None,
    ),
    # the deprecated billable flag is ignored when there is a type
    (
        {"billable": False, "pricing_model": "PMP", "type": "regular", "category": "marketing"},
        "BR",
        "0.0625",
    ),
    (
        {"billable": True, "pricing_model": "PMP", "type": "free_customer_service"},
        "BR",
        None,
    ),
    # CBP-era blocks: billable only, no type
    ({"billable": True, "pricing_model": "CBP", "category": "marketing"}, "BR", "0.0625"),
    ({"billable": True, "pricing_model": "CBP", "category": "authentication"}, "IN", "0.0014"),
    ({"billable": False, "pricing_model": "CBP", "category": "service"}, "BR", None),
    ({"billable": False, "pricing_model": "CBP", "category": "referral_conversion"}, "BR", None),
    ({"billable": False, "pricing_model": "CBP", "category": "utility"}, "BR", None),
    # free entry point conversations may still read CBP after July 2025
    (
        {
            "billable": False,
            "pricing_model": "CBP",
            "type": "free_entry_point",
            "category": "referral_conversion",
        },
        "BR",
        None,
    ),
    # neither type nor billable: decided by the category
    ({"category": "marketing"}, "BR", "0.0625"),
    ({"category": "service"}, "BR", None),
]


@pytest.mark.parametrize(("block", "market", "amount"), ACTUAL)
def test_actual_from_pricing_block(block: dict[str, Any], market: str | None, amount: str) -> None:
    charge = actual(_pricing(**block), market=market, at=NOW, card=CARD)
    assert charge.billable is (amount is not None)
    assert charge.amount == Decimal(amount or 0)
    assert charge.currency == "USD"
    if "category" in block:
        assert charge.pricing_category == block["category"]
    if "type" in block:
        assert charge.pricing_type == block["type"]
    assert charge.reason


@pytest.mark.parametrize(
    ("block", "expected_type", "expected_category"),
    [
        (
            {"billable": False, "pricing_model": "CBP", "category": "referral_conversion"},
            FREE_EP,
            "referral_conversion",
        ),
        ({"billable": False, "pricing_model": "CBP", "category": "service"}, FREE_CS, "service"),
        ({"billable": True, "pricing_model": "CBP", "category": "utility"}, REGULAR, "utility"),
        ({"pricing_model": "PMP", "type": "free_entry_point"}, FREE_EP, "referral_conversion"),
        ({"pricing_model": "PMP", "type": "free_customer_service"}, FREE_CS, "service"),
    ],
)
def test_actual_fills_in_type_and_category(
    block: dict[str, Any], expected_type: PricingType, expected_category: str
) -> None:
    charge = actual(_pricing(**block), market="BR", at=NOW, card=CARD)
    assert (charge.pricing_type, charge.pricing_category) == (expected_type, expected_category)


def test_cbp_charge_says_it_is_per_conversation() -> None:
    block = _pricing(billable=True, pricing_model="CBP", category="marketing")
    assert "conversation" in actual(block, market="BR", at=NOW, card=CARD).reason


@pytest.mark.parametrize(
    "category", ["group_marketing", "marketing_lite", "general_purpose_ai", "service", None]
)
def test_actual_with_a_category_the_card_does_not_price(category: str | None) -> None:
    block = _pricing(pricing_model="PMP", type="regular", category=category, billable=True)
    charge = actual(block, market="BR", at=NOW, card=CARD)
    assert not charge.billable and charge.amount == 0
    assert charge.pricing_type == REGULAR
    assert "no rate on the card" in charge.reason
    assert charge.rate is None


def test_actual_with_an_unknown_pricing_type() -> None:
    block = _pricing(pricing_model="PMP", type="free_trial", category="marketing")
    charge = actual(block, market="BR", at=NOW, card=CARD)
    assert not charge.billable and charge.amount == 0
    assert charge.pricing_type == "free_trial"
    assert "unknown pricing type" in charge.reason


def test_actual_international_needs_a_rate_for_that_very_market() -> None:
    block = _pricing(pricing_model="PMP", type="regular", category="authentication_international")
    with pytest.raises(MissingRate, match="authentication_international"):
        actual(block, market="BR", at=NOW, card=CARD)


def test_actual_before_the_card_starts_raises() -> None:
    block = _pricing(billable=True, pricing_model="CBP", category="marketing")
    with pytest.raises(MissingRate):
        actual(block, market="BR", at=BEFORE_CARD, card=CARD)


def test_actual_before_the_card_starts_is_fine_when_free() -> None:
    block = _pricing(billable=False, pricing_model="CBP", category="service")
    assert actual(block, market="BR", at=BEFORE_CARD, card=CARD).amount == 0


# --- estimate == actual for the block the platform (and the emulator) sends ------------------

BR_PHONE = "5511999990000"
IN_PHONE = "919876543210"
DE_PHONE = "4915123456789"


@dataclass(frozen=True)
class Situation:
    name: str
    category: str | None
    window_open: bool
    entry_point_open: bool
    recipient: str
    business_market: str
    block: dict[str, Any]  # written by hand from the platform reference (§1.3, §1.9)


SITUATIONS = [
    Situation(
        "service reply in the window",
        None,
        OPEN,
        NO_ENTRY,
        BR_PHONE,
        "BR",
        {
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_customer_service",
            "category": "service",
        },
    ),
    Situation(
        "utility in the window",
        "utility",
        OPEN,
        NO_ENTRY,
        BR_PHONE,
        "BR",
        {
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_customer_service",
            "category": "utility",
        },
    ),
    Situation(
        "utility outside the window",
        "utility",
        CLOSED,
        NO_ENTRY,
        DE_PHONE,
        "BR",
        {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "utility"},
    ),
    Situation(
        "marketing in the window",
        "marketing",
        OPEN,
        NO_ENTRY,
        BR_PHONE,
        "BR",
        {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "marketing"},
    ),
    Situation(
        "marketing outside the window",
        "marketing",
        CLOSED,
        NO_ENTRY,
        IN_PHONE,
        "BR",
        {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "marketing"},
    ),
    Situation(
        "domestic authentication",
        "authentication",
        CLOSED,
        NO_ENTRY,
        IN_PHONE,
        "IN",
        {
            "billable": True,
            "pricing_model": "PMP",
            "type": "regular",
            "category": "authentication",
        },
    ),
    Situation(
        "authentication to India from Brazil",
        "authentication",
        CLOSED,
        NO_ENTRY,
        IN_PHONE,
        "BR",
        {
            "billable": True,
            "pricing_model": "PMP",
            "type": "regular",
            "category": "authentication_international",
        },
    ),
    Situation(
        "marketing template in a free entry-point window",
        "marketing",
        CLOSED,
        ENTRY,
        BR_PHONE,
        "BR",
        {
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_entry_point",
            "category": "referral_conversion",
        },
    ),
    Situation(
        "free-form reply in a free entry-point window (CBP label)",
        None,
        OPEN,
        ENTRY,
        BR_PHONE,
        "BR",
        {
            "billable": False,
            "pricing_model": "CBP",
            "type": "free_entry_point",
            "category": "referral_conversion",
        },
    ),
]


def _status_webhook(recipient: str, block: dict[str, Any]) -> dict[str, Any]:
    status = {
        "id": "wamid.PRICED",
        "status": "delivered",
        "timestamp": str(int(NOW.timestamp())),
        "recipient_id": recipient,
        "pricing": block,
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "100"},
        "statuses": [status],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}],
    }


@pytest.mark.parametrize("situation", SITUATIONS, ids=lambda s: s.name)
def test_estimate_equals_actual_for_the_platform_block(situation: Situation) -> None:
    (event,) = parse_webhook(_status_webhook(situation.recipient, situation.block))
    assert isinstance(event, StatusUpdate) and event.pricing is not None
    assert event.recipient is not None
    market = market_for(event.recipient)
    predicted = estimate(
        category=situation.category,
        market=market_for(situation.recipient),
        window_open=situation.window_open,
        entry_point_open=situation.entry_point_open,
        business_market=situation.business_market,
        at=NOW,
        card=CARD,
    )
    charged = actual(event.pricing, market=market, at=event.timestamp, card=CARD)
    assert _money(predicted) == _money(charged)
    assert predicted.pricing_type == situation.block["type"]
    assert predicted.pricing_category == situation.block["category"]
    assert predicted.billable is situation.block["billable"]


# --- market_for --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "market"),
    [
        ("+5511999990000", "BR"),
        ("5511999990000", "BR"),  # a wa_id / recipient_id has no "+"
        (" +4915123456789 ", "DE"),
        ("919876543210", "IN"),
        ("+12125550123", "US"),
        ("+14165550123", "US"),  # Canada shares +1: Meta prices by calling code
        ("+447911123456", "GB"),  # a Guernsey range of +44
        ("+80012345678", None),  # non-geographic
        ("+5511", None),  # too short to be valid
        ("not a number", None),
        ("", None),
    ],
)
def test_market_for(phone: str, market: str | None) -> None:
    assert market_for(phone) == market


# --- helpers -----------------------------------------------------------------------------


def _estimate(
    category: str | None,
    *,
    market: str | None = "BR",
    window_open: bool = False,
    entry_point_open: bool = False,
    business_market: str | None = "BR",
    at: datetime = NOW,
    card: RateCard = CARD,
) -> Charge:
    return estimate(
        category=category,
        market=market,
        window_open=window_open,
        entry_point_open=entry_point_open,
        business_market=business_market,
        at=at,
        card=card,
    )


def _money(charge: Charge) -> tuple[object, ...]:
    """Everything but the wording of the reason."""
    return (
        charge.billable,
        charge.amount,
        charge.currency,
        charge.pricing_type,
        charge.pricing_category,
        charge.rate,
    )
