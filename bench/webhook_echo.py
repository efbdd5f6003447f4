"""The baseline for bench/webhook_bench.py: a bare wechatpy + Flask echo view on POST /wechat.

It does the least a WeChat webhook can do: check the signature (wechatpy.utils.check_signature),
parse the body (wechatpy.parse_message) and answer the text back as a passive reply
(wechatpy's TextReply). With WECHAT_AES_KEY set, safe-mode requests (encrypt_type=aes) are
decrypted and the reply encrypted with wechatpy's WeChatCrypto, as WeChat requires.

    gunicorn --workers 2 --pythonpath bench 'webhook_echo:create_app()'
    (env: WECHAT_TOKEN, WECHAT_APPID, and WECHAT_AES_KEY for safe mode)
"""

from __future__ import annotations

import os

from flask import Flask, Response, request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature


def create_app() -> Flask:
    token = os.environ["WECHAT_TOKEN"]
    aes_key = os.environ.get("WECHAT_AES_KEY")
    crypto = WeChatCrypto(token, aes_key, os.environ["WECHAT_APPID"]) if aes_key else None
    app = Flask(__name__)

    @app.post("/wechat")
    def echo():
        args = request.args
        timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
        try:
            check_signature(token, args.get("signature", ""), timestamp, nonce)
        except InvalidSignatureException:
            return Response("forbidden", status=403, mimetype="text/plain")
        body = request.get_data()
        safe = args.get("encrypt_type") == "aes"
        if safe:
            if crypto is None:
                return Response("no WECHAT_AES_KEY", status=400, mimetype="text/plain")
            try:
                body = crypto.decrypt_message(body, args.get("msg_signature", ""), timestamp, nonce)
            except (InvalidSignatureException, InvalidAppIdException):
                return Response("forbidden", status=403, mimetype="text/plain")
        message = parse_message(body)
        reply = TextReply(content=getattr(message, "content", "") or "", message=message).render()
        if safe:
            reply = crypto.encrypt_message(reply, nonce, timestamp)
        return Response(reply, mimetype="application/xml")

    @app.get("/healthz")
    def healthz():
        return Response("ok", mimetype="text/plain")

    return app


if __name__ == "__main__":
    print("the echo baseline that bench/webhook_bench.py serves with gunicorn; nothing to run")
