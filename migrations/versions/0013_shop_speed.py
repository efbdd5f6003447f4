"""shop speed: the product lists' keysets indexed over the products on sale, so a page of any
sort (newest, sales, price; in a category or not) is a range of one index instead of a scan
and a sort of every product (services.catalog.list_products)

Revision ID: 0013_shop_speed
Revises: 0012_customer_pages
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_shop_speed"
down_revision = "0012_customer_pages"
branch_labels = None
depends_on = None

ON_SALE = {
    "postgresql_where": sa.text("on_sale IS true"),
    "sqlite_where": sa.text("on_sale IS 1"),
}
LIST_KEYS = {"newest": "created_at", "sales": "sales_count", "price": "price_fen"}


def upgrade():
    with op.batch_alter_table("products", schema=None) as batch_op:
        for name, column in LIST_KEYS.items():
            batch_op.create_index(f"ix_products_list_{name}", [column, "id"], **ON_SALE)
            batch_op.create_index(
                f"ix_products_list_category_{name}", ["category_id", column, "id"], **ON_SALE
            )


def downgrade():
    with op.batch_alter_table("products", schema=None) as batch_op:
        for name in reversed(LIST_KEYS):
            batch_op.drop_index(f"ix_products_list_category_{name}", **ON_SALE)
            batch_op.drop_index(f"ix_products_list_{name}", **ON_SALE)
