"""POST /pay/notify/{transaction,refund,transfer}: WeChat Pay APIv3 notifies (「回调通知」).

WeChat takes 200 or 204 as received, and delivers again after any other answer. So:
- handled (or handled before): 204, no body;
- not signed by WeChat Pay, or stale (more than five minutes): 401, no effect;
- signed but unreadable, or a notify of another kind: 400, no effect;
- a failure to handle (the database is down, the platform key is missing): 500 with
  {"code": "FAIL", "message": ...}, so WeChat delivers it again.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from models.payments import REFUND, TRANSACTION, TRANSFER
from services import payments
from wechat.pay_v3 import NotifyMalformed, NotifyRejected, notify_verifier

log = logging.getLogger(__name__)
bp = Blueprint("pay_notify", __name__, url_prefix="/pay/notify")

MAX_BODY = 64 * 1024  # a notify is a few hundred bytes; WeChat's largest are a few KiB


def _fail(message: str, status: int):
    return jsonify({"code": "FAIL", "message": message}), status


# Three routes, not one with a <kind> argument: every route argument in this app is an id.
@bp.post("/transaction")
def transaction():
    return _notify(TRANSACTION)


@bp.post("/refund")
def refund():
    return _notify(REFUND)


@bp.post("/transfer")
def transfer():
    return _notify(TRANSFER)


def _notify(kind: str):
    if (request.content_length or 0) > MAX_BODY:
        return _fail("body too large", 400)
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY:
        return _fail("body too large", 400)
    try:
        notice = notify_verifier().verify(request.headers, body)
        outcome = payments.handle_notice(kind, notice)
    except NotifyRejected as e:
        log.warning("WeChat Pay %s notify refused: %s", kind, e)
        return _fail("signature", 401)
    except NotifyMalformed as e:
        log.warning("WeChat Pay %s notify unreadable: %s", kind, e)
        return _fail(str(e)[:100], 400)
    except Exception:
        log.exception("WeChat Pay %s notify not handled; WeChat will deliver it again", kind)
        return _fail("not handled, please retry", 500)
    log.info(
        "WeChat Pay %s notify %s: %s%s",
        kind,
        outcome.resource_id,
        outcome.outcome,
        " (again)" if outcome.duplicate else "",
    )
    return Response(status=204)
