"""WeChat's message signatures, safe-mode AES and Pay v2 signatures, written from the protocol.

Deliberately independent of wechatpy: the bot uses wechatpy, so checking it against a second
implementation is what makes the interop tests mean something.

Safe mode (消息加解密): key = base64decode(EncodingAESKey + "="), 32 bytes; IV = key[:16];
AES-256-CBC over  16 random bytes | 4-byte big-endian XML length | XML | AppId, PKCS#7-padded to a
multiple of 32 bytes (WeChat's block size for padding, not AES's 16); the result is base64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PAD_BLOCK = 32


class CryptoError(ValueError):
    """A payload that does not decrypt, pad or name the right AppId."""


def signature(*parts: str) -> str:
    """sha1 of the sorted, concatenated parts: `signature` and `msg_signature` alike."""
    return hashlib.sha1("".join(sorted(str(p) for p in parts)).encode()).hexdigest()


def aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise CryptoError("EncodingAESKey must be 43 characters (32 bytes once decoded)")
    return key


def pkcs7_pad(data: bytes, block: int = PAD_BLOCK) -> bytes:
    amount = block - len(data) % block  # 1..block: a full block when already aligned
    return data + bytes([amount]) * amount


def pkcs7_unpad(data: bytes, block: int = PAD_BLOCK) -> bytes:
    amount = data[-1] if data else 0
    if not 1 <= amount <= block or data[-amount:] != bytes([amount]) * amount:
        raise CryptoError("bad padding")
    return data[:-amount]


def _cipher(key: bytes) -> Cipher:
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def encrypt(encoding_aes_key: str, appid: str, xml: str, prefix: bytes | None = None) -> str:
    """The base64 `Encrypt` value for a message; `prefix` fixes the 16 random bytes (tests)."""
    key = aes_key(encoding_aes_key)
    prefix = os.urandom(16) if prefix is None else prefix
    body = xml.encode()
    plain = prefix + struct.pack(">I", len(body)) + body + appid.encode()
    encryptor = _cipher(key).encryptor()
    return base64.b64encode(encryptor.update(pkcs7_pad(plain)) + encryptor.finalize()).decode()


def decrypt(encoding_aes_key: str, appid: str, encrypted: str) -> str:
    """The XML inside an `Encrypt` value; raises CryptoError unless it names `appid`."""
    key = aes_key(encoding_aes_key)
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except ValueError as e:
        raise CryptoError("not base64") from e
    if not raw or len(raw) % 16:
        raise CryptoError("not a whole number of AES blocks")
    decryptor = _cipher(key).decryptor()
    plain = pkcs7_unpad(decryptor.update(raw) + decryptor.finalize())
    if len(plain) < 20:
        raise CryptoError("too short")
    (length,) = struct.unpack(">I", plain[16:20])
    body, tail = plain[20 : 20 + length], plain[20 + length :]
    if len(body) != length or tail != appid.encode():
        raise CryptoError("the AppId does not match")
    return body.decode()


# -- WeChat Pay v2 ---------------------------------------------------------------------------
def pay_sign(params: dict[str, str], api_key: str, sign_type: str = "MD5") -> str:
    """Sorted non-empty key=value pairs (sign excluded), `&key=<api key>`, MD5 (or HMAC-SHA256)."""
    pairs = [
        f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] not in ("", None)
    ]
    text = "&".join([*pairs, f"key={api_key}"]).encode()
    if sign_type == "HMAC-SHA256":
        return hmac.new(api_key.encode(), text, hashlib.sha256).hexdigest().upper()
    return hashlib.md5(text).hexdigest().upper()


def pay_sign_ok(params: dict[str, str], api_key: str) -> bool:
    expected = pay_sign(params, api_key, params.get("sign_type") or "MD5")
    return hmac.compare_digest(params.get("sign", ""), expected)
