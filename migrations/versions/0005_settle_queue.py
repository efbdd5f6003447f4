"""settlement queue: reserved for the settlement rework (issue 4)

Revision ID: 0005_settle_queue
Revises: 0004_settle_speed
"""

revision = "0005_settle_queue"
down_revision = "0004_settle_speed"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
