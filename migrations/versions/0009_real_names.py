"""The payee's real name on distributors, and the one a withdrawal's 商家转账 bill was sent with
(from 2,000 yuan)

Revision ID: 0009_real_names
Revises: 0008_transfer_bills
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_real_names"
down_revision = "0008_transfer_bills"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("distributors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("real_name", sa.String(length=32), nullable=True))
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payee_name", sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.drop_column("payee_name")
    with op.batch_alter_table("distributors", schema=None) as batch_op:
        batch_op.drop_column("real_name")
