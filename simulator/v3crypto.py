"""WeChat Pay APIv3's cryptography, written from the protocol with `cryptography` alone.

Deliberately independent of wechatpayv3 (the SDK the app uses), so the interop tests check one
implementation against another.

- Request signature (the merchant signs, WeChat verifies): SHA256withRSA (PKCS#1 v1.5) over
  `METHOD\\nURL\\ntimestamp\\nnonce_str\\nbody\\n` (URL = absolute path with the query string, as
  sent; body empty for GET), carried in
  `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",
  serial_no="…"` (serial_no: the merchant API certificate's serial).
- Answer and notify signature (WeChat signs with the platform key, the merchant verifies): the same
  algorithm over `timestamp\\nnonce\\nbody\\n` (body empty for 204), in the headers
  Wechatpay-Timestamp, Wechatpay-Nonce, Wechatpay-Signature, Wechatpay-Serial (the platform public
  key id `PUB_KEY_ID_…`, or the platform certificate's serial) and Wechatpay-Signature-Type.
- Notify resources and downloaded certificates: AEAD_AES_256_GCM under the merchant's APIv3 key
  (32 bytes, used as its UTF-8 bytes), nonce = the 12-character string's bytes, the result is
  base64(ciphertext | 16-byte tag).
- Sensitive fields (transfer `user_name`): RSA-OAEP (SHA-1, MGF1-SHA-1), the platform public key.
- JSAPI `paySign`: SHA256withRSA with the merchant key over
  `appId\\ntimeStamp\\nnonceStr\\npackage\\n`.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
import string
import time

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

SCHEME = "WECHATPAY2-SHA256-RSA2048"
ALNUM = string.ascii_letters + string.digits
_AUTH_PARAM = re.compile(r'\s*([a-z_]+)="([^"]*)"\s*(?:,|$)')


class V3CryptoError(ValueError):
    """Something that does not parse, decrypt or load."""


def nonce(length: int = 32) -> str:
    return "".join(secrets.choice(ALNUM) for _ in range(length))


# -- keys -----------------------------------------------------------------------------------------
def generate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_private_key(text: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(_pem(text, "PRIVATE KEY"), password=None)
    except ValueError as e:
        raise V3CryptoError(f"not a PEM private key: {e}") from e
    if not isinstance(key, rsa.RSAPrivateKey):
        raise V3CryptoError("not an RSA private key")
    return key


def load_public(text: str) -> tuple[rsa.RSAPublicKey, str | None]:
    """A PEM public key or certificate (or a bare base64 public key) -> (key, cert serial or None).

    The merchant may configure its API certificate (apiclient_cert.pem, which names the serial)
    or just the public key of the pair.
    """
    text = text.strip()
    try:
        if "CERTIFICATE" in text:
            cert = x509.load_pem_x509_certificate(text.encode())
            key, serial = cert.public_key(), format(cert.serial_number, "X")
        else:
            key, serial = serialization.load_pem_public_key(_pem(text, "PUBLIC KEY")), None
    except ValueError as e:
        raise V3CryptoError(f"not a PEM public key or certificate: {e}") from e
    if not isinstance(key, rsa.RSAPublicKey):
        raise V3CryptoError("not an RSA key")
    return key, serial


def _pem(text: str, label: str) -> bytes:
    text = text.strip()
    if not text.startswith("-----BEGIN"):
        text = f"-----BEGIN {label}-----\n{text}\n-----END {label}-----"
    return text.encode()


def self_signed_certificate(key: rsa.RSAPrivateKey, serial: int, days: int = 1825) -> str:
    """A platform certificate for the certificate mode (WeChat's are CA-issued; nobody checks)."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tenpay.com (simulated)"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA (simulated)"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# -- signatures -----------------------------------------------------------------------------------
def sign(key: rsa.RSAPrivateKey, message: str) -> str:
    raw = key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode()


def verify(key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (ValueError, InvalidSignature):
        return False
    return True


def request_message(method: str, url: str, timestamp: str, nonce_str: str, body: str) -> str:
    return f"{method}\n{url}\n{timestamp}\n{nonce_str}\n{body}\n"


def answer_message(timestamp: str, nonce_str: str, body: str) -> str:
    return f"{timestamp}\n{nonce_str}\n{body}\n"


def pay_sign_message(app_id: str, time_stamp: str, nonce_str: str, package: str) -> str:
    return f"{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n"


def parse_authorization(header: str) -> dict[str, str]:
    """The Authorization header's parameters; V3CryptoError when it is not APIv3's form."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme != SCHEME:
        raise V3CryptoError(f"the scheme must be {SCHEME}")
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _AUTH_PARAM.match(rest, position)
        if not match:
            raise V3CryptoError('Authorization is not key="value" pairs')
        params[match.group(1)] = match.group(2)
        position = match.end()
    missing = [
        k for k in ("mchid", "nonce_str", "signature", "timestamp", "serial_no") if k not in params
    ]
    if missing:
        raise V3CryptoError(f"Authorization lacks {', '.join(missing)}")
    return params


def answer_headers(key: rsa.RSAPrivateKey, serial: str, body: str) -> dict[str, str]:
    """The headers that sign an answer or a notify."""
    timestamp, nonce_str = str(int(time.time())), nonce(32)
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce_str,
        "Wechatpay-Signature": sign(key, answer_message(timestamp, nonce_str, body)),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SCHEME,
    }


# -- AEAD_AES_256_GCM and RSA-OAEP ---------------------------------------------------------------
def aead_encrypt(apiv3_key: str, plaintext: str, associated_data: str = "") -> dict[str, str]:
    """A `resource` (or `encrypt_certificate`): algorithm, ciphertext, nonce, associated_data."""
    nonce_str = nonce(12)
    data = AESGCM(_aes_key(apiv3_key)).encrypt(
        nonce_str.encode(), plaintext.encode("utf-8"), associated_data.encode()
    )
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(data).decode(),
        "associated_data": associated_data,
        "nonce": nonce_str,
    }


def aead_decrypt(apiv3_key: str, nonce_str: str, ciphertext: str, associated_data: str = "") -> str:
    try:
        data = AESGCM(_aes_key(apiv3_key)).decrypt(
            nonce_str.encode(), base64.b64decode(ciphertext), associated_data.encode()
        )
    except (InvalidTag, ValueError) as e:
        raise V3CryptoError("the resource does not decrypt") from e
    return data.decode("utf-8")


def _aes_key(apiv3_key: str) -> bytes:
    key = apiv3_key.encode("utf-8")
    if len(key) != 32:
        raise V3CryptoError("the APIv3 key must be 32 bytes")
    return key


_OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)


def oaep_encrypt(key: rsa.RSAPublicKey, text: str) -> str:
    return base64.b64encode(key.encrypt(text.encode("utf-8"), _OAEP)).decode()


def oaep_decrypt(key: rsa.RSAPrivateKey, ciphertext: str) -> str:
    try:
        return key.decrypt(base64.b64decode(ciphertext, validate=True), _OAEP).decode("utf-8")
    except ValueError as e:
        raise V3CryptoError("the field does not decrypt with the platform key") from e
