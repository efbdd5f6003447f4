"""settlement speed: no per-row foreign-key check on commissions.settlement_txn_id, and room for
HOT balance updates on ledger_accounts

Revision ID: 0004_settle_speed
Revises: 0003_outbound
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_settle_speed"
down_revision = "0003_outbound"
branch_labels = None
depends_on = None

FK = "fk_commissions_settlement_txn_id_ledger_transactions"


def upgrade():
    with op.batch_alter_table("commissions", schema=None) as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.alter_column(
            "settlement_txn_id",
            type_=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            existing_type=sa.Integer(),
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger_accounts SET (fillfactor = 70)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger_accounts RESET (fillfactor)")
    with op.batch_alter_table("commissions", schema=None) as batch_op:
        batch_op.create_foreign_key(FK, "ledger_transactions", ["settlement_txn_id"], ["id"])
