"""broadcast audiences materialised per occurrence

Revision ID: 20261211_0011
Revises: 20261210_0010
Create Date: 2026-12-11 09:00:00
"""

from collections.abc import Sequence

revision: str = "20261211_0011"
down_revision: str | None = "20261210_0010"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
