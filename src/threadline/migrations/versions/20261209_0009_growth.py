"""growth: opt-in pages, pending double opt-ins

Revision ID: 20261209_0009
Revises: 20261208_0008
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence

revision: str = "20261209_0009"
down_revision: str | None = "20261208_0008"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
