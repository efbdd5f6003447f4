"""Signatures and the AES payload, checked against vectors built from the protocol's layout
(「消息加解密说明」), not only round trips through one implementation."""

from __future__ import annotations

import base64
import hashlib
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.crypto import WeChatCrypto

from bot.inbound import signature_ok
from tests.support import wechat as w

XML = "<xml><Content>hi</Content></xml>"
PREFIX = b"0123456789abcdef"
# Computed once from the layout below and frozen: a change to either side breaks the test.
CIPHERTEXT = (
    "Q3stYC6hdFzMh9T8HCvyDCEPX2Akqj/gygI/6v/7fonvwELc/mZ525i/WoR+zYxuTfCG6ndLoEaTsNmp6XPwnFwx/6F5Y"
    "wooraXiLuXg12gVu9sCDMgOEGzH15g5QMNg"
)


def test_the_signature_is_sha1_of_the_sorted_parts():
    expected = hashlib.sha1(b"1700000000abc123fenxiao-demo-token").hexdigest()
    assert expected == "0dd91572c930fd6c8b1077ea1f184bc54e62ad57"
    assert signature_ok("fenxiao-demo-token", expected, "1700000000", "abc123")
    assert not signature_ok("fenxiao-demo-token", expected, "1700000001", "abc123")
    assert not signature_ok("fenxiao-demo-token", "", "1700000000", "abc123")


def test_the_msg_signature_includes_the_encrypted_payload():
    parts = sorted(["fenxiao-demo-token", "1700000000", "abc123", CIPHERTEXT])
    assert w.sha1_signature("fenxiao-demo-token", "1700000000", "abc123", CIPHERTEXT) == (
        hashlib.sha1("".join(parts).encode()).hexdigest()
    )


def test_the_aes_payload_layout_byte_by_byte():
    key = base64.b64decode(w.AES_KEY + "=")
    assert len(key) == 32
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(CIPHERTEXT)) + decryptor.finalize()
    body = XML.encode()
    assert plain[:16] == PREFIX
    assert plain[16:20] == struct.pack(">I", len(body)) == b"\x00\x00\x00\x20"
    assert plain[20 : 20 + len(body)] == body
    appid_end = 20 + len(body) + len(w.APPID)
    assert plain[20 + len(body) : appid_end] == w.APPID.encode()
    pad = plain[-1]
    assert len(plain) % 32 == 0 and plain[appid_end:] == bytes([pad]) * pad


def test_our_independent_encryption_matches_the_frozen_vector():
    assert w.encrypt(XML, random16=PREFIX) == CIPHERTEXT


def test_wechatpy_decrypts_the_vector_and_the_bot_encrypts_what_we_can_read():
    crypto = WeChatCrypto(w.TOKEN, w.AES_KEY, w.APPID)
    signature = w.sha1_signature(w.TOKEN, "1700000000", "abc123", CIPHERTEXT)
    envelope = {"Encrypt": CIPHERTEXT}
    assert crypto.decrypt_message(envelope, signature, "1700000000", "abc123") == XML
    reply = crypto.encrypt_message("<xml><Content>ok</Content></xml>", "abc123", "1700000000")
    from defusedxml import ElementTree as SafeET

    encrypted = SafeET.fromstring(reply).findtext("Encrypt")
    assert w.decrypt(encrypted) == ("<xml><Content>ok</Content></xml>", w.APPID)
