"""What WeChat sends, built independently of wechatpy: signed (and encrypted) webhook requests.

Layouts from 「消息加解密说明」: signature = sha1(sorted(token, timestamp, nonce)); safe mode
adds msg_signature = sha1(sorted(token, timestamp, nonce, Encrypt)) and an AES-256-CBC body whose
plaintext is 16 random bytes, a 4-byte big-endian length, the XML and the AppId, padded PKCS#7
to a multiple of 32 bytes, with the key = base64(EncodingAESKey + "=") and IV = key[:16].
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import struct
import time
from urllib.parse import urlencode

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from demo_identity import DEMO_WECHAT

TOKEN = DEMO_WECHAT["WECHAT_TOKEN"]
APPID = DEMO_WECHAT["WECHAT_APPID"]
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat issues
OFFICIAL = "gh_fenxiaodemo"
_msgids = itertools.count(int(time.time() * 1000))


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def aes_key(encoding_aes_key: str = AES_KEY) -> bytes:
    return base64.b64decode(encoding_aes_key + "=")


def encrypt(xml: str, random16: bytes | None = None, appid: str = APPID, key: bytes | None = None):
    key = key or aes_key()
    body = xml.encode()
    plain = (random16 or os.urandom(16)) + struct.pack(">I", len(body)) + body + appid.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def decrypt(encrypted: str, key: bytes | None = None) -> tuple[str, str]:
    """(xml, appid) from an Encrypt value."""
    key = key or aes_key()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20 : 20 + length].decode(), plain[20 + length :].decode()


def text_xml(openid: str, content: str, msgid: int | None = None, at: int | None = None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{OFFICIAL}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{at or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msgid or next(_msgids)}</MsgId></xml>"
    )


def event_xml(
    openid: str, event: str, key: str | None = None, at: int | None = None, extra: str = ""
) -> str:
    key_xml = f"<EventKey><![CDATA[{key}]]></EventKey>" if key is not None else ""
    return (
        f"<xml><ToUserName><![CDATA[{OFFICIAL}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{at or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{key_xml}{extra}</xml>"
    )


def signed_query(
    token: str = TOKEN, timestamp: str | None = None, nonce: str = "n0nce", **extra
) -> dict:
    timestamp = timestamp or str(int(time.time()))
    return {
        "signature": sha1_signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        **extra,
    }


def plain_request(xml: str, **query) -> tuple[str, bytes]:
    return "/wechat?" + urlencode(signed_query(**query)), xml.encode()


def safe_request(xml: str, timestamp: str | None = None, nonce: str = "n0nce"):
    timestamp = timestamp or str(int(time.time()))
    encrypted = encrypt(xml)
    signature = sha1_signature(TOKEN, timestamp, nonce, encrypted)
    query = signed_query(
        timestamp=timestamp, nonce=nonce, encrypt_type="aes", msg_signature=signature
    )
    body = (
        f"<xml><ToUserName><![CDATA[{OFFICIAL}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    return "/wechat?" + urlencode(query), body.encode()


def deliver_at_once(app, url: str, body: bytes, times: int = 3) -> list[bytes]:
    """The same signed request POSTed `times` times at once, as WeChat's retries can overlap;
    the answers, in the order they came back."""
    import threading

    answers: list[bytes] = []
    start = threading.Barrier(times)

    def deliver():
        start.wait()
        answers.append(app.test_client().post(url, data=body).data)

    threads = [threading.Thread(target=deliver) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers
