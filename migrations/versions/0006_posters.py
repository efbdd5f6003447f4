"""posters and promo material: poster templates (versioned), the poster cache, invite QR codes,
share events (scans and link visits), promo material and its images

Revision ID: 0006_posters
Revises: 0005_settle_queue
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_posters"
down_revision = "0005_settle_queue"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "poster_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poster_templates")),
        sa.UniqueConstraint("version", name=op.f("uq_poster_templates_version")),
    )
    op.create_table(
        "promo_materials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("publish_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_promo_materials_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_materials")),
    )
    with op.batch_alter_table("promo_materials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_promo_materials_publish_at"), ["publish_at"], unique=False
        )

    op.create_table(
        "invite_qrcodes",
        sa.Column("distributor_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("scene", sa.String(length=64), nullable=False),
        sa.Column("ticket", sa.String(length=256), nullable=False),
        sa.Column("url", sa.String(length=256), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["distributor_id"],
            ["distributors.id"],
            name=op.f("fk_invite_qrcodes_distributor_id_distributors"),
        ),
        sa.PrimaryKeyConstraint("distributor_id", name=op.f("pk_invite_qrcodes")),
    )
    op.create_table(
        "posters",
        sa.Column("id", BigId, nullable=False),
        sa.Column("cache_key", sa.String(length=64), nullable=False),
        sa.Column("distributor_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("qr_content", sa.String(length=512), nullable=False),
        sa.Column("avatar_version", sa.String(length=32), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=True),
        sa.Column("image_size", sa.Integer(), nullable=False),
        sa.Column("renders", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.String(length=128), nullable=True),
        sa.Column("media_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["distributor_id"],
            ["distributors.id"],
            name=op.f("fk_posters_distributor_id_distributors"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_posters_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posters")),
        sa.UniqueConstraint("cache_key", name=op.f("uq_posters_cache_key")),
    )
    with op.batch_alter_table("posters", schema=None) as batch_op:
        batch_op.create_index(
            "ix_posters_distributor_product", ["distributor_id", "product_id"], unique=False
        )

    op.create_table(
        "promo_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("media_id", sa.String(length=128), nullable=True),
        sa.Column("media_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["material_id"],
            ["promo_materials.id"],
            name=op.f("fk_promo_images_material_id_promo_materials"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_images")),
        sa.UniqueConstraint("material_id", "position", name=op.f("uq_promo_images_material_id")),
    )
    with op.batch_alter_table("promo_images", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_promo_images_material_id"), ["material_id"], unique=False
        )

    op.create_table(
        "share_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("distributor_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('subscribe', 'scan', 'visit')", name=op.f("ck_share_events_kind")
        ),
        sa.ForeignKeyConstraint(
            ["distributor_id"],
            ["distributors.id"],
            name=op.f("fk_share_events_distributor_id_distributors"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_share_events_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_share_events_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_events")),
    )
    with op.batch_alter_table("share_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_share_events_distributor_kind",
            ["distributor_id", "kind", "product_id"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("share_events", schema=None) as batch_op:
        batch_op.drop_index("ix_share_events_distributor_kind")

    op.drop_table("share_events")
    with op.batch_alter_table("promo_images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promo_images_material_id"))

    op.drop_table("promo_images")
    with op.batch_alter_table("posters", schema=None) as batch_op:
        batch_op.drop_index("ix_posters_distributor_product")

    op.drop_table("posters")
    op.drop_table("invite_qrcodes")
    with op.batch_alter_table("promo_materials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promo_materials_publish_at"))

    op.drop_table("promo_materials")
    op.drop_table("poster_templates")
