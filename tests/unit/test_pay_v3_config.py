"""WeChat Pay APIv3 settings: a half-configured production deployment refuses to start in one
line; one without Pay starts; demo and test make the merchant's keys once per instance."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.config import ConfigError, load_config

BASE = {"WECHAT_TOKEN": "t", "WECHAT_APPID": "wx1", "WECHAT_APPSECRET": "s"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("WECHAT_", "FENXIAO_")) or name in ("PUBLIC_BASE_URL", "SECRET_KEY"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))


@pytest.fixture(scope="module")
def key_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pay-keys")
    merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (folder / "apiclient_key.pem").write_bytes(
        merchant.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (folder / "pub_key.pem").write_bytes(
        platform.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return folder


def full(key_files) -> dict:
    return {
        **BASE,
        "WECHAT_PAY_MCH_ID": "1900000109",
        "WECHAT_PAY_PRIVATE_KEY": str(key_files / "apiclient_key.pem"),
        "WECHAT_PAY_CERT_SERIAL": "5157F09EFDC096DE15EBE81A47057A72",
        "WECHAT_PAY_APIV3_KEY": "0123456789abcdef0123456789abcdef",
        "WECHAT_PAY_PUBLIC_KEY": str(key_files / "pub_key.pem"),
        "WECHAT_PAY_PUBLIC_KEY_ID": "PUB_KEY_ID_0114232282062025050100000001",
    }


def test_production_without_pay_still_starts():
    cfg = load_config(BASE)
    assert not cfg.get("WECHAT_PAY_MCH_ID")
    assert cfg["WECHAT_PAY_V3_API_BASE"] == "https://api.mch.weixin.qq.com"
    assert cfg["WECHAT_PAY_NOTIFY_BASE"] == cfg["PUBLIC_BASE_URL"]


def test_a_v2_only_deployment_still_starts_and_any_apiv3_name_asks_for_the_whole_set():
    v2 = {**BASE, "WECHAT_PAY_MCH_ID": "1900000109", "WECHAT_PAY_API_KEY": "k" * 32}
    assert load_config(v2)["WECHAT_PAY_MCH_ID"] == "1900000109"
    with pytest.raises(ConfigError, match="WECHAT_PAY_PRIVATE_KEY"):
        load_config({**v2, "WECHAT_PAY_APIV3_KEY": "0123456789abcdef0123456789abcdef"})
    with pytest.raises(ConfigError, match="WECHAT_PAY_APIV3_KEY"):
        load_config({**BASE, "WECHAT_PAY_MCH_ID": "1900000109"})  # neither v2 nor v3


def test_production_with_a_complete_set_starts(key_files):
    cfg = load_config({**full(key_files), "PUBLIC_BASE_URL": "https://fx.example"})
    assert cfg["WECHAT_PAY_NOTIFY_BASE"] == "https://fx.example"
    pem_text = (key_files / "apiclient_key.pem").read_text()
    assert load_config({**full(key_files), "WECHAT_PAY_PRIVATE_KEY": pem_text})


def test_production_with_a_certificate_directory_instead_of_the_public_key(key_files):
    settings = full(key_files)
    del settings["WECHAT_PAY_PUBLIC_KEY"], settings["WECHAT_PAY_PUBLIC_KEY_ID"]
    assert load_config({**settings, "WECHAT_PAY_CERT_DIR": str(key_files)})


@pytest.mark.parametrize(
    ("drop", "named"),
    [
        (("WECHAT_PAY_PRIVATE_KEY",), "WECHAT_PAY_PRIVATE_KEY"),
        (("WECHAT_PAY_CERT_SERIAL", "WECHAT_PAY_APIV3_KEY"), "WECHAT_PAY_CERT_SERIAL, WECHAT_"),
        (("WECHAT_PAY_PUBLIC_KEY_ID",), "WECHAT_PAY_PUBLIC_KEY + WECHAT_PAY_PUBLIC_KEY_ID"),
    ],
)
def test_an_incomplete_set_refuses_start_up_in_one_line_naming_what_is_missing(
    key_files, drop, named
):
    settings = {k: v for k, v in full(key_files).items() if k not in drop}
    with pytest.raises(ConfigError) as err:
        load_config(settings)
    message = err.value.format_message()
    assert "\n" not in message and named in message
    assert all(name in message for name in drop)


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("WECHAT_PAY_APIV3_KEY", "short", "32 bytes"),
        ("WECHAT_PAY_PRIVATE_KEY", "/nonexistent/apiclient_key.pem", "WECHAT_PAY_PRIVATE_KEY"),
        ("WECHAT_PAY_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nxx\n", "PEM private key"),
        ("WECHAT_PAY_PUBLIC_KEY", "/nonexistent/pub_key.pem", "WECHAT_PAY_PUBLIC_KEY"),
    ],
)
def test_a_wrong_value_is_one_clear_line(key_files, setting, value, says):
    with pytest.raises(ConfigError) as err:
        load_config({**full(key_files), setting: value})
    message = err.value.format_message()
    assert "\n" not in message and says in message


@pytest.mark.parametrize("mode", ["demo", "test"])
def test_demo_and_test_make_the_merchant_keys_once_per_instance(tmp_path, mode):
    first = load_config({"FENXIAO_MODE": mode})
    again = load_config({"FENXIAO_MODE": mode})
    folder = tmp_path / "instance" / "wechat_pay"
    for name in (
        "WECHAT_PAY_PRIVATE_KEY",
        "WECHAT_PAY_CERT_SERIAL",
        "WECHAT_PAY_APIV3_KEY",
        "WECHAT_PAY_PUBLIC_KEY",
        "WECHAT_PAY_PUBLIC_KEY_ID",
    ):
        assert first[name] and first[name] == again[name], name
    assert len(first["WECHAT_PAY_APIV3_KEY"].encode()) == 32
    assert len(first["WECHAT_PAY_CERT_SERIAL"]) == 40
    private = serialization.load_pem_private_key(
        (folder / "merchant_private_key.pem").read_bytes(), None
    )
    public = serialization.load_pem_public_key((folder / "merchant_public_key.pem").read_bytes())
    assert private.public_key().public_numbers() == public.public_numbers()
    assert (folder / "apiv3_key").read_text() == first["WECHAT_PAY_APIV3_KEY"]
    assert first["WECHAT_PAY_PUBLIC_KEY"] == str(folder / "platform_public_key.pem")
    assert first["WECHAT_PAY_V3_API_BASE"] == "http://127.0.0.1:5001"
