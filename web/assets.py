"""GET /assets/...: the front-end packages that `npm ci` installs from package.json (WeUI), served
from node_modules. Never a CDN.

Only the files listed in ASSETS are served, each by a route of its own: no route takes a path,
so nothing outside the list can be asked for (anything else under /assets is a 404). A file's
URL carries its package's version (`asset_url()` in templates), so browsers may keep it a year.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import NamedTuple

from flask import Blueprint, abort, current_app, send_file, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import get_locale

from infra.config import REPO_ROOT

log = logging.getLogger(__name__)
bp = Blueprint("assets", __name__, url_prefix="/assets")
NODE_MODULES = REPO_ROOT / "node_modules"
MAX_AGE = 365 * 24 * 3600
VERSIONS = "fenxiao.asset_versions"


class Asset(NamedTuple):
    package: str  # the npm package (a dependency in package.json)
    file: str  # the file inside the package
    mimetype: str


# The allow-list: the URL under /assets -> the file served.
ASSETS = {
    "weui/weui.min.css": Asset("weui", "dist/style/weui.min.css", "text/css"),
    "htmx/htmx.min.js": Asset("htmx.org", "dist/htmx.min.js", "text/javascript"),
}


def _endpoint(name: str) -> str:
    return name.replace("/", "_").replace(".", "_").replace("-", "_")


def _path(asset: Asset) -> Path:
    return NODE_MODULES / asset.package / asset.file


def _view(name: str):
    asset = ASSETS[name]

    def serve():
        path = _path(asset)
        if not path.is_file():
            log.warning(
                "asset %s: %s is missing (run `npm ci`, as `make install` does)", name, path
            )
            abort(404)
        response = send_file(path, mimetype=asset.mimetype, max_age=MAX_AGE, conditional=True)
        response.cache_control.public = True
        response.cache_control.immutable = True
        return response

    serve.__name__ = _endpoint(name)
    return serve


for _name in ASSETS:
    bp.add_url_rule(f"/{_name}", endpoint=_endpoint(_name), view_func=_view(_name))


def _package_version(package: str) -> str | None:
    try:
        return json.loads((NODE_MODULES / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


@bp.record_once
def _check_installed(state: BlueprintSetupState) -> None:
    """At start-up: the installed version of each package (for the URLs), and one clear line
    when a file is missing. Not a crash: the pages still work, unstyled."""
    versions: dict[str, str | None] = {}
    for name, asset in ASSETS.items():
        versions[name] = _package_version(asset.package)
        if not _path(asset).is_file():
            log.warning(
                "front-end package %s is not installed (%s is missing): pages will be unstyled;"
                " run `npm ci` in %s (`make install` does it)",
                asset.package,
                _path(asset),
                REPO_ROOT,
            )
    state.app.extensions[VERSIONS] = versions


@bp.app_template_global()
def asset_url(name: str) -> str:
    """The URL of an allowed asset, with its package's version so that an upgrade is fetched."""
    version = current_app.extensions.get(VERSIONS, {}).get(name)
    endpoint = f"assets.{_endpoint(name)}"
    return url_for(endpoint, v=version) if version else url_for(endpoint)


@bp.app_template_global()
def html_lang() -> str:
    """The page's `lang`: the language Flask-Babel picked for this request."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh-CN"
