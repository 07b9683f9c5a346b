"""commerce: catalog products, payment links

Revision ID: 20261210_0010
Revises: 20261209_0009
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

revision: str = "20261210_0010"
down_revision: str | None = "20261209_0009"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
