"""site: reference photos belong to their uploader; portraits carry the owner's wall consent

Revision ID: 0003_site
Revises: 0002

Reference photos were deduplicated by content hash across everyone, so one visitor's erase
deleted a file under another visitor's job. Each uploader now has their own copy (unique by
storage key, which names the owner); the hash stays indexed as the face-analysis cache key.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_site"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reference_face") as batch_op:
        batch_op.drop_constraint("uq_reference_face_content_hash", type_="unique")
        batch_op.create_unique_constraint("uq_reference_face_storage_key", ["storage_key"])
        batch_op.create_index("ix_reference_face_content_hash", ["content_hash"])
    with op.batch_alter_table("portrait") as batch_op:
        batch_op.add_column(
            sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("portrait") as batch_op:
        batch_op.drop_column("shared")
    with op.batch_alter_table("reference_face") as batch_op:
        batch_op.drop_index("ix_reference_face_content_hash")
        batch_op.drop_constraint("uq_reference_face_storage_key", type_="unique")
        batch_op.create_unique_constraint("uq_reference_face_content_hash", ["content_hash"])
