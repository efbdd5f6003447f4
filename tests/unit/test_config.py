"""Configuration: defaults, environment, overrides, and clear errors."""

from __future__ import annotations

import pytest

from infra.config import ConfigError, load_config, normalise_database_url


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in (
        "FENXIAO_MODE",
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "WECHAT_TOKEN",
        "WECHAT_APPID",
        "WECHAT_APPSECRET",
        "WECHAT_API_BASE",
        "PUBLIC_BASE_URL",
        "SETTLEMENT_WORKERS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))


def test_defaults_in_demo_mode_point_at_sqlite_under_instance_and_the_simulator(tmp_path):
    cfg = load_config({"FENXIAO_MODE": "demo"})
    assert cfg["DATABASE_URL"] == f"sqlite:///{tmp_path / 'instance' / 'fenxiao.db'}"
    assert cfg["REDIS_URL"] is None
    assert cfg["WECHAT_API_BASE"] == "http://127.0.0.1:5001"
    assert cfg["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"
    assert cfg["WECHAT_TOKEN"]


def test_environment_is_read_and_the_config_mapping_wins(monkeypatch):
    monkeypatch.setenv("FENXIAO_MODE", "demo")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://from-env.example")
    monkeypatch.setenv("WECHAT_TOKEN", "env-token")
    cfg = load_config({"WECHAT_TOKEN": "dict-token"})
    assert cfg["PUBLIC_BASE_URL"] == "https://from-env.example"
    assert cfg["WECHAT_TOKEN"] == "dict-token"


def test_production_without_wechat_credentials_names_every_missing_setting():
    with pytest.raises(ConfigError) as err:
        load_config({"FENXIAO_MODE": "production", "WECHAT_TOKEN": "t"})
    message = err.value.format_message()
    assert "WECHAT_APPID" in message and "WECHAT_APPSECRET" in message
    assert "WECHAT_TOKEN" not in message


def test_production_with_credentials_keeps_the_real_wechat_api():
    cfg = load_config({"WECHAT_TOKEN": "t", "WECHAT_APPID": "wx1", "WECHAT_APPSECRET": "s"})
    assert cfg["FENXIAO_MODE"] == "production"
    assert cfg["WECHAT_API_BASE"] == "https://api.weixin.qq.com"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_urls_are_normalised_to_the_psycopg3_driver(given, expected):
    assert normalise_database_url(given) == expected


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not-a-url", "postgresql+psycopg2://u@h/db"])
def test_unknown_database_scheme_is_a_config_error(url):
    with pytest.raises(ConfigError, match="DATABASE_URL scheme"):
        load_config({"FENXIAO_MODE": "test", "DATABASE_URL": url})


def test_unknown_redis_scheme_is_a_config_error():
    with pytest.raises(ConfigError, match="REDIS_URL scheme"):
        load_config({"FENXIAO_MODE": "test", "REDIS_URL": "memcached://h:1"})


def test_settlement_workers_default_to_two_and_are_read_from_the_environment(monkeypatch):
    assert load_config({"FENXIAO_MODE": "demo"})["SETTLEMENT_WORKERS"] == 2
    monkeypatch.setenv("SETTLEMENT_WORKERS", "3")
    assert load_config({"FENXIAO_MODE": "demo"})["SETTLEMENT_WORKERS"] == 3


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_settlement_workers_must_be_a_whole_number_of_at_least_one(value):
    with pytest.raises(ConfigError, match="SETTLEMENT_WORKERS must be a whole number"):
        load_config({"FENXIAO_MODE": "demo", "SETTLEMENT_WORKERS": value})


def test_unknown_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="FENXIAO_MODE"):
        load_config({"FENXIAO_MODE": "staging"})


def test_secret_key_is_generated_once_and_persisted_privately(tmp_path):
    first = load_config({"FENXIAO_MODE": "test"})["SECRET_KEY"]
    second = load_config({"FENXIAO_MODE": "test"})["SECRET_KEY"]
    key_file = tmp_path / "instance" / "secret_key"
    assert first == second
    assert len(first) == 64
    assert key_file.read_text().strip() == first
    assert key_file.stat().st_mode & 0o077 == 0


def test_an_explicit_secret_key_is_used_and_nothing_is_written(tmp_path):
    cfg = load_config({"FENXIAO_MODE": "test", "SECRET_KEY": "explicit"})
    assert cfg["SECRET_KEY"] == "explicit"
    assert not (tmp_path / "instance" / "secret_key").exists()
