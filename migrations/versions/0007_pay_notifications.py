"""pay_notifications: WeChat Pay APIv3 notifies, one handling per transaction, refund or bill id

Revision ID: 0007_pay_notifications
Revises: 0006_posters
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_pay_notifications"
down_revision = "0006_posters"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "pay_notifications",
        sa.Column("id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("notify_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("out_no", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("resource", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_notifications")),
        sa.UniqueConstraint("kind", "resource_id", name="uq_pay_notifications_resource"),
    )
    with op.batch_alter_table("pay_notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pay_notifications_out_no"), ["out_no"], unique=False)


def downgrade():
    with op.batch_alter_table("pay_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pay_notifications_out_no"))
    op.drop_table("pay_notifications")
