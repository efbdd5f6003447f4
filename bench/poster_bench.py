"""Posters: a fresh render on the prepared-template path beside a naive render of the same poster,
measured in the same run on the same font, template and contents.

The naive render is the obvious implementation: fonts loaded on every call, `qrcode.make` fitting
the QR's version and mask itself, and the background, decoration and masks composed from scratch.
Every render has distinct content (nickname, QR link, avatar), as a flood of distributors would.

Also measured: a cache hit, the whole service call that answers `海报 <keyword>` with a poster
already rendered and uploaded (SQLite and an embedded Redis, started here).

Prints medians and p95s, the ratio naive/fresh, posters per second with 2 worker processes, and a
PASS/FAIL line per goal; exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import random
import statistics
import string
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import qrcode
from PIL import Image, ImageDraw, ImageFilter, ImageOps
from PIL import ImageFont as PILImageFont

from render import fonts
from render.compose import JPEG_OPTIONS, PosterContent, render_poster
from render.design import PosterDesign, default_design

GOAL_MEDIAN_MS = 12.0
GOAL_RATIO = 3.0
GOAL_CACHE_HIT_MS = 2.0
GOAL_PER_SECOND = 150.0
WORKERS = 2
TITLES = (
    "新疆阿克苏冰糖心苹果 5 斤装，当季现摘，脆甜多汁，产地直发",
    "Apple iPhone 15 Pro Max 256GB 原色钛金属 支持移动联通电信5G 双卡双待手机",
    "云南古树普洱茶饼 357 克",
    "手工真丝围巾 桑蚕丝 春秋季百搭 送礼佳品 多色可选",
    "家用大容量空气炸锅 无油低脂 智能触屏",
)


def cache_hits(n: int) -> list[float]:
    """The whole service call behind `海报 <keyword>` when the poster is cached and its media_id
    valid (services.posters.request_poster: distributor, product and poster look-ups), on the
    app with a SQLite database and an embedded Redis of its own."""
    import tempfile

    from flask_migrate import upgrade

    from infra.redis_server import EmbeddedRedis
    from models import db
    from services import posters
    from tests.factories import make_distributor, make_product
    from web import create_app

    folder = Path(tempfile.mkdtemp(prefix="fx-poster-bench-"))
    redis_server = EmbeddedRedis(folder / "redis").start()
    app = create_app(
        {
            "FENXIAO_MODE": "test",
            "INSTANCE_PATH": str(folder),
            "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
            "REDIS_URL": redis_server.url,
        }
    )
    try:
        with app.app_context():
            upgrade()
            distributor = make_distributor(nickname="缓存测试")
            product = make_product(price_fen=12_800, title="云南古树普洱茶饼 357 克")
            distributor_id = distributor.id
            ready = posters.ensure_poster(distributor_id, product.id, upload=False)
            posters.store_media(ready.id, "bench-media-id")
            db.session.remove()
            answers = set()

            def ask(_i):
                answer = posters.request_poster(distributor_id, "普洱")
                answers.add((answer.kind, answer.media_id))

            for i in range(20):
                ask(i)
            samples = timed(ask, range(n))
            if answers != {("image", "bench-media-id")}:
                raise SystemExit(f"the cache-hit path answered {answers}, not the cached image")
            db.session.remove()
            db.engine.dispose()
            return samples
    finally:
        import shutil

        redis_server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def jpeg(image: Image.Image, quality: int = 88) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def photo(size: int, seed: int) -> bytes:
    """A photo-like JPEG: a tinted gradient with shapes and a little noise."""
    rng = random.Random(seed)
    tint = tuple(rng.randrange(60, 230) for _ in range(3))
    image = Image.linear_gradient("L").resize((size, size)).convert("RGB")
    image = Image.blend(image, Image.new("RGB", (size, size), tint), 0.6)
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y, r = rng.randrange(size), rng.randrange(size), rng.randrange(size // 10, size // 3)
        draw.ellipse((x - r, y - r, x + r, y + r), tuple(rng.randrange(256) for _ in range(3)))
    noise = Image.effect_noise((size, size), 12).convert("RGB")
    return jpeg(Image.blend(image.filter(ImageFilter.GaussianBlur(2)), noise, 0.08))


def contents(count: int, seed: int, distinct_products: bool = False) -> list[PosterContent]:
    """Distinct posters, half invites (WeChat QR links), half products (shop links)."""
    rng = random.Random(seed)
    avatars = [photo(132, seed * 1000 + i) for i in range(16)]  # WeChat's 132 px avatars
    products = [photo(800, seed * 1000 + 500 + i) for i in range(len(TITLES))]
    out = []
    for i in range(count):
        code = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(8))
        common = {
            "nickname": f"分销员{code[:4]}的小店",
            "invitation": "邀请你一起来逛逛",
            "avatar": avatars[i % len(avatars)],
        }
        if i % 2 == 0:
            ticket = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(22))
            out.append(
                PosterContent("invite", qr_content=f"http://weixin.qq.com/q/02{ticket}", **common)
            )
        else:
            n = i // 2 % len(TITLES)
            image = photo(800, seed * 1000 + 900 + i) if distinct_products else products[n]
            out.append(
                PosterContent(
                    "product",
                    qr_content=f"https://shop.example.com/p/{1000 + n}?d={code}",
                    product_title=TITLES[n],
                    price_fen=rng.randrange(100, 1_000_000),
                    product_image=image,
                    **common,
                )
            )
    return out


# ---------------------------------------------------------------- the naive baseline


def naive_render(
    template: PosterDesign, content: PosterContent, font_path: str, index: int
) -> bytes:
    """The same poster drawn the obvious way: nothing kept between calls."""
    layout = template.layouts[content.kind]
    el = layout.elements

    def font(size: int, bold: bool = False) -> PILImageFont.FreeTypeFont:
        path = fonts.bold_variant(font_path) if bold else font_path
        return PILImageFont.truetype(path, size, index=index)

    colors = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in template.background.colors]
    poster = Image.new("RGBA", (750, 1334), colors[0])
    draw = ImageDraw.Draw(poster)
    if len(colors) > 1:
        for y in range(1334):
            at = y / 1333 * (len(colors) - 1)
            i = min(int(at), len(colors) - 2)
            t = at - i
            row = tuple(
                round(a + (b - a) * t) for a, b in zip(colors[i], colors[i + 1], strict=True)
            )
            draw.line((0, y, 749, y), row)
    for decor in layout.decor:
        b = decor.box
        alpha = int(decor.color[7:9], 16) if len(decor.color) == 9 else 255
        rgba = (*(int(decor.color[i : i + 2], 16) for i in (1, 3, 5)), alpha)
        overlay = Image.new("RGBA", poster.size, (0, 0, 0, 0))
        odraw = ImageDraw.Draw(overlay)
        if decor.shape == "rect":
            if decor.shadow:
                shadow = Image.new("RGBA", poster.size, (0, 0, 0, 0))
                ImageDraw.Draw(shadow).rounded_rectangle(
                    (b.x, b.y + 9, b.x + b.w, b.y + b.h + 9), decor.radius, (90, 20, 0, 60)
                )
                poster.alpha_composite(shadow.filter(ImageFilter.GaussianBlur(decor.shadow)))
            odraw.rounded_rectangle((b.x, b.y, b.x + b.w, b.y + b.h), decor.radius, rgba)
        elif decor.shape == "circle":
            odraw.ellipse((b.x, b.y, b.x + b.w, b.y + b.h), rgba)
        else:
            f = font(decor.size, decor.bold)
            odraw.text((b.x + b.w // 2, b.y + b.h // 2), decor.text, rgba, f, "mm")
        poster.alpha_composite(overlay)
    draw = ImageDraw.Draw(poster)

    a = el["avatar"]
    ring = (
        a.box.x - a.border,
        a.box.y - a.border,
        a.box.x + a.box.w + a.border,
        a.box.y + a.box.h + a.border,
    )
    draw.ellipse(ring, a.border_color)
    avatar = (
        Image.open(io.BytesIO(content.avatar)).convert("RGB")
        if content.avatar
        else Image.new("RGB", (a.box.w, a.box.h), (200, 200, 200))
    )
    avatar = ImageOps.fit(avatar, (a.box.w, a.box.h))
    mask = Image.new("L", (a.box.w * 4, a.box.h * 4), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, a.box.w * 4, a.box.h * 4), 255)
    poster.paste(avatar, (a.box.x, a.box.y), mask.resize((a.box.w, a.box.h), Image.LANCZOS))

    def line(name: str, text: str) -> None:
        e = el[name]
        f = font(e.size, e.bold)
        while text and f.getlength(text) > e.box.w:
            text = text[:-2] + "…"
        x = {"left": e.box.x, "center": e.box.x + e.box.w // 2, "right": e.box.x + e.box.w}[e.align]
        draw.text(
            (x, e.box.y + e.box.h // 2),
            text,
            e.color,
            f,
            {"left": "lm", "center": "mm", "right": "rm"}[e.align],
        )

    line("nickname", content.nickname)
    line("invitation", content.invitation)
    line("caption", content.caption)

    q = el["qr"]
    draw.rectangle(
        (q.box.x, q.box.y, q.box.x + q.box.w, q.box.y + q.box.h), q.background or "#FFFFFF"
    )
    code = qrcode.make(content.qr_content).get_image().convert("RGB")
    side = min(q.box.w, q.box.h)
    poster.paste(code.resize((side, side), Image.NEAREST), (q.box.x, q.box.y))

    if content.kind == "product":
        p = el["product_image"]
        picture = ImageOps.fit(
            Image.open(io.BytesIO(content.product_image)).convert("RGB"), (p.box.w, p.box.h)
        )
        pmask = Image.new("L", (p.box.w, p.box.h), 0)
        ImageDraw.Draw(pmask).rounded_rectangle((0, 0, p.box.w, p.box.h), p.radius, 255)
        poster.paste(picture, (p.box.x, p.box.y), pmask)
        t = el["title"]
        f = font(t.size, t.bold)
        lines, current = [], ""
        for ch in content.product_title or "":
            if f.getlength(current + ch) > t.box.w:
                lines.append(current)
                current = ""
            current += ch
        lines.append(current)
        if len(lines) > t.max_lines:
            lines = lines[: t.max_lines]
            lines[-1] = lines[-1][:-1] + "…"
        for i, text in enumerate(lines):
            draw.text((t.box.x, t.box.y + i * t.box.h // t.max_lines), text, t.color, f)
        pr_ = el["price"]
        draw.text(
            (pr_.box.x, pr_.box.y),
            f"¥{content.price_fen / 100:.2f}",
            pr_.color,
            font(pr_.size, pr_.bold),
        )

    out = io.BytesIO()
    poster.convert("RGB").save(out, "JPEG", **JPEG_OPTIONS)
    return out.getvalue()


# ---------------------------------------------------------------- measuring


def timed(fn, items) -> list[float]:
    samples = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        samples.append(time.perf_counter() - t0)
    return samples


def line(label: str, samples: list[float], note: str) -> None:
    print(
        f"{label:<34} median {statistics.median(samples) * 1e3:7.2f} ms   "
        f"p95 {percentile(samples, 0.95) * 1e3:7.2f} ms   (n={len(samples)}, {note})"
    )


def throughput_worker(seed: int, count: int, font_path: str, barrier, results) -> None:
    template = default_design()
    batch = contents(count, seed)
    for content in batch[:4]:  # prepare the template and fill the product-image cache
        render_poster(template, content, font_path)
    barrier.wait()
    cpu = time.process_time()
    for content in batch:
        render_poster(template, content, font_path)
    results.put((count, time.process_time() - cpu))


def throughput(count: int, font_path: str) -> tuple[float, float]:
    """Posters per second from WORKERS processes rendering distinct posters at once, by the wall
    clock and by the CPU time the processes got (the second ignores other load on the machine)."""
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(WORKERS + 1), ctx.Queue()
    procs = [
        ctx.Process(target=throughput_worker, args=(100 + n, count, font_path, barrier, results))
        for n in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=120)
    t0 = time.perf_counter()
    reports = [results.get(timeout=600) for _ in procs]
    seconds = time.perf_counter() - t0
    for proc in procs:
        proc.join(30)
    done = sum(n for n, _ in reports)
    return done / seconds, sum(n / cpu for n, cpu in reports)


def verdict(ok: bool, text: str) -> bool:
    print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer renders, for a smoke run")
    args = parser.parse_args()
    naive_n, fresh_n, burst = (20, 100, 150) if args.quick else (100, 600, 1000)

    font_path = fonts.find_cjk_font()
    fonts.check_cjk_coverage(font_path)
    index = fonts.face_index(font_path)
    template = default_design()
    warm = contents(8, seed=1)
    for content in warm:  # imports, the prepared template, the product-image cache
        render_poster(template, content, font_path)
        naive_render(template, content, font_path, index)

    naive_items = contents(naive_n, seed=2)
    fresh_items = contents(fresh_n, seed=3)
    naive = timed(lambda c: naive_render(template, c, font_path, index), naive_items)
    fresh = timed(lambda c: render_poster(template, c, font_path), fresh_items)
    invites = [s for s, c in zip(fresh, fresh_items, strict=True) if c.kind == "invite"]
    products = [s for s, c in zip(fresh, fresh_items, strict=True) if c.kind == "product"]
    unseen_items = contents(min(fresh_n, 100), seed=4, distinct_products=True)[1::2]
    unseen = timed(lambda c: render_poster(template, c, font_path), unseen_items)
    sizes = [len(render_poster(template, c, font_path)) for c in fresh_items[:20]]

    hits = cache_hits(200 if args.quick else 1000)

    line("naive render", naive, "baseline: nothing kept")
    line("fresh render, prepared template", fresh, "invite + product")
    line("  invite posters", invites, "fresh")
    line("  product posters", products, "product image seen before")
    line("  product, never-seen 800px image", unseen, "decode + fit per poster")
    line("cache hit: `海报 <keyword>` answered", hits, "request_poster, SQLite + Redis")
    ratio = statistics.median(naive) / statistics.median(fresh)
    print(f"ratio naive/fresh                  {ratio:7.1f}x")
    print(
        f"poster size                        {statistics.median(sizes) / 1024:7.0f} KB median, "
        f"{max(sizes) / 1024:.0f} KB max"
    )
    load = os.getloadavg()[0]
    per_second, per_cpu_second = throughput(burst, font_path)
    print(
        f"throughput                         {per_second:7.0f} posters/s "
        f"({WORKERS} processes x {burst} distinct posters, wall clock)"
    )
    print(
        f"                                   {per_cpu_second:7.0f} posters/s "
        f"by CPU time ({WORKERS} x posters per CPU-second of each process)"
    )
    print(
        f"machine load before the burst      {load:7.2f} (1-minute average, {os.cpu_count()} CPUs)"
    )

    results = [
        verdict(
            statistics.median(fresh) * 1e3 <= GOAL_MEDIAN_MS,
            f"median fresh render <= {GOAL_MEDIAN_MS:g} ms",
        ),
        verdict(
            statistics.median(products) * 1e3 <= GOAL_MEDIAN_MS,
            f"median fresh product render <= {GOAL_MEDIAN_MS:g} ms",
        ),
        verdict(ratio >= GOAL_RATIO, f"fresh render >= {GOAL_RATIO:g}x faster than naive"),
        verdict(
            statistics.median(hits) * 1e3 <= GOAL_CACHE_HIT_MS,
            f"median cache hit <= {GOAL_CACHE_HIT_MS:g} ms",
        ),
        verdict(
            per_second >= GOAL_PER_SECOND,
            f">= {GOAL_PER_SECOND:g} posters/s with {WORKERS} processes",
        ),
        verdict(max(sizes) <= 300 * 1024, "every poster <= 300 KB"),
    ]
    if not all(results):
        sys.exit(1)


if __name__ == "__main__":
    main()
