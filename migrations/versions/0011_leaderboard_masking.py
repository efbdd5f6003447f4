"""the leaderboard: whether it masks distributors' nicknames (the merchant's setting, on by
default)

Revision ID: 0011_leaderboard_masking
Revises: 0010_shop
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_leaderboard_masking"
down_revision = "0010_shop"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "leaderboard_masks_nicknames",
                sa.Boolean(),
                nullable=False,
                server_default=sa.true(),
            )
        )


def downgrade():
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("leaderboard_masks_nicknames")
