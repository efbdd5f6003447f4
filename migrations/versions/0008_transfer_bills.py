"""商家转账 withdrawals: the withdrawal's payout channel and bill state, the merchant's payout
channel and cancel timeout

Revision ID: 0008_transfer_bills
Revises: 0007_pay_notifications
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_transfer_bills"
down_revision = "0007_pay_notifications"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payout_via", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("bill_state", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("package_info", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("bill_checked_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "payout_channel",
                sa.String(length=16),
                nullable=False,
                server_default="transfer_bills",
            )
        )
        batch_op.add_column(
            sa.Column(
                "transfer_cancel_minutes", sa.Integer(), nullable=False, server_default="1440"
            )
        )
        batch_op.create_check_constraint(
            "payout_channel", "payout_channel IN ('transfer_bills', 'wechat_v2', 'manual')"
        )
        batch_op.create_check_constraint("transfer_cancel_minutes", "transfer_cancel_minutes >= 1")
    # A merchant already running pays through v2 today: it stays there until it chooses
    # 商家转账 (a new deployment starts on 商家转账).
    op.execute("UPDATE merchants SET payout_channel = 'wechat_v2'")
    # Withdrawals already under way were started on v2.
    op.execute(
        "UPDATE withdrawals SET payout_via = 'wechat_v2' "
        "WHERE status IN ('approved', 'paying') AND channel = 'wechat'"
    )


def downgrade():
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_constraint("transfer_cancel_minutes", type_="check")
        batch_op.drop_constraint("payout_channel", type_="check")
        batch_op.drop_column("transfer_cancel_minutes")
        batch_op.drop_column("payout_channel")
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.drop_column("bill_checked_at")
        batch_op.drop_column("waiting_since")
        batch_op.drop_column("package_info")
        batch_op.drop_column("bill_state")
        batch_op.drop_column("payout_via")
