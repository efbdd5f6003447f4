"""the shop: categories, SKUs, product photos, addresses, carts, coupons, refund requests;
orders keep the address, prepay and parcel; the merchant's shipping template; each product's
stock moves to one default SKU (and old order lines point at it)

Revision ID: 0010_shop
Revises: 0009_real_names
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_shop"
down_revision = "0009_real_names"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("shown", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("name", name=op.f("uq_categories_name")),
    )
    op.create_table(
        "coupons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("off_fen", sa.BigInteger(), nullable=False),
        sa.Column("discount_bps", sa.Integer(), nullable=False),
        sa.Column("cap_fen", sa.BigInteger(), nullable=True),
        sa.Column("min_goods_fen", sa.BigInteger(), nullable=False),
        sa.Column("product_ids", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_limit", sa.Integer(), nullable=True),
        sa.Column("per_user_limit", sa.Integer(), nullable=True),
        sa.Column("claimed", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('amount_off', 'percent_off', 'no_threshold')", name=op.f("ck_coupons_kind")
        ),
        sa.CheckConstraint("claimed >= 0", name=op.f("ck_coupons_claimed")),
        sa.CheckConstraint(
            "total_limit IS NULL OR claimed <= total_limit", name=op.f("ck_coupons_total_limit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
    )
    op.create_table(
        "user_coupons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coupon_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["coupon_id"], ["coupons.id"], name=op.f("fk_user_coupons_coupon_id_coupons")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_user_coupons_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_coupons_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_coupons")),
    )
    with op.batch_alter_table("user_coupons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_coupons_coupon_id"), ["coupon_id"], unique=False)
        batch_op.create_index("ix_user_coupons_user_status", ["user_id", "status"], unique=False)

    op.create_table(
        "addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("province", sa.String(length=16), nullable=False),
        sa.Column("city", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=120), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_addresses_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addresses")),
    )
    with op.batch_alter_table("addresses", schema=None) as batch_op:
        batch_op.create_index("ix_addresses_user", ["user_id"], unique=False)

    op.create_table(
        "product_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_photos_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_photos")),
    )
    with op.batch_alter_table("product_photos", schema=None) as batch_op:
        batch_op.create_index("ix_product_photos_product", ["product_id", "sort"], unique=False)

    op.create_table(
        "skus",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("spec_text", sa.String(length=64), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("on_sale", sa.Boolean(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("commission_kind", sa.String(length=8), nullable=True),
        sa.Column("commission_values", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "commission_kind IS NULL OR commission_kind IN ('percent', 'fixed')",
            name=op.f("ck_skus_kind"),
        ),
        sa.CheckConstraint("price_fen >= 0", name=op.f("ck_skus_price")),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_skus_stock")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_skus_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skus")),
    )
    with op.batch_alter_table("skus", schema=None) as batch_op:
        batch_op.create_index("ix_skus_product", ["product_id", "sort"], unique=False)

    op.create_table(
        "cart_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_cart_items_quantity")),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_cart_items_sku_id_skus")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_cart_items_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cart_items")),
        sa.UniqueConstraint("user_id", "sku_id", name=op.f("uq_cart_items_user_id")),
    )
    op.create_table(
        "refund_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("refund_no", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refuse_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('refund_only', 'return_refund')", name=op.f("ck_refund_requests_kind")
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_refund_requests_amount")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_refund_requests_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_lines.id"],
            name=op.f("fk_refund_requests_order_line_id_order_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_requests")),
        sa.UniqueConstraint("refund_no", name=op.f("uq_refund_requests_refund_no")),
    )
    with op.batch_alter_table("refund_requests", schema=None) as batch_op:
        batch_op.create_index("ix_refund_requests_order", ["order_id"], unique=False)
        batch_op.create_index("ix_refund_requests_status", ["status"], unique=False)

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("shipping_flat_fen", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("shipping_free_over_fen", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("shipping_excluded_regions", sa.JSON(), nullable=False, server_default="[]")
        )

    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sku_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("spec_text", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_order_lines_sku_id_skus"), "skus", ["sku_id"], ["id"]
        )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("note", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("prepay_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("prepay_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("carrier", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("tracking_no", sa.String(length=40), nullable=True))

    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("sales_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index("ix_products_sale_category", ["on_sale", "category_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_products_category_id_categories"), "categories", ["category_id"], ["id"]
        )
    # Each product's price and stock become its one default SKU (no spec); the lines already
    # ordered point at it.
    op.execute(
        "INSERT INTO skus (product_id, spec, spec_text, price_fen, stock, on_sale, sort) "
        "SELECT id, '{}', '', price_fen, stock, TRUE, 0 FROM products ORDER BY id"
    )
    op.execute(
        "UPDATE order_lines SET sku_id = "
        "(SELECT MIN(skus.id) FROM skus WHERE skus.product_id = order_lines.product_id)"
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_products_stock"), type_="check")
        batch_op.drop_column("stock")


def downgrade():
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stock", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_check_constraint("stock", "stock >= 0")
    # Back to one stock per product: what its SKUs held.
    op.execute(
        "UPDATE products SET stock = "
        "(SELECT COALESCE(SUM(skus.stock), 0) FROM skus WHERE skus.product_id = products.id)"
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_products_category_id_categories"), type_="foreignkey"
        )
        batch_op.drop_index("ix_products_sale_category")
        batch_op.drop_column("sales_count")
        batch_op.drop_column("category_id")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("tracking_no")
        batch_op.drop_column("carrier")
        batch_op.drop_column("prepay_at")
        batch_op.drop_column("prepay_id")
        batch_op.drop_column("note")
        batch_op.drop_column("address")

    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_order_lines_sku_id_skus"), type_="foreignkey")
        batch_op.drop_column("spec_text")
        batch_op.drop_column("sku_id")

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("shipping_excluded_regions")
        batch_op.drop_column("shipping_free_over_fen")
        batch_op.drop_column("shipping_flat_fen")

    with op.batch_alter_table("refund_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_refund_requests_status")
        batch_op.drop_index("ix_refund_requests_order")

    op.drop_table("refund_requests")
    op.drop_table("cart_items")
    with op.batch_alter_table("skus", schema=None) as batch_op:
        batch_op.drop_index("ix_skus_product")

    op.drop_table("skus")
    with op.batch_alter_table("product_photos", schema=None) as batch_op:
        batch_op.drop_index("ix_product_photos_product")

    op.drop_table("product_photos")
    with op.batch_alter_table("addresses", schema=None) as batch_op:
        batch_op.drop_index("ix_addresses_user")

    op.drop_table("addresses")
    with op.batch_alter_table("user_coupons", schema=None) as batch_op:
        batch_op.drop_index("ix_user_coupons_user_status")
        batch_op.drop_index(batch_op.f("ix_user_coupons_coupon_id"))

    op.drop_table("user_coupons")
    op.drop_table("coupons")
    op.drop_table("categories")
