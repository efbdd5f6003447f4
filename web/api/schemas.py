"""The request and response schemas of /api/v1 (marshmallow): requests are validated by them
(webargs, through flask-smorest) and the OpenAPI document is generated from them (apispec), so
the document and the checks cannot drift apart.

Money is integer fen; datetimes are ISO 8601 in China time (+08:00); ids are integers from 1
to 2**31-1. Request bodies ignore fields they do not name: there is no price field anywhere, so
a client's "price_fen" changes nothing."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from infra.clock import CHINA
from models.identifiers import INT_ID_MAX
from models.pricing import MAX_QUANTITY
from services.catalog import MAX_KEYWORD, SORTS
from services.checkout import MAX_LINES, MAX_NOTE, ORDER_STATUSES
from services.paging import MAX_CURSOR
from services.refund_requests import KINDS, MAX_REASON

MAX_FEN = 2**53 - 1  # what any JSON reader holds exactly
ID = validate.Range(1, INT_ID_MAX)


class ChinaDateTime(fields.DateTime):
    """A moment as ISO 8601 in China time: 2026-12-06T18:30:00+08:00."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return super()._serialize(value.astimezone(CHINA), attr, obj, **kwargs)


class QueryInt(fields.Integer):
    """A whole number in a query string: ASCII digits only (not ' 7', '７' or '1_000')."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not value.isascii() or not value.isdigit():
            raise self.make_error("invalid", input=value)
        if len(value) > 12:
            raise ma.ValidationError("Number too large.")
        return super()._deserialize(value, attr, data, **kwargs)


def Id(**kwargs) -> fields.Integer:
    """A row id in a JSON body: a JSON integer (not "7", 7.0 or true) from 1 to 2**31-1."""
    return fields.Integer(strict=True, validate=ID, **kwargs)


class Body(ma.Schema):
    """A request body: names only what the client may say; anything else is ignored."""

    class Meta:
        unknown = ma.EXCLUDE


class Query(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE


class CsrfHeaders(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    requested_with = fields.String(
        data_key="X-Requested-With",
        required=True,
        validate=validate.OneOf(["fenxiao"]),
        metadata={"description": "Required on a shopper's writes (CSRF): exactly 'fenxiao'."},
    )


class ErrorSchema(ma.Schema):
    """Every error of /api/v1."""

    code = fields.String(required=True, metadata={"description": "stable, e.g. out_of_stock"})
    message = fields.String(required=True, metadata={"description": "for the shopper"})
    details = fields.Dict(metadata={"description": "field errors, or the refusal's facts"})


class PageArgs(Query):
    cursor = fields.String(
        validate=validate.Length(max=MAX_CURSOR),
        metadata={"description": "next_cursor of the previous page; absent for the first"},
    )
    limit = QueryInt(load_default=20, validate=validate.Range(1, 50))


def page_schema(item: type[ma.Schema]) -> type[ma.Schema]:
    """{"items": [...], "next_cursor": "..." | null}: every list of the API."""
    name = item.__name__.removesuffix("Schema") + "PageSchema"
    return type(
        name,
        (ma.Schema,),
        {
            "items": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(
                required=True,
                allow_none=True,
                metadata={"description": "the next page's cursor; null on the last page"},
            ),
        },
    )


# -- catalogue ----------------------------------------------------------------------------------


class CategorySchema(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class ProductQuery(PageArgs):
    category_id = QueryInt(validate=ID)
    q = fields.String(
        validate=validate.Length(max=MAX_KEYWORD), metadata={"description": "words in the title"}
    )
    sort = fields.String(load_default="default", validate=validate.OneOf(SORTS))


class ProductCardSchema(ma.Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    price_fen = fields.Integer(required=True, metadata={"description": "the lowest SKU price"})
    photo_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "GET /shop/photos/{photo_id}"}
    )
    sold_out = fields.Boolean(required=True)
    sales_count = fields.Integer(required=True)


class SkuSchema(ma.Schema):
    id = fields.Integer(required=True)
    spec = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    spec_text = fields.String(required=True)
    price_fen = fields.Integer(required=True)
    stock = fields.Integer(required=True)
    sold_out = fields.Boolean(required=True)
    low_stock = fields.Boolean(required=True)


class ProductSchema(ma.Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    price_fen = fields.Integer(required=True)
    category_id = fields.Integer(required=True, allow_none=True)
    category_name = fields.String(required=True, allow_none=True)
    photo_ids = fields.List(fields.Integer(), required=True)
    skus = fields.List(fields.Nested(SkuSchema), required=True)
    spec_options = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), required=True
    )
    sold_out = fields.Boolean(required=True)
    share_commission_fen = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "what the signed-in distributor earns sharing it; else null"},
    )


# -- cart ---------------------------------------------------------------------------------------


class CartLineSchema(ma.Schema):
    sku_id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    title = fields.String(required=True)
    spec_text = fields.String(required=True)
    price_fen = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    stock = fields.Integer(required=True)
    available = fields.Boolean(required=True)
    photo_id = fields.Integer(required=True, allow_none=True)


class CartAddBody(Body):
    sku_id = Id(required=True)
    quantity = fields.Integer(strict=True, load_default=1, validate=validate.Range(1, MAX_QUANTITY))


class CartSetBody(Body):
    quantity = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(0, MAX_QUANTITY),
        metadata={"description": "0 removes the line"},
    )


class CartQuantitySchema(ma.Schema):
    sku_id = fields.Integer(required=True)
    quantity = fields.Integer(required=True, metadata={"description": "the line's quantity now"})


class CartCountSchema(ma.Schema):
    count = fields.Integer(required=True, metadata={"description": "units in the cart"})


# -- addresses ----------------------------------------------------------------------------------


class AddressBody(Body):
    """Checked by models.addresses.parse_address (an InvalidAddress names the field)."""

    name = fields.String(required=True, validate=validate.Length(max=32))
    phone = fields.String(required=True, validate=validate.Length(max=20))
    province = fields.String(required=True, validate=validate.Length(max=16))
    city = fields.String(required=True, validate=validate.Length(max=32))
    district = fields.String(load_default="", validate=validate.Length(max=32))
    detail = fields.String(required=True, validate=validate.Length(max=120))


class AddressSchema(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    phone = fields.String(required=True)
    province = fields.String(required=True)
    city = fields.String(required=True)
    district = fields.String(required=True)
    detail = fields.String(required=True)
    is_default = fields.Boolean(required=True)


# -- coupons ------------------------------------------------------------------------------------


class CouponTermsSchema(ma.Schema):
    kind = fields.String(
        required=True, validate=validate.OneOf(["amount_off", "percent_off", "no_threshold"])
    )
    off_fen = fields.Integer(required=True)
    discount_bps = fields.Integer(required=True, metadata={"description": "1000 is 9折"})
    cap_fen = fields.Integer(required=True, allow_none=True)
    min_goods_fen = fields.Integer(required=True)
    product_ids = fields.List(fields.Integer(), required=True)
    starts_at = ChinaDateTime(required=True)
    ends_at = ChinaDateTime(required=True)
    summary = fields.String(required=True, metadata={"description": "满99减10, 9折..."})


class CouponOfferSchema(ma.Schema):
    coupon_id = fields.Integer(required=True)
    title = fields.String(required=True)
    terms = fields.Nested(CouponTermsSchema, required=True)
    claimed_by_user = fields.Integer(required=True)
    refusal = fields.String(
        required=True, allow_none=True, metadata={"description": "why it cannot be claimed now"}
    )


class MyCouponSchema(ma.Schema):
    user_coupon_id = fields.Integer(required=True)
    coupon_id = fields.Integer(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["available", "locked", "used"]))
    terms = fields.Nested(CouponTermsSchema, required=True)
    claimed_at = ChinaDateTime(required=True)
    used_at = ChinaDateTime(required=True, allow_none=True)


# -- checkout and orders ------------------------------------------------------------------------


class ItemBody(Body):
    sku_id = Id(required=True)
    quantity = fields.Integer(strict=True, required=True, validate=validate.Range(1, MAX_QUANTITY))


class QuoteBody(Body):
    items = fields.List(
        fields.Nested(ItemBody), required=True, validate=validate.Length(1, MAX_LINES)
    )
    user_coupon_id = Id(load_default=None, allow_none=True)
    address_id = Id(
        load_default=None,
        allow_none=True,
        metadata={"description": "absent: the default address"},
    )


class PlaceOrderBody(Body):
    items = fields.List(
        fields.Nested(ItemBody), required=True, validate=validate.Length(1, MAX_LINES)
    )
    address_id = Id(required=True)
    user_coupon_id = Id(load_default=None, allow_none=True)
    note = fields.String(load_default="", validate=validate.Length(max=MAX_NOTE))
    from_cart = fields.Boolean(
        load_default=False,
        truthy={True},
        falsy={False},
        metadata={"description": "true: the SKUs bought leave the cart"},
    )


class QuoteLineSchema(ma.Schema):
    sku_id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    title = fields.String(required=True)
    spec_text = fields.String(required=True)
    unit_price_fen = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    goods_fen = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)
    paid_fen = fields.Integer(required=True)
    photo_id = fields.Integer(required=True, allow_none=True)


class CouponChoiceSchema(ma.Schema):
    user_coupon_id = fields.Integer(required=True)
    title = fields.String(required=True)
    discount_fen = fields.Integer(required=True, allow_none=True)
    refusal = fields.String(required=True, allow_none=True)
    short_fen = fields.Integer(
        required=True, allow_none=True, metadata={"description": "below_minimum: still needed"}
    )


class QuoteSchema(ma.Schema):
    lines = fields.List(fields.Nested(QuoteLineSchema), required=True)
    goods_fen = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)
    shipping_fen = fields.Integer(required=True)
    payable_fen = fields.Integer(required=True)
    coupons = fields.List(fields.Nested(CouponChoiceSchema), required=True)
    user_coupon_id = fields.Integer(required=True, allow_none=True)
    address_id = fields.Integer(required=True, allow_none=True)
    refusal = fields.String(
        required=True, allow_none=True, metadata={"description": "what stops the order, if any"}
    )
    refusal_message = fields.String(required=True, allow_none=True)


class OrderQuery(PageArgs):
    status = fields.String(validate=validate.OneOf(ORDER_STATUSES))


class OrderLineSchema(ma.Schema):
    id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    sku_id = fields.Integer(required=True, allow_none=True)
    title = fields.String(required=True)
    spec_text = fields.String(required=True)
    unit_price_fen = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)
    paid_fen = fields.Integer(required=True)
    refunded_fen = fields.Integer(required=True)


class OrderAddressSchema(ma.Schema):
    name = fields.String()
    phone = fields.String()
    province = fields.String()
    city = fields.String()
    district = fields.String()
    detail = fields.String()


class OrderSchema(ma.Schema):
    order_no = fields.String(required=True)
    status = fields.String(required=True)
    goods_fen = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)
    shipping_fen = fields.Integer(required=True)
    payable_fen = fields.Integer(required=True)
    refunded_fen = fields.Integer(required=True)
    address = fields.Nested(OrderAddressSchema, required=True, allow_none=True)
    note = fields.String(required=True)
    created_at = ChinaDateTime(required=True)
    paid_at = ChinaDateTime(required=True, allow_none=True)
    shipped_at = ChinaDateTime(required=True, allow_none=True)
    completed_at = ChinaDateTime(required=True, allow_none=True)
    cancelled_at = ChinaDateTime(required=True, allow_none=True)
    carrier = fields.String(required=True, allow_none=True)
    tracking_no = fields.String(required=True, allow_none=True)
    lines = fields.List(fields.Nested(OrderLineSchema), required=True)


class PayParamsSchema(ma.Schema):
    """What the page hands to WeixinJSBridge getBrandWCPayRequest, as WeChat names them."""

    appId = fields.String(required=True)
    timeStamp = fields.String(required=True)
    nonceStr = fields.String(required=True)
    package = fields.String(required=True)
    signType = fields.String(required=True)
    paySign = fields.String(required=True)


# -- refunds ------------------------------------------------------------------------------------


class RefundRequestBody(Body):
    order_line_id = Id(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    amount_fen = fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=validate.Range(1, MAX_FEN),
        metadata={"description": "absent: all the line can still refund"},
    )
    reason = fields.String(load_default="", validate=validate.Length(max=MAX_REASON))


class RefuseBody(Body):
    reason = fields.String(required=True, validate=validate.Length(1, MAX_REASON))


class RefundRequestSchema(ma.Schema):
    id = fields.Integer(required=True)
    refund_no = fields.String(required=True)
    order_line_id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    amount_fen = fields.Integer(required=True)
    reason = fields.String(required=True)
    status = fields.String(required=True)
    refuse_reason = fields.String(required=True, allow_none=True)
    created_at = ChinaDateTime(required=True)
    decided_at = ChinaDateTime(required=True, allow_none=True)
    refunded_at = ChinaDateTime(required=True, allow_none=True)


class MerchantRefundRequestSchema(RefundRequestSchema):
    order_no = fields.String(required=True)


# -- the signed-in user -------------------------------------------------------------------------


class DistributorSchema(ma.Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    status = fields.String(required=True)


class MeSchema(ma.Schema):
    user_id = fields.Integer(required=True)
    nickname = fields.String(required=True)
    distributor = fields.Nested(DistributorSchema, required=True, allow_none=True)


class EarningsSchema(ma.Schema):
    available_fen = fields.Integer(required=True)
    pending_fen = fields.Integer(required=True)
    held_fen = fields.Integer(required=True)
    withdrawn_fen = fields.Integer(required=True)
    today_fen = fields.Integer(required=True)
    month_fen = fields.Integer(required=True)


class TeamMemberSchema(ma.Schema):
    distributor_id = fields.Integer(required=True)
    level = fields.Integer(required=True)
    nickname = fields.String(required=True)


class TeamSchema(ma.Schema):
    level_counts = fields.List(
        fields.Integer(), required=True, metadata={"description": "levels 1, 2, 3"}
    )
    newest = fields.List(fields.Nested(TeamMemberSchema), required=True)
    own_sales_month_fen = fields.Integer(required=True)
    team_sales_month_fen = fields.Integer(required=True)
