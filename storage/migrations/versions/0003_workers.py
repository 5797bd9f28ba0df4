"""workers: heartbeat rows, host leases, fencing tokens on page leases (issue 12)

Revision ID: 0003_workers
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0003_workers"
down_revision = "0002_integrity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker")),
    )
    with op.batch_alter_table("worker", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_worker_heartbeat_at"), ["heartbeat_at"], unique=False)
    op.create_table(
        "host_lease",
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("until", storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_host_lease")),
    )
    with op.batch_alter_table("host_lease", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_host_lease_owner"), ["owner"], unique=False)
    with op.batch_alter_table("page", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lease_token", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_page_lease_owner"), ["lease_owner"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("page", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_page_lease_owner"))
        batch_op.drop_column("lease_token")
    with op.batch_alter_table("host_lease", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_host_lease_owner"))
    op.drop_table("host_lease")
    with op.batch_alter_table("worker", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_worker_heartbeat_at"))
    op.drop_table("worker")
