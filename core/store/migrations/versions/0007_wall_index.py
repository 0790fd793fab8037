"""the wall's page index

Revision ID: 0007_wall_index
Revises: 0006_runs
Create Date: 2026-12-03 14:25:00

One index answers the wall's page query (curated, hidden, status equal; id for the keyset
cursor and the order): no scan of the portraits, no sort.
"""

from alembic import op

revision = "0007_wall_index"
down_revision = "0006_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_portrait_wall", "portrait", ["curated", "hidden", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_portrait_wall", table_name="portrait")
