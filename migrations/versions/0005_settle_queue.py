"""settlement queue: commission_maturities replaces the partial index on commissions.status, so
settling a commission is a HOT update (no index touched), with page room kept by fillfactor

Revision ID: 0005_settle_queue
Revises: 0004_settle_speed
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_settle_queue"
down_revision = "0004_settle_speed"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Room on each page for the settled version of every row next to the pending one.
COMMISSIONS_FILLFACTOR = 50


def upgrade():
    op.create_table(
        "commission_maturities",
        sa.Column("commission_id", BigId, autoincrement=False, nullable=False),
        sa.Column("beneficiary_id", sa.Integer(), nullable=False),
        sa.Column("matures_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["commission_id"],
            ["commissions.id"],
            name=op.f("fk_commission_maturities_commission_id_commissions"),
        ),
        sa.PrimaryKeyConstraint("commission_id", name=op.f("pk_commission_maturities")),
    )
    op.create_index(
        "ix_commission_maturities_due", "commission_maturities", ["matures_at"], unique=False
    )
    op.execute(
        "INSERT INTO commission_maturities (commission_id, beneficiary_id, matures_at) "
        "SELECT id, beneficiary_id, matures_at FROM commissions "
        "WHERE status = 'pending' AND matures_at IS NOT NULL"
    )
    with op.batch_alter_table("commissions", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_commissions_due",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE commissions SET (fillfactor = {COMMISSIONS_FILLFACTOR})")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE commissions RESET (fillfactor)")
    with op.batch_alter_table("commissions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_commissions_due",
            ["matures_at", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
    op.drop_index("ix_commission_maturities_due", table_name="commission_maturities")
    op.drop_table("commission_maturities")
