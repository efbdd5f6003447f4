"""The outbound WeChat API client: wechatpy's WeChatClient, with the access token shared in Redis.

Follows 「获取 Access token」 (developers.weixin.qq.com, 公众号 > 开始开发 > 获取 Access token):
a token lasts 7200 s and fetching a new one retires the old one, so one process refreshes under a
Redis lock while the others wait, and a call that fails with 40001/40014/42001 refreshes once and
is retried once. `WECHAT_API_BASE` redirects the hosts wechatpy hard-codes (api.weixin.qq.com,
mp.weixin.qq.com) at the transport level, so the simulator is reached through the same code path
that production uses.
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlsplit

import redis
from flask import Flask, current_app
from requests.adapters import HTTPAdapter
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from infra.redis_client import get_redis

log = logging.getLogger(__name__)

TOKEN_ERRORS = (40001, 40014, 42001)  # invalid credential, invalid token, expired token
RATE_LIMIT_ERRORS = (45009, 45011)  # daily limit, per-minute limit
WECHAT_HOSTS = ("https://api.weixin.qq.com/", "https://mp.weixin.qq.com/")
REAL_API_BASE = "https://api.weixin.qq.com"
EXTENSION = "fenxiao.wechat_client"


class WeChatRateLimited(WeChatClientException):
    """45009 / 45011: back off and retry later (a job's Retry), never loop."""


class RedirectAdapter(HTTPAdapter):
    """Sends requests for a WeChat host to another base URL, keeping path and query."""

    def __init__(self, base: str):
        super().__init__()
        self.base = base.rstrip("/")

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        request.url = self.base + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **kwargs)


class _NoSession:
    """wechatpy's token storage is bypassed: the token lives in Redis with its expiry."""

    def get(self, key, default=None):
        return default

    def set(self, key, value, ttl=None):
        pass

    def delete(self, key):
        pass


class FenxiaoWeChatClient(WeChatClient):
    def __init__(
        self,
        appid: str,
        secret: str,
        redis_client: redis.Redis,
        api_base: str,
        timeout: float = 5.0,
    ):
        super().__init__(appid, secret, session=_NoSession(), timeout=timeout, auto_retry=False)
        self.redis = redis_client
        self.token_key = f"wechat:{appid}:access_token"
        self.lock_key = f"wechat:{appid}:access_token:lock"
        self.ticket_key = f"wechat:{appid}:jsapi_ticket"
        if api_base.rstrip("/") != REAL_API_BASE:
            for host in WECHAT_HOSTS:
                self._http.mount(host, RedirectAdapter(api_base))

    # -- the access token ------------------------------------------------------------------
    def _stored_token(self) -> tuple[str, float] | None:
        raw = self.redis.get(self.token_key)
        if not raw:
            return None
        record = json.loads(raw)
        return record["token"], record["expires_at"]

    @property
    def access_token(self) -> str:
        stored = self._stored_token()
        if stored and stored[1] - time.time() > 60:
            return stored[0]
        return self.refresh_token(stale=stored[0] if stored else None)

    def refresh_token(self, stale: str | None = None) -> str:
        """Fetch a new token unless another process already replaced `stale` meanwhile."""
        with self.redis.lock(self.lock_key, timeout=20, blocking_timeout=20):
            stored = self._stored_token()
            if stored and stored[0] != stale and stored[1] - time.time() > 60:
                return stored[0]
            result = self._fetch_access_token(
                url=f"{self.API_BASE_URL}token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.secret,
                },
            )
            expires_in = int(result.get("expires_in", 7200))
            record = {"token": result["access_token"], "expires_at": time.time() + expires_in}
            self.redis.set(self.token_key, json.dumps(record), ex=max(expires_in - 30, 1))
            log.info("fetched a new WeChat access token (expires in %ss)", expires_in)
            return record["token"]

    def fetch_access_token(self):
        return self.refresh_token(stale=(self._stored_token() or (None,))[0])

    # -- the JS-SDK ticket ------------------------------------------------------------------
    def jsapi_ticket(self) -> str:
        """「JS-SDK 使用权限签名算法」: the jsapi_ticket lasts 7200 s and its calls are limited, so
        it is cached in Redis for every process, fetched by one of them under a lock."""
        raw = self.redis.get(self.ticket_key)
        if raw:
            return raw.decode() if isinstance(raw, bytes) else raw
        with self.redis.lock(self.ticket_key + ":lock", timeout=20, blocking_timeout=20):
            raw = self.redis.get(self.ticket_key)
            if raw:
                return raw.decode() if isinstance(raw, bytes) else raw
            result = self.jsapi.get_ticket("jsapi")
            expires_in = int(result.get("expires_in", 7200))
            self.redis.set(self.ticket_key, result["ticket"], ex=max(expires_in - 60, 1))
            return result["ticket"]

    # -- calls -----------------------------------------------------------------------------
    def _request(self, method, url_or_endpoint, **kwargs):
        params = kwargs.setdefault("params", {})
        try:
            return super()._request(method, url_or_endpoint, **kwargs)
        except WeChatClientException as e:
            if e.errcode in RATE_LIMIT_ERRORS:
                raise WeChatRateLimited(e.errcode, e.errmsg, client=self) from e
            if e.errcode not in TOKEN_ERRORS or not isinstance(params, dict):
                raise
            self.refresh_token(stale=params.pop("access_token", None))
            for f in (kwargs.get("files") or {}).values():
                if hasattr(f, "seek"):
                    f.seek(0)
            try:
                return super()._request(method, url_or_endpoint, **kwargs)
            except WeChatClientException as again:
                if again.errcode in RATE_LIMIT_ERRORS:
                    raise WeChatRateLimited(again.errcode, again.errmsg, client=self) from again
                raise


def wechat_client(app: Flask | None = None) -> FenxiaoWeChatClient:
    """The app's client (one per process: it holds a pooled requests session)."""
    app = app or current_app
    client = app.extensions.get(EXTENSION)
    if client is None:
        client = app.extensions[EXTENSION] = FenxiaoWeChatClient(
            app.config["WECHAT_APPID"],
            app.config["WECHAT_APPSECRET"],
            get_redis(app),
            app.config["WECHAT_API_BASE"],
        )
    return client
