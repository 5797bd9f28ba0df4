"""integrity: suspect candidates, spaced removal confirmations, full-fetch times

Revision ID: 0002_integrity
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0002_integrity"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("page", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gone_since", storage.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("full_fetch_at", storage.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("suspect_fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("suspect_since", storage.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("suspect_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("page", schema=None) as batch_op:
        for name in (
            "suspect_reason",
            "suspect_since",
            "suspect_fingerprint",
            "full_fetch_at",
            "gone_since",
        ):
            batch_op.drop_column(name)
