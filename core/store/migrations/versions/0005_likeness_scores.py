"""likeness scores on portraits

Revision ID: 0005
Revises: 0004_faces
Create Date: 2026-12-01 19:40:00

Chained to the latest revision on this branch (0001); re-chain onto the newest when merging.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004_faces"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("portrait") as batch:
        batch.add_column(sa.Column("likeness", sa.Float(), nullable=True))
        batch.add_column(sa.Column("likeness_analyzer", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("prompt_score", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("portrait") as batch:
        batch.drop_column("prompt_score")
        batch.drop_column("likeness_analyzer")
        batch.drop_column("likeness")
