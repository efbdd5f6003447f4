"""The poster's QR code, made at an explicitly chosen version and mask.

`qrcode` left to itself fits the version (trial encodings) and picks the "best" of 8 masks by
encoding with each: about 8 ms per poster. The smallest version that holds the bytes is computed
from the capacity table instead, and any fixed mask scans, so neither is searched for.
"""

from __future__ import annotations

import qrcode
import qrcode.util
from PIL import Image

from render.design import Element, rgba

QR_MASK = 0  # any fixed mask scans; choosing the "best" one costs 8 trial encodings
QR_QUIET_MODULES = 2  # the white QR panel around it adds to the quiet zone
_DARK_TO_OPAQUE = bytes([0, 255]) + bytes(254)


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR modules for `text` (byte mode, error correction M, smallest version, fixed mask)."""
    data = text.encode("utf-8")
    code = qrcode.QRCode(
        version=qr_version(len(data)),
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=0,
        mask_pattern=QR_MASK,
    )
    code.add_data(qrcode.util.QRData(data, mode=qrcode.util.MODE_8BIT_BYTE))
    code.make(fit=False)
    return code.modules  # type: ignore[return-value]


def qr_version(byte_count: int) -> int:
    """The smallest QR version holding `byte_count` bytes in byte mode at error correction M."""
    limits = qrcode.util.BIT_LIMIT_TABLE[qrcode.constants.ERROR_CORRECT_M]
    for version in range(1, 41):
        length_bits = 8 if version < 10 else 16
        if 4 + length_bits + 8 * byte_count <= limits[version]:
            return version
    raise ValueError(f"QR content of {byte_count} bytes is too long for a QR code")


def paste_qr(image: Image.Image, element: Element, text: str) -> None:
    """The QR, drawn as whole pixels per module, centred in the element's box."""
    matrix = qr_matrix(text)
    n = len(matrix)
    box = element.box
    module = min(box.w, box.h) // (n + 2 * QR_QUIET_MODULES)
    if module < 2:
        raise ValueError(f"QR box {box.w}x{box.h} is too small for {len(text.encode())} bytes")
    side = n * module
    x, y = box.x + (box.w - side) // 2, box.y + (box.h - side) // 2
    raw = b"".join(map(bytes, matrix))  # 1 = dark module, 0 = light
    if element.background:  # a two-colour picture pasted whole: 3x cheaper than a masked fill
        code = Image.frombytes("P", (n, n), raw)
        code.putpalette(rgba(element.background)[:3] + rgba(element.color)[:3])
        image.paste(code.resize((side, side), Image.Resampling.NEAREST).convert("RGB"), (x, y))
    else:  # dark modules straight onto the design's background
        mask = Image.frombytes("L", (n, n), raw.translate(_DARK_TO_OPAQUE))
        image.paste(
            rgba(element.color)[:3],
            (x, y, x + side, y + side),
            mask.resize((side, side), Image.Resampling.NEAREST),
        )
