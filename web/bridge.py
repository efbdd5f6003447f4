"""The script that gives a page WeChat's client APIs (wx.config, WeixinJSBridge): WeChat's
JS-SDK in production; in demo and tests the simulator's stand-in, which opens its cashier and
confirm-receipt pages (docs/wechat.md)."""

from __future__ import annotations

from flask import current_app

# WeChat's JS-SDK: WeChat requires it from its own host (res.wx.qq.com), it is not a package.
JSSDK_URL = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"


def bridge_script() -> str:
    if current_app.config.get("FENXIAO_MODE") == "production":
        return JSSDK_URL
    return current_app.config["WECHAT_API_BASE"].rstrip("/") + "/sim/pay/v3/jsbridge.js"
