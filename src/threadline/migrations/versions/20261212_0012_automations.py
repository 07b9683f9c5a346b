"""automations: waits, exits, re-entry, holdouts

Revision ID: 20261212_0012
Revises: 20261211_0011
Create Date: 2026-12-12 09:00:00
"""

from collections.abc import Sequence

revision: str = "20261212_0012"
down_revision: str | None = "20261211_0011"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
