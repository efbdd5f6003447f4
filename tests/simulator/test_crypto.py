"""The simulator's own crypto: fixed vectors, and interop with wechatpy in both directions."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.pay.utils import calculate_signature

from simulator import crypto

from .conftest import AES_KEY, APPID, TOKEN

XML = "<xml><Content><![CDATA[你好]]></Content></xml>"
PREFIX = b"0123456789abcdef"
# Computed once with `openssl enc -aes-256-cbc -nopad` over the layout built by hand below.
EXPECTED = (
    "Q3stYC6hdFzMh9T8HCvyDMwQK6xyeRZ7UnuZsYfP7/6Yf0piNuk7kxZYuxJFeZQQ6WWSSAGv9ZFJIKURndrGs2fBC"
    "zml/yFh4FECLfSWnqqfKXV8D7oz5Qb10vFkIJY2"
)


def hand_built_plaintext() -> bytes:
    body = XML.encode()  # 48 bytes: the Chinese is 6 bytes of UTF-8
    plain = PREFIX + b"\x00\x00\x00\x30" + body + APPID.encode()  # 16 + 4 + 48 + 18 = 86
    return plain + bytes([10]) * 10  # PKCS#7 to 96, a multiple of 32: ten bytes of 0x0a


def test_signature_is_sha1_of_the_sorted_parts():
    expected = hashlib.sha1("".join(sorted([TOKEN, "1409304348", "xxxxxx"])).encode()).hexdigest()
    assert crypto.signature(TOKEN, "1409304348", "xxxxxx") == expected
    assert crypto.signature("b", "a", "c") == hashlib.sha1(b"abc").hexdigest()


def test_encrypt_matches_the_fixed_vector_and_the_hand_built_layout():
    assert len(XML.encode()) == 48 and len(hand_built_plaintext()) == 96
    key = base64.b64decode(AES_KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    by_hand = encryptor.update(hand_built_plaintext()) + encryptor.finalize()
    assert base64.b64encode(by_hand).decode() == EXPECTED
    assert crypto.encrypt(AES_KEY, APPID, XML, prefix=PREFIX) == EXPECTED


def test_decrypt_the_fixed_vector():
    assert crypto.decrypt(AES_KEY, APPID, EXPECTED) == XML


def test_padding_adds_a_whole_block_when_already_aligned():
    assert crypto.pkcs7_pad(b"x" * 32) == b"x" * 32 + bytes([32]) * 32
    assert crypto.pkcs7_unpad(crypto.pkcs7_pad(b"abc")) == b"abc"


def test_wechatpy_decrypts_what_the_simulator_encrypts():
    encrypted = crypto.encrypt(AES_KEY, APPID, XML)
    key = base64.b64decode(AES_KEY + "=")
    assert PrpCrypto(key).decrypt(encrypted, APPID) == XML


def test_the_simulator_decrypts_what_wechatpy_encrypts():
    envelope = WeChatCrypto(TOKEN, AES_KEY, APPID).encrypt_message(XML, "nonce1", "1700000000")
    encrypted = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    assert signature == crypto.signature(TOKEN, "1700000000", "nonce1", encrypted)
    assert crypto.decrypt(AES_KEY, APPID, encrypted) == XML


def test_decrypt_refuses_another_appid_and_garbage():
    encrypted = crypto.encrypt(AES_KEY, "wxsomeoneelse000000", XML)
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(AES_KEY, APPID, encrypted)
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(AES_KEY, APPID, "not base64!")
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(AES_KEY, APPID, base64.b64encode(b"x" * 15).decode())


def test_length_prefix_is_big_endian():
    key = base64.b64decode(AES_KEY + "=")
    raw = base64.b64decode(crypto.encrypt(AES_KEY, APPID, XML))
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(raw) + decryptor.finalize()
    assert struct.unpack(">I", plain[16:20]) == (48,)


def test_pay_sign_agrees_with_wechatpy():
    params = {
        "appid": APPID,
        "mch_id": "1900000109",
        "nonce_str": "abc",
        "body": "测试",
        "total_fee": "100",
        "empty": "",
        "sign": "ignored",
    }
    without_sign = {k: v for k, v in params.items() if k != "sign"}
    assert crypto.pay_sign(params, "key123") == calculate_signature(without_sign, "key123")
    text = "appid=" + APPID + "&body=测试&mch_id=1900000109&nonce_str=abc&total_fee=100&key=key123"
    assert crypto.pay_sign(params, "key123") == hashlib.md5(text.encode()).hexdigest().upper()
