"""APIv3 notifies (回调通知): an encrypted resource, signed like an answer, POSTed as JSON.

The body is `{id, create_time, resource_type: "encrypt-resource", event_type, summary,
resource: {algorithm: "AEAD_AES_256_GCM", ciphertext, associated_data, original_type, nonce}}`,
the resource encrypted with the merchant's APIv3 key. The merchant acknowledges with any 2xx
(WeChat documents 200 or 204, no body needed); anything else, or no answer in
SIM_NOTIFY_TIMEOUT, is a failure and the same notify (same id) is tried again on
SIM_PAYV3_NOTIFY_RETRY_DELAYS from a background thread. Every attempt is recorded in
`store.v3_notifies` (driver: GET /sim/pay/v3/notifies). The NOTIFY_LOST fault drops the next
matching notify; NOTIFY_DUPLICATE sends it twice.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests

from . import v3crypto
from .store import CHINA, Store
from .v3faults import take_fault

NOTIFY_API = {
    "TRANSACTION.SUCCESS": "jsapi",
    "REFUND.SUCCESS": "refund",
    "MCHTRANSFER.BILL.FINISHED": "transfer",
}


def build(
    store: Store,
    keys: Any,
    event_type: str,
    summary: str,
    original_type: str,
    resource: dict[str, Any],
) -> dict[str, Any]:
    plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
    encrypted = v3crypto.aead_encrypt(keys.apiv3_key(), plaintext, original_type)
    now = datetime.fromtimestamp(store.now(), CHINA).strftime("%Y-%m-%dT%H:%M:%S+08:00")
    return {
        "id": str(uuid.uuid4()),
        "create_time": now,
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": encrypted["algorithm"],
            "ciphertext": encrypted["ciphertext"],
            "associated_data": encrypted["associated_data"],
            "nonce": encrypted["nonce"],
        },
    }


def send(
    store: Store,
    keys: Any,
    *,
    url: str,
    event_type: str,
    summary: str,
    original_type: str,
    resource: dict[str, Any],
    subject: dict[str, Any],
    alive: Callable[[], bool],
    retry: bool = True,
) -> dict[str, Any]:
    """One notify now (or none, or two, as faults say); failures retried in the background."""
    notice = build(store, keys, event_type, summary, original_type, resource)
    api = NOTIFY_API.get(event_type)  # a notify fault may name the API whose notify it hits
    fault = take_fault(store, ("NOTIFY_LOST", "NOTIFY_DUPLICATE"), api, subject)
    if fault and fault["kind"] == "NOTIFY_LOST":
        return record(store, notice, url, subject, {"ok": False, "status": "dropped"})
    result = deliver(store, keys, notice, url, subject)
    if fault and fault["kind"] == "NOTIFY_DUPLICATE":
        result = deliver(store, keys, notice, url, subject)
    if not result["ok"] and retry:
        args = (store, keys, notice, url, subject, alive)
        threading.Thread(target=retry_loop, args=args, daemon=True).start()
    return result


def deliver(
    store: Store, keys: Any, notice: dict[str, Any], url: str, subject: dict[str, Any]
) -> dict[str, Any]:
    body = json.dumps(notice, ensure_ascii=False, separators=(",", ":"))
    headers = keys.sign_headers(body)
    headers["Content-Type"] = "application/json"
    headers["Request-ID"] = uuid.uuid4().hex.upper()
    try:
        response = requests.post(
            url,
            data=body.encode("utf-8"),
            headers=headers,
            timeout=store.config["SIM_NOTIFY_TIMEOUT"],
        )
        answer = response.content.decode("utf-8", "replace")[:500]
        ok = 200 <= response.status_code < 300
        outcome = {"ok": ok, "status": "ok" if ok else "error"}
        outcome.update(http_status=response.status_code, answer=answer)
    except requests.RequestException as e:
        outcome = {"ok": False, "status": "unreachable", "http_status": None}
        outcome["answer"] = f"{e.__class__.__name__}: {e}"[:500]
    return record(store, notice, url, subject, outcome)


def record(
    store: Store,
    notice: dict[str, Any],
    url: str,
    subject: dict[str, Any],
    outcome: dict[str, Any],
) -> dict[str, Any]:
    with store.lock:
        entry = {
            "seq": store.next_seq(),
            "id": notice["id"],
            "event_type": notice["event_type"],
            "url": url,
            **subject,
            **outcome,
            "time": int(store.now()),
        }
        store.v3_notifies.append(entry)
        return entry


def retry_loop(
    store: Store,
    keys: Any,
    notice: dict[str, Any],
    url: str,
    subject: dict[str, Any],
    alive: Callable[[], bool],
) -> None:
    for delay in store.config["SIM_PAYV3_NOTIFY_RETRY_DELAYS"]:
        time.sleep(delay)
        with store.lock:
            if not alive():
                return  # the store was reset meanwhile
        if deliver(store, keys, notice, url, subject)["ok"]:
            return
