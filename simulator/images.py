"""Pictures: users' avatars, QR code images, reading a QR code out of a picture, sniffing types."""

from __future__ import annotations

import hashlib
import io

import qrcode
from PIL import Image, ImageDraw

AVATAR_SIZE = 132  # WeChat's headimgurl "/132" size
GRID = 5


def avatar_png(openid: str) -> bytes:
    """A symmetric identicon from the openid: no font needed, and stable across restarts."""
    digest = hashlib.sha256(openid.encode()).digest()
    colour = (digest[0] // 2 + 64, digest[1] // 2 + 64, digest[2] // 2 + 64)
    image = Image.new("RGB", (AVATAR_SIZE, AVATAR_SIZE), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    cell, margin = 22, (AVATAR_SIZE - 22 * GRID) // 2
    for row in range(GRID):
        for col in range((GRID + 1) // 2):
            if digest[3 + row * 3 + col] % 2:
                for c in {col, GRID - 1 - col}:
                    x, y = margin + c * cell, margin + row * cell
                    draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=colour)
    return to_png(image)


def qr_png(text: str) -> bytes:
    return to_png(qrcode.make(text, box_size=8, border=2).get_image().convert("RGB"))


def to_png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def decode_qr(data: bytes) -> str | None:
    """The text of the first QR code in the picture, or None (zxing-cpp reads posters well)."""
    import zxingcpp  # late: only the scan driver needs it

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception:
        return None
    for result in zxingcpp.read_barcodes(image.convert("RGB")):
        if result.format == zxingcpp.BarcodeFormat.QRCode and result.text:
            return result.text
    return None


def sniff(data: bytes) -> str | None:
    """The real image type from the magic bytes: WeChat does not trust file names."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data.startswith(b"BM"):
        return "bmp"
    return None
