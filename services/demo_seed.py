"""The idempotent demo seed: a whole demo merchant. Running it again changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from demo_identity import DEMO_MERCHANT_SLUG, PEOPLE
from infra.clock import now
from models import (
    Category,
    Coupon,
    Merchant,
    Product,
    ProductPhoto,
    PromoMaterial,
    RuleSet,
    Sku,
    Tier,
    User,
    db,
)
from models.commission import ProductCommission
from models.pricing import CouponTerms
from render.product_photos import Palette, draw_product_photo
from services import distributors, orders, rules, settlement, staff, withdrawals
from services.binding import bind_shopper
from services.ledger import ensure_accounts
from services.material import add_material
from services.posters import active_template_row

Spec = dict[str, str]


@dataclass(frozen=True)
class DemoSku:
    """One SKU of a demo product: its spec, price and stock, and its own commission if any."""

    spec: Spec
    price_fen: int
    stock: int
    commission: tuple[str, list[int]] | None = None


@dataclass(frozen=True)
class DemoProduct:
    """A product of the demo shop, with what its photos are drawn from (render.product_photos)."""

    title: str
    category: str
    kind: str
    palettes: tuple[Palette, ...]  # photo i is drawn in palettes[i % len]: one per colour SKU
    label: str
    description: str
    skus: tuple[DemoSku, ...]
    days_old: int  # how long ago it was listed, so "newest" means something
    sales: int  # units sold before the demo's own orders, so "by sales" means something
    commission: tuple[str, list[int]] | None = None
    photos: int = 3


def one(price_fen: int, stock: int) -> tuple[DemoSku]:
    """The single SKU of a product without specs."""
    return (DemoSku({}, price_fen, stock),)


def options(name: str, *choices: tuple[str, int, int]) -> tuple[DemoSku, ...]:
    """SKUs along one spec (规格, 容量, 色号), each (value, price, stock)."""
    return tuple(DemoSku({name: value}, price, stock) for value, price, stock in choices)


def grid(colours: Sequence[str], sizes: Sequence[str], price_fen: int, stock: int):
    """Every colour in every size (颜色 × 尺码) at one price."""
    return tuple(DemoSku({"颜色": c, "尺码": s}, price_fen, stock) for c in colours for s in sizes)


CATEGORIES = ["茶饮咖啡", "服饰鞋包", "美妆个护", "数码配件", "家居日用", "生鲜零食"]
TEA, WEAR, BEAUTY, DIGITAL, HOME, FOOD = CATEGORIES

# Colours: (product, accent, backdrop).
GREEN_TEA = ((58, 110, 72), (196, 160, 90), (170, 200, 160))
PUER = ((150, 40, 36), (190, 50, 40), (214, 186, 150))
WHITE_TEA = ((214, 196, 160), (120, 90, 60), (226, 214, 190))
COFFEE = ((64, 46, 40), (200, 140, 70), (220, 190, 160))
GINGER = ((176, 58, 40), (120, 60, 30), (244, 200, 160))
PORCELAIN = ((246, 248, 252), (30, 70, 150), (180, 200, 230))

# The first six are the demo's original products, in their original order: the seed's orders,
# the README walkthrough (海报 茶 finds product 1) and docs/money.md's worked example use them.
CATALOGUE: list[DemoProduct] = [
    DemoProduct(
        "云南普洱熟茶饼 357g",
        TEA,
        "tea_cake",
        (PUER,),
        "普洱",
        "勐海古树原料，传统渥堆发酵，汤色红浓透亮，入口醇厚回甘。越陈越香，冬天来一壶，暖身又暖心。",
        options("规格", ("单饼 357g", 16_800, 200), ("整提 7 饼", 108_800, 30)),
        days_old=58,
        sales=1_280,
    ),
    DemoProduct(
        "手工红糖姜茶 12 袋装",
        TEA,
        "snack_box",
        (GINGER,),
        "红糖姜茶",
        "云南老红糖配小黄姜，古法熬制，独立小袋装，热水一冲即饮。办公室、经期、换季都适合。",
        one(3_990, 500),
        days_old=55,
        sales=2_360,
        photos=2,
    ),
    DemoProduct(
        "有机五常大米 5kg",
        FOOD,
        "rice_bag",
        (((236, 226, 200), (190, 40, 40), (230, 215, 180)),),
        "五常",
        "黑龙江五常核心产区稻花香 2 号，有机认证，一年一季。米粒饱满，蒸饭满屋飘香。",
        one(8_900, 300),
        days_old=50,
        sales=860,
        commission=("fixed", [600, 200, 0]),
    ),
    DemoProduct(
        "宁夏枸杞 特级 500g",
        FOOD,
        "pouch",
        (((200, 40, 50), (214, 44, 44), (240, 180, 170)),),
        "枸杞",
        "中宁头茬枸杞，颗颗饱满，免洗即食。泡水、煲汤、直接嚼都好，自封袋装方便保存。",
        one(5_980, 400),
        days_old=47,
        sales=1_540,
    ),
    DemoProduct(
        "景德镇青花瓷茶具套装",
        HOME,
        "teaset",
        (PORCELAIN,),
        "",
        "景德镇手绘青花，一壶两杯，釉面温润，高温烧制不含铅。送长辈、送朋友都体面，附礼盒。",
        one(39_900, 50),
        days_old=44,
        sales=126,
        commission=("percent", [1500, 500, 0]),
    ),
    DemoProduct(
        "东北黑木耳 250g",
        FOOD,
        "pouch",
        (((40, 40, 44), (70, 60, 56), (210, 205, 195)),),
        "黑木耳",
        "长白山椴木黑木耳，朵小肉厚，泡发率高。凉拌、清炒都爽脆。本批已售罄，敬请期待。",
        one(4_500, 0),
        days_old=42,
        sales=410,
        photos=2,
    ),
    # -- tea and coffee
    DemoProduct(
        "西湖龙井 明前特级",
        TEA,
        "tea_tin",
        (GREEN_TEA,),
        "龙井",
        "杭州西湖产区明前嫩芽，手工炒制，扁平挺直，豆香清新。罐装密封，送礼自饮两相宜。",
        options("规格", ("100g 罐装", 12_800, 80), ("250g 礼盒", 29_800, 40)),
        days_old=6,
        sales=530,
    ),
    DemoProduct(
        "福鼎白茶 老寿眉",
        TEA,
        "tea_tin",
        (WHITE_TEA,),
        "白茶",
        "福鼎高山寿眉，自然萎凋，存放三年，枣香明显，耐泡耐煮。冬日围炉煮一壶正好。",
        options("规格", ("250g", 9_800, 120), ("500g", 17_800, 60)),
        days_old=20,
        sales=240,
        photos=2,
    ),
    DemoProduct(
        "云南小粒咖啡豆 中深烘焙",
        TEA,
        "coffee_bag",
        (COFFEE,),
        "咖啡豆",
        "保山高海拔阿拉比卡，中深烘焙，坚果与黑巧风味，油脂丰富。每周新鲜烘焙，单向排气阀包装。",
        options("规格", ("250g", 5_800, 150), ("500g", 9_800, 90)),
        days_old=12,
        sales=1_020,
    ),
    DemoProduct(
        "冷萃挂耳咖啡 10 片装",
        TEA,
        "snack_box",
        (((60, 40, 34), (200, 140, 70), (230, 205, 180)),),
        "挂耳咖啡",
        "精选阿拉比卡拼配，现磨锁鲜，挂杯即冲，三分钟一杯手冲。出差旅行随身带。",
        one(3_990, 300),
        days_old=3,
        sales=1_860,
    ),
    DemoProduct(
        "桂花乌龙 三角茶包 20 袋",
        TEA,
        "pouch",
        (((232, 170, 60), (250, 200, 80), (250, 226, 180)),),
        "桂花乌龙",
        "安溪铁观音窨制金桂，花香馥郁，冷泡热泡都好喝。立体三角包，茶叶舒展更出味。",
        one(2_990, 260),
        days_old=16,
        sales=680,
        photos=2,
    ),
    # -- clothes, shoes and bags
    DemoProduct(
        "纯棉基础款圆领 T 恤",
        WEAR,
        "tshirt",
        (
            ((244, 244, 240), (90, 120, 170), (200, 210, 225)),
            ((46, 48, 54), (240, 240, 236), (200, 200, 205)),
            ((110, 140, 180), (250, 250, 250), (190, 205, 230)),
        ),
        "棉",
        "新疆长绒棉，220g 中厚面料，不透不变形。基础圆领，百搭打底，男女同款。",
        grid(("白", "黑", "雾蓝"), ("S", "M", "L", "XL"), 7_900, 40),
        days_old=9,
        sales=3_120,
    ),
    DemoProduct(
        "重磅宽松印花 T 恤",
        WEAR,
        "tshirt",
        (
            ((36, 36, 40), (240, 150, 50), (220, 200, 180)),
            ((240, 232, 214), (200, 80, 50), (230, 210, 180)),
        ),
        "潮",
        "300g 重磅棉，落肩宽松版型，胸前原创印花。水洗不掉色，领口不松垮。",
        (
            *grid(("黑", "米白"), ("M", "L"), 12_900, 30),
            DemoSku({"颜色": "黑", "尺码": "XL"}, 13_900, 20),
            DemoSku({"颜色": "米白", "尺码": "XL"}, 13_900, 20),
        ),
        days_old=2,
        sales=760,
        photos=2,
    ),
    DemoProduct(
        "轻量透气跑步鞋",
        WEAR,
        "sneaker",
        (
            ((50, 70, 110), (240, 110, 50), (200, 215, 230)),
            ((40, 40, 44), (90, 200, 160), (205, 210, 215)),
        ),
        "",
        "一体织面鞋面，透气不闷脚；回弹中底，缓震护膝。单只约 230g，日常慢跑、通勤都合适。",
        grid(("深海蓝", "曜石黑"), ("39", "40", "41", "42", "43"), 29_900, 15),
        days_old=14,
        sales=420,
    ),
    DemoProduct(
        "复古帆布板鞋",
        WEAR,
        "sneaker",
        (((240, 232, 214), (50, 120, 80), (225, 215, 190)),),
        "",
        "经典低帮帆布鞋，硫化橡胶底，耐磨防滑。米白配复古绿，怎么搭都好看。",
        grid(("米白",), ("36", "37", "38", "39", "40"), 16_900, 20),
        days_old=30,
        sales=980,
        photos=2,
    ),
    DemoProduct(
        "城市通勤双肩包",
        WEAR,
        "backpack",
        (
            ((60, 64, 72), (230, 150, 40), (200, 205, 215)),
            ((176, 170, 160), (60, 64, 72), (225, 220, 210)),
        ),
        "CITY",
        "防泼水面料，独立 15.6 英寸电脑仓，前袋收纳充电宝和钥匙。背负透气，通勤出差一包搞定。",
        options("颜色", ("石墨黑", 19_900, 60), ("燕麦灰", 19_900, 45)),
        days_old=25,
        sales=640,
    ),
    DemoProduct(
        "刺绣棒球帽",
        WEAR,
        "cap",
        (
            ((30, 50, 90), (240, 240, 240), (210, 190, 160)),
            ((190, 170, 130), (60, 50, 40), (230, 220, 200)),
        ),
        "CAP",
        "纯棉斜纹，立体刺绣，后扣可调节头围。遮阳显脸小，四季都能戴。",
        options("颜色", ("藏青", 5_900, 80), ("卡其", 5_900, 70)),
        days_old=35,
        sales=350,
        photos=2,
    ),
    # -- beauty
    DemoProduct(
        "丝绒哑光口红",
        BEAUTY,
        "lipstick",
        (
            ((190, 30, 50), (30, 30, 34), (245, 200, 200)),
            ((176, 98, 96), (30, 30, 34), (240, 214, 206)),
            ((160, 50, 36), (30, 30, 34), (240, 205, 190)),
        ),
        "",
        "丝绒雾面质地，一抹显色，轻薄不拔干。三个日常色号，黄皮白皮都友好。",
        options(
            "色号", ("#01 正红", 12_900, 60), ("#02 豆沙", 12_900, 45), ("#03 枫叶", 12_900, 3)
        ),
        days_old=8,
        sales=2_050,
    ),
    DemoProduct(
        "玻尿酸保湿面霜 50g",
        BEAUTY,
        "cream_jar",
        (((250, 246, 240), (220, 170, 180), (240, 210, 215)),),
        "面霜",
        "多重玻尿酸锁水，质地轻盈好吸收，不油腻不闷痘。早晚都能用，换季干燥救星。",
        one(16_800, 120),
        days_old=22,
        sales=890,
    ),
    DemoProduct(
        "烟酰胺亮肤精华液 30ml",
        BEAUTY,
        "dropper",
        (((200, 150, 100), (40, 40, 44), (235, 215, 190)),),
        "精华",
        "5% 烟酰胺搭配积雪草，提亮肤色，改善暗沉。滴管设计，用量刚好。",
        one(19_900, 100),
        days_old=11,
        sales=700,
    ),
    DemoProduct(
        "氨基酸温和洁面乳 120g",
        BEAUTY,
        "tube",
        (((245, 245, 245), (80, 170, 170), (190, 225, 225)),),
        "洁面",
        "氨基酸表活，泡沫绵密，洗后不紧绷。敏感肌、油皮都适用。",
        one(5_900, 200),
        days_old=40,
        sales=1_330,
        photos=2,
    ),
    DemoProduct(
        "玫瑰香氛护手霜 3 支装",
        BEAUTY,
        "tube",
        (((248, 220, 226), (190, 80, 110), (245, 215, 220)),),
        "护手霜",
        "大马士革玫瑰香，乳木果油滋润，一抹化水不粘手。小支随身，办公室人手一支。",
        one(4_900, 180),
        days_old=18,
        sales=510,
        photos=2,
    ),
    # -- gadgets
    DemoProduct(
        "主动降噪头戴式耳机",
        DIGITAL,
        "headphones",
        (
            ((40, 42, 48), (220, 80, 60), (200, 205, 215)),
            ((236, 236, 232), (150, 160, 170), (215, 220, 228)),
        ),
        "",
        "40dB 深度降噪，40 小时长续航，蛋白皮耳罩久戴不压耳。通勤地铁一秒安静。",
        (
            DemoSku({"颜色": "曜石黑"}, 59_900, 30),
            # The new colour earns distributors more: its own fixed commission per unit.
            DemoSku({"颜色": "云雾白"}, 59_900, 25, ("fixed", [5_000, 2_000, 0])),
        ),
        days_old=4,
        sales=310,
    ),
    DemoProduct(
        "真无线蓝牙耳机",
        DIGITAL,
        "earbuds",
        (((250, 250, 250), (100, 180, 240), (200, 215, 235)),),
        "",
        "蓝牙 5.3 低延迟，单次 6 小时、配合充电盒 30 小时。入耳检测，IPX4 防水。",
        one(19_900, 150),
        days_old=27,
        sales=1_450,
    ),
    DemoProduct(
        "液态硅胶手机壳",
        DIGITAL,
        "phone_case",
        (
            ((120, 160, 210), (240, 160, 170), (220, 225, 235)),
            ((240, 160, 170), (120, 160, 210), (240, 220, 225)),
        ),
        "",
        "亲肤液态硅胶，内衬超细纤维，四角加厚防摔。镜头加高保护，不沾指纹。",
        tuple(
            DemoSku({"型号": model, "颜色": colour}, 4_900, 50)
            for model in ("iPhone 15", "iPhone 15 Pro")
            for colour in ("雾霾蓝", "樱花粉")
        ),
        days_old=33,
        sales=2_600,
    ),
    DemoProduct(
        "快充充电宝",
        DIGITAL,
        "power_bank",
        (((50, 54, 62), (90, 220, 140), (200, 210, 220)),),
        "",
        "22.5W 双向快充，可上飞机。数显电量，一次给手机充满三次。",
        options("容量", ("10000mAh", 8_900, 120), ("20000mAh", 12_900, 100)),
        days_old=45,
        sales=880,
        photos=2,
    ),
    # -- home
    DemoProduct(
        "北欧陶瓷马克杯 380ml",
        HOME,
        "mug",
        (
            ((240, 240, 236), (230, 120, 90), (250, 200, 170)),
            ((120, 150, 180), (250, 240, 220), (200, 215, 230)),
            ((50, 90, 70), (240, 220, 170), (200, 220, 200)),
        ),
        "早",
        "高温细瓷，釉面光滑好清洗，可进微波炉和洗碗机。早上一杯咖啡，从好杯子开始。",
        options("颜色", ("奶白", 3_900, 90), ("雾蓝", 3_900, 70), ("墨绿", 3_900, 60)),
        days_old=15,
        sales=1_120,
    ),
    DemoProduct(
        "316 不锈钢保温杯",
        HOME,
        "water_bottle",
        (((70, 150, 200), (40, 60, 80), (190, 220, 235)),),
        "",
        "316 医用级不锈钢内胆，12 小时保温保冷。一键弹盖，单手就能喝。",
        options("容量", ("350ml", 8_900, 100), ("500ml", 10_900, 120)),
        days_old=10,
        sales=1_760,
    ),
    DemoProduct(
        "A5 皮面手帐本",
        HOME,
        "notebook",
        (((120, 70, 40), (200, 60, 50), (225, 205, 180)),),
        "手帐",
        "PU 皮面加松紧绑带，100g 道林纸不洇墨。192 页点阵内页，记账、手帐、会议记录都好用。",
        one(3_900, 150),
        days_old=38,
        sales=450,
        photos=2,
    ),
    DemoProduct(
        "大豆香薰蜡烛",
        HOME,
        "candle",
        (
            ((230, 220, 210), (130, 90, 160), (220, 210, 230)),
            ((236, 226, 210), (90, 120, 90), (215, 225, 210)),
        ),
        "香薰",
        "天然大豆蜡，棉芯无烟，燃烧约 40 小时。三种香型，睡前点一支，放松一整天。",
        options("香型", ("白茶", 6_900, 40), ("雪松", 6_900, 35), ("无花果", 6_900, 30)),
        days_old=1,
        sales=290,
    ),
    # -- fresh food and snacks
    DemoProduct(
        "新疆阿克苏冰糖心苹果",
        FOOD,
        "fruit_basket",
        (((210, 40, 40), (240, 150, 30), (240, 220, 180)),),
        "",
        "阿克苏红旗坡果园直发，昼夜温差大，果肉脆甜，切开有糖心。坏果包赔。",
        options("规格", ("5 斤装", 4_990, 200), ("10 斤装", 8_990, 120)),
        days_old=5,
        sales=2_980,
    ),
    DemoProduct(
        "百花土蜂蜜 500g",
        FOOD,
        "honey_jar",
        (((230, 150, 20), (200, 60, 50), (245, 215, 150)),),
        "蜂蜜",
        "秦岭深山百花蜜，自然成熟，波美度 42 以上。温水冲一杯，早起润喉。",
        one(6_800, 160),
        days_old=28,
        sales=720,
    ),
    DemoProduct(
        "每日坚果 30 袋",
        FOOD,
        "snack_box",
        (((220, 90, 40), (120, 70, 30), (250, 210, 160)),),
        "每日坚果",
        "腰果、巴旦木、榛子、蔓越莓干科学配比，每天一袋。独立小包装，锁住新鲜。",
        one(12_900, 140),
        days_old=21,
        sales=1_900,
    ),
]

COUPONS = [
    # title, kind, off fen, discount bps, cap fen, minimum goods fen, total limit
    ("满 99 减 10", "amount_off", 1_000, 0, None, 9_900, None),
    ("全场 9 折，最高减 20 元", "percent_off", 0, 1_000, 2_000, 0, None),
    ("新人无门槛 5 元", "no_threshold", 500, 0, None, 0, 200),
]
COUPON_DAYS = 90
PHOTO_SIZE = 800
SHIPPING = dict(
    shipping_flat_fen=800, shipping_free_over_fen=9_900, shipping_excluded_regions=["新疆", "西藏"]
)

TIERS = [
    dict(name="普通", rank=0),
    dict(name="银牌", rank=1, l1_bps=1200, min_own_sales_fen=100_000, min_direct_team=5),
    dict(
        name="金牌",
        rank=2,
        l1_bps=1500,
        l2_bps=600,
        min_own_sales_fen=500_000,
        min_team_sales_fen=2_000_000,
        match="all",
    ),
]


def seed_demo() -> str:
    merchant = db.session.scalar(select(Merchant).where(Merchant.slug == DEMO_MERCHANT_SLUG))
    created = merchant is None
    if created:
        merchant = Merchant(slug=DEMO_MERCHANT_SLUG, name="分销演示小店")
        db.session.add(merchant)
    db.session.commit()
    ensure_accounts(None)
    db.session.commit()
    _seed_catalogue()
    people = _seed_people()
    _seed_posters_and_material()
    _seed_staff()
    return (
        f"demo merchant {merchant.name!r} ({'created' if created else 'already there'}); "
        f"{db.session.scalar(select(func.count()).select_from(Product))} products, "
        f"{people}"
    )


# The console's demo accounts (username, password, role): make demo prints them.
DEMO_STAFF = (
    ("demo", "fenxiao-demo", "owner"),
    ("operator", "fenxiao-operator", "operator"),
    ("finance", "fenxiao-finance", "finance"),
)


def _seed_staff() -> None:
    existing = {user.username for user in staff.list_users()}
    for username, password, role in DEMO_STAFF:
        if username not in existing:
            staff.add_user(username, password, role)


def _seed_catalogue() -> None:
    if db.session.scalar(select(func.count()).select_from(RuleSet)) == 0:
        rules.publish_rule_set(levels=2, rates_bps=(1000, 500, 0), note="demo: 10 % / 5 %")
    if db.session.scalar(select(func.count()).select_from(Tier)) == 0:
        db.session.add_all(Tier(**t) for t in TIERS)
    db.session.commit()
    _seed_products()
    _seed_shop_terms()


def _seed_products() -> None:
    """The demo catalogue, completed: missing products added, and products of an older demo
    seed given their category, description and photos (their SKUs, which orders point at, are
    kept). A shop holding any product of its own is left alone."""
    existing = {p.title: p for p in db.session.scalars(select(Product).order_by(Product.id))}
    if any(title not in {d.title for d in CATALOGUE} for title in existing):
        return
    categories = _categories()
    at = now()
    for demo in CATALOGUE:
        product = existing.get(demo.title)
        if product is None:
            db.session.add(_new_product(demo, categories[demo.category], at))
        elif not product.photos:
            product.category = categories[demo.category]
            product.description = demo.description
            product.photos = _photos(demo)
        db.session.flush()  # one at a time, so product ids follow the catalogue's order
    db.session.commit()


def _categories() -> dict[str, Category]:
    found = {c.name: c for c in db.session.scalars(select(Category))}
    for sort, name in enumerate(CATEGORIES):
        if name not in found:
            found[name] = Category(name=name, sort=sort)
            db.session.add(found[name])
    return found


def _new_product(demo: DemoProduct, category: Category, at) -> Product:
    kind, values = demo.commission or (None, None)
    return Product(
        title=demo.title,
        price_fen=min(s.price_fen for s in demo.skus),
        description=demo.description,
        category=category,
        commission_kind=kind,
        commission_values=values,
        sales_count=demo.sales,
        created_at=at - timedelta(days=demo.days_old, hours=len(demo.title)),
        skus=[_sku(s, sort) for sort, s in enumerate(demo.skus)],
        photos=_photos(demo),
    )


def _sku(demo: DemoSku, sort: int) -> Sku:
    kind, values = demo.commission or (None, None)
    if demo.commission:
        ProductCommission(kind, tuple(values))  # refuses a malformed override here, not later
    return Sku(
        spec=dict(demo.spec),
        spec_text=" / ".join(demo.spec.values()),
        price_fen=demo.price_fen,
        stock=demo.stock,
        sort=sort,
        commission_kind=kind,
        commission_values=values,
    )


def _photos(demo: DemoProduct) -> list[ProductPhoto]:
    """The product's photos, drawn: one framing each, in the colour of successive SKUs."""
    size = PHOTO_SIZE
    return [
        ProductPhoto(
            sort=i,
            width=size,
            height=size,
            data=draw_product_photo(
                demo.kind, demo.palettes[i % len(demo.palettes)], i, size, demo.label
            ),
        )
        for i in range(demo.photos)
    ]


def _seed_shop_terms() -> None:
    """The coupons, valid for COUPON_DAYS from the seed, and the shipping template: once."""
    if db.session.scalar(select(func.count()).select_from(Coupon)):
        return
    at = now()
    for title, kind, off, bps, cap, minimum, total in COUPONS:
        window = dict(starts_at=at, ends_at=at + timedelta(days=COUPON_DAYS))
        terms = dict(off_fen=off, discount_bps=bps, cap_fen=cap, min_goods_fen=minimum)
        CouponTerms(kind=kind, **window, **terms)  # the shop's own rules refuse a bad coupon
        db.session.add(
            Coupon(title=title, kind=kind, total_limit=total, per_user_limit=1, **window, **terms)
        )
    merchant = db.session.scalar(select(Merchant).where(Merchant.slug == DEMO_MERCHANT_SLUG))
    for key, value in SHIPPING.items():
        setattr(merchant, key, value)
    db.session.commit()


def _seed_people() -> str:
    if db.session.scalar(select(User).where(User.openid == "o-demo-xiaomei")):
        return "distributors and orders already there"
    users = {
        openid: distributors.get_or_create_user(openid, nickname=name, subscribed=True)
        for openid, name in PEOPLE.items()
    }
    merchant = db.session.scalar(select(Merchant).where(Merchant.slug == DEMO_MERCHANT_SLUG))
    merchant.application_policy = "auto"
    db.session.commit()
    xiaomei = distributors.apply(users["o-demo-xiaomei"].id)
    bind_shopper(users["o-demo-aqiang"].id, xiaomei.code, "seed")
    aqiang = distributors.apply(users["o-demo-aqiang"].id)
    bind_shopper(users["o-demo-lili"].id, aqiang.code, "seed")
    lili = distributors.apply(users["o-demo-lili"].id)
    merchant.application_policy = "audit"
    db.session.commit()
    distributors.apply(users["o-demo-xiaowang"].id)  # waits for the merchant's review

    for openid, upline in (
        ("o-demo-shopper1", lili),
        ("o-demo-shopper2", lili),
        ("o-demo-shopper3", aqiang),
        ("o-demo-shopper4", xiaomei),
    ):
        bind_shopper(users[openid].id, upline.code, "seed")
    _seed_orders(users, lili)
    return "3 distributors, 1 applicant, 4 shoppers, orders in every state"


def _seed_orders(users, lili) -> None:
    products = db.session.scalars(select(Product).order_by(Product.id)).all()
    tea, ginger, rice, goji, teaset = products[:5]

    def paid(openid, items, discount=0):
        order = orders.create_order(users[openid].id, items, discount_fen=discount)
        orders.record_payment(f"seed-{order.order_no}", order.order_no, order.payable_fen)
        return order

    orders.create_order(users["o-demo-shopper1"].id, [(ginger.id, 2)])  # pending payment
    paid("o-demo-shopper2", [(goji.id, 1)])  # paid
    orders.ship_order(paid("o-demo-shopper3", [(rice.id, 2)]).id)  # shipped
    settled = paid("o-demo-shopper1", [(tea.id, 2), (ginger.id, 1)], discount=1_000)
    orders.complete_order(settled.id, at=now() - timedelta(days=10))  # completed, matured
    orders.complete_order(paid("o-demo-shopper4", [(teaset.id, 1)]).id)  # completed, frozen
    cancelled = orders.create_order(users["o-demo-shopper2"].id, [(tea.id, 1)])
    orders.cancel_order(cancelled.id, "买家取消")
    refunded = paid("o-demo-shopper3", [(goji.id, 2)])
    orders.refund_order(refunded.id, f"seed-refund-{refunded.order_no}", reason="不想要了")
    partly = paid("o-demo-shopper2", [(tea.id, 1), (goji.id, 1)])
    orders.refund_order(partly.id, f"seed-refund-{partly.order_no}", amount_fen=3_000)
    settlement.settle_matured()
    merchant = db.session.scalar(select(Merchant).where(Merchant.slug == DEMO_MERCHANT_SLUG))
    threshold, merchant.withdraw_auto_approve_max_fen = merchant.withdraw_auto_approve_max_fen, None
    db.session.commit()
    withdrawals.request_withdrawal(lili.id, 2_000)  # waits for the merchant's review
    merchant.withdraw_auto_approve_max_fen = threshold
    db.session.commit()


MATERIAL = [
    # text, product index in CATALOGUE (or None), its pictures as (product index, photo number)
    ("云南普洱熟茶饼，越陈越香。冬天来一壶，暖身又暖心。", 0, [(0, 0), (0, 1)]),
    ("店铺上新：宁夏特级枸杞、有机五常大米，欢迎来逛。", None, [(3, 0)]),
]


def _seed_posters_and_material() -> None:
    """The default poster template (version 1) and two promo material items."""

    active_template_row()
    if db.session.scalar(select(func.count()).select_from(PromoMaterial)):
        return
    products = db.session.scalars(select(Product).order_by(Product.id)).all()
    for text, product_index, pictures in MATERIAL:
        product_id = products[product_index].id if product_index is not None else None
        add_material(
            text,
            [_picture(products[p], n) for p, n in pictures],
            product_id,
            publish_at=now() - timedelta(hours=1),
        )


def _picture(product: Product, n: int) -> bytes:
    """A product's photo for material; drawn afresh if the shop holds fewer photos of it."""
    if len(product.photos) > n:
        return product.photos[n].data
    demo = next(d for d in CATALOGUE if d.title == product.title)
    return draw_product_photo(demo.kind, demo.palettes[0], n, PHOTO_SIZE, demo.label)
