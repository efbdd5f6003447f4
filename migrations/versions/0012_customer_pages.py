"""customer pages: bindings indexed on (distributor_id, bound_at), so a distributor's customers,
newest first, are a range of the index a page at a time (services.centre.customers); it
replaces the index on distributor_id alone, which it serves as well

Revision ID: 0012_customer_pages
Revises: 0011_leaderboard_masking
"""

from alembic import op

revision = "0012_customer_pages"
down_revision = "0011_leaderboard_masking"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("bindings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bindings_distributor_bound", ["distributor_id", "bound_at"], unique=False
        )
        batch_op.drop_index(batch_op.f("ix_bindings_distributor_id"))


def downgrade():
    with op.batch_alter_table("bindings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bindings_distributor_id"), ["distributor_id"], unique=False
        )
        batch_op.drop_index("ix_bindings_distributor_bound")
