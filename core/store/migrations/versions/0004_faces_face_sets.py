"""face sets: operators' named sets of reference photos (the bot's /faces)

Revision ID: 0004_faces
Revises: 0003_site
"""

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0004_faces"
down_revision = "0003_site"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_set",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("photos", JSON, nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_set")),
        sa.UniqueConstraint("name", name=op.f("uq_face_set_name")),
    )


def downgrade() -> None:
    op.drop_table("face_set")
