"""console lists: indexes so that each console list's first page is a range of one index, at a
million rows (bench/console_bench.py): orders newest first, products on sale or not, pending
applications oldest first, withdrawals and refund requests by state; and the orders paid in a
window (the rules' what-if). The withdrawals' index on status alone is replaced by one that
starts with it.

Revision ID: 0015_console_lists
Revises: 0014_console
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_console_lists"
down_revision = "0014_console"
branch_labels = None
depends_on = None

PENDING = {
    "postgresql_where": sa.text("status = 'pending'"),
    "sqlite_where": sa.text("status = 'pending'"),
}


def upgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_created", ["created_at", "id"])
        batch_op.create_index("ix_orders_paid", ["paid_at"])
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index("ix_products_created", ["created_at", "id"])
    with op.batch_alter_table("distributors", schema=None) as batch_op:
        batch_op.create_index("ix_distributors_pending_applied", ["applied_at", "id"], **PENDING)
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.drop_index("ix_withdrawals_status")
        batch_op.create_index("ix_withdrawals_status_requested", ["status", "requested_at", "id"])
    with op.batch_alter_table("refund_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_refund_requests_status")
        batch_op.create_index("ix_refund_requests_status", ["status", "id"])


def downgrade():
    with op.batch_alter_table("refund_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_refund_requests_status")
        batch_op.create_index("ix_refund_requests_status", ["status"])
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.drop_index("ix_withdrawals_status_requested")
        batch_op.create_index("ix_withdrawals_status", ["status"])
    with op.batch_alter_table("distributors", schema=None) as batch_op:
        batch_op.drop_index("ix_distributors_pending_applied")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("ix_products_created")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_paid")
        batch_op.drop_index("ix_orders_created")
