"""the wall's page index

Revision ID: 0006_wall_index
Revises: 0005
Create Date: 2026-12-03 14:25:00

One index answers the wall's page query (curated, hidden, status equal; id for the keyset
cursor and the order): no scan of the portraits, no sort. Chained to the newest revision on
this branch (0005); re-chain onto the newest when merging.
"""

from alembic import op

revision = "0006_wall_index"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_portrait_wall", "portrait", ["curated", "hidden", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_portrait_wall", table_name="portrait")
