"""WeUI from npm (package.json, `npm ci`), served by web/assets.py: the allowed files only."""

from __future__ import annotations

import json
import logging

import pytest

from web import assets, create_app

REPO_WEUI = assets.NODE_MODULES / "weui" / "dist" / "style" / "weui.min.css"


def _app(tmp_path):
    return create_app(
        {
            "FENXIAO_MODE": "test",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        }
    )


@pytest.fixture
def client(tmp_path):
    return _app(tmp_path).test_client()


def test_the_weui_version_is_pinned_exactly():
    package = json.loads((assets.REPO_ROOT / "package.json").read_text())
    version = package["dependencies"]["weui"]
    assert version[0].isdigit() and version.startswith("2."), version
    lock = json.loads((assets.REPO_ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/weui"]["version"] == version


@pytest.mark.skipif(not REPO_WEUI.is_file(), reason="node_modules missing: run `make install`")
def test_the_weui_stylesheet_is_served_from_node_modules_with_a_long_cache(client):
    response = client.get("/assets/weui/weui.min.css")
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    assert response.data == REPO_WEUI.read_bytes()
    cache = response.cache_control
    assert cache.public and cache.max_age == 365 * 24 * 3600 and cache.immutable


def test_the_url_carries_the_installed_version(tmp_path):
    app = _app(tmp_path)
    version = json.loads((assets.NODE_MODULES / "weui" / "package.json").read_text())["version"]
    with app.test_request_context():
        assert assets.asset_url("weui/weui.min.css") == f"/assets/weui/weui.min.css?v={version}"


@pytest.mark.parametrize(
    "path",
    [
        "/assets/weui/weui.css",  # in node_modules, but not on the list
        "/assets/weui/package.json",
        "/assets/weui/../../package.json",
        "/assets/weui/%2e%2e/%2e%2e/package.json",
        "/assets/..%2f..%2fweb/__init__.py",
        "/assets/weui/dist/style/weui.min.css",
        "/assets/",
    ],
)
def test_nothing_outside_the_list_is_served(client, path):
    assert client.get(path).status_code == 404


def test_a_missing_node_modules_is_one_log_line_not_a_crash(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(assets, "NODE_MODULES", tmp_path / "node_modules")
    with caplog.at_level(logging.WARNING, logger="web.assets"):
        app = _app(tmp_path)
    assert "front-end package weui is not installed" in caplog.text
    assert "npm ci" in caplog.text
    client = app.test_client()
    assert client.get("/assets/weui/weui.min.css").status_code == 404
    with app.test_request_context():
        assert assets.asset_url("weui/weui.min.css") == "/assets/weui/weui.min.css"
