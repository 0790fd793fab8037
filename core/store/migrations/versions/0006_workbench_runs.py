"""workbench runs: the history of every stage-1, stage-2 and sweep-cell run

Revision ID: 0006_runs
Revises: 0005
"""

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)

revision = "0006_runs"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workbench_run",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("operator", sa.String(length=80), nullable=False),
        sa.Column("face_set_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("idea", sa.String(length=60), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("controls", JSON, nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("likeness", sa.Float(), nullable=True),
        sa.Column("likeness_analyzer", sa.String(length=16), nullable=True),
        sa.Column("timings", JSON, nullable=False),
        sa.Column("thumbnails", JSON, nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["face_set_id"], ["face_set.id"], name=op.f("fk_workbench_run_face_set_id_face_set")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workbench_run")),
    )
    with op.batch_alter_table("workbench_run") as batch:
        for column in ("kind", "operator", "face_set_id", "idea", "created_at"):
            batch.create_index(batch.f(f"ix_workbench_run_{column}"), [column])


def downgrade() -> None:
    op.drop_table("workbench_run")
