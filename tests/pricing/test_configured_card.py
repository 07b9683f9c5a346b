"""THREADLINE_RATE_CARD replaces the shipped sample rates for the whole process."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import T0
from threadline.app import create_app
from threadline.config import Settings
from threadline.pricing import RateCardError, configure, current_card, default_card


def test_the_configured_card_prices_and_a_bad_one_stops_the_start(tmp_path: Path) -> None:
    card = tmp_path / "my_rates.csv"
    card.write_text(
        "market,category,price,currency,effective_from\n"
        "*,marketing,0.5000,USD,2025-01-01\n"
        "*,utility,0.2000,USD,2025-01-01\n"
        "*,authentication,0.1000,USD,2025-01-01\n",
        encoding="utf-8",
    )
    database = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    try:
        create_app(
            Settings.from_env(
                {"THREADLINE_DATABASE_URL": database, "THREADLINE_RATE_CARD": str(card)}
            )
        )
        rate = current_card().rate("BR", "marketing", T0)
        assert rate is not None and rate.price == Decimal("0.5")
        card.write_text(
            "market,category,price,currency,effective_from\nBR,marketing,x,USD,2025-01-01\n"
        )
        with pytest.raises(RateCardError):
            create_app(
                Settings.from_env(
                    {"THREADLINE_DATABASE_URL": database, "THREADLINE_RATE_CARD": str(card)}
                )
            )
    finally:
        configure(None)
    assert current_card() is default_card()
