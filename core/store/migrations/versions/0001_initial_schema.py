"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 12:07:50.876925
"""

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON elsewhere (advanced-alchemy's JsonB type).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parameter_preset",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parameter_preset")),
        sa.UniqueConstraint("name", name=op.f("uq_parameter_preset_name")),
    )
    op.create_table(
        "sweep",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("job_ids", JSON, nullable=False),
        sa.Column("grid_key", sa.String(length=200), nullable=True),
        sa.Column("owner", sa.String(length=80), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sweep")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    op.create_table(
        "guest_session",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column(
            "expires_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.Column("user_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_guest_session_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guest_session")),
    )
    with op.batch_alter_table("guest_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guest_session_user_id"), ["user_id"], unique=False)

    op.create_table(
        "job",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=120), nullable=True),
        sa.Column("timings", JSON, nullable=False),
        sa.Column("session_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("token_spent", sa.Boolean(), nullable=False),
        sa.Column(
            "started_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True
        ),
        sa.Column(
            "finished_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True
        ),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["guest_session.id"], name=op.f("fk_job_session_id_guest_session")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_status"), ["status"], unique=False)

    op.create_table(
        "portrait",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("idea", sa.String(length=60), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("media", JSON, nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("thumbhash", sa.String(length=64), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("session_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("user_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("curated", sa.Boolean(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("saved", sa.Boolean(), nullable=False),
        sa.Column("saved_from_message", sa.String(length=64), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["guest_session.id"], name=op.f("fk_portrait_session_id_guest_session")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_portrait_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portrait")),
    )
    with op.batch_alter_table("portrait", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portrait_curated"), ["curated"], unique=False)
        batch_op.create_index(batch_op.f("ix_portrait_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_portrait_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_portrait_user_id"), ["user_id"], unique=False)

    op.create_table(
        "reference_face",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("analyzer", sa.String(length=32), nullable=True),
        sa.Column("analysis", JSON, nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("session_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["guest_session.id"],
            name=op.f("fk_reference_face_session_id_guest_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_face")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_reference_face_content_hash")),
    )


def downgrade() -> None:
    op.drop_table("reference_face")
    with op.batch_alter_table("portrait", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portrait_user_id"))
        batch_op.drop_index(batch_op.f("ix_portrait_status"))
        batch_op.drop_index(batch_op.f("ix_portrait_session_id"))
        batch_op.drop_index(batch_op.f("ix_portrait_curated"))

    op.drop_table("portrait")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_status"))

    op.drop_table("job")
    with op.batch_alter_table("guest_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guest_session_user_id"))

    op.drop_table("guest_session")
    op.drop_table("user_account")
    op.drop_table("sweep")
    op.drop_table("parameter_preset")
