"""Sign Device Registry device requests (HMAC-SHA256), standard library only.

    headers = signed_headers(secret, device_id, "POST", "/api/v1/device/heartbeat", body)

Send exactly the `body` bytes that were signed, with the request target
(path and query) exactly as signed. A request with a body also carries
X-Content-SHA256 (the body's hex SHA-256): a proxy that asks the registry to
verify the request does not pass the body on. Run as a script to check a
vectors file:

    python3 device_signing.py src/device-auth/signing.vectors.json
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sys
import time


def canonical_string(
    method: str, path: str, timestamp: int | str, nonce: str, device_id: str, body: bytes = b""
) -> str:
    """The six lines the signature covers, joined by \\n (no trailing newline)."""
    body_sha256 = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, str(timestamp), nonce, device_id, body_sha256])


def sign(
    secret: str, method: str, path: str, timestamp: int | str, nonce: str, device_id: str, body: bytes = b""
) -> str:
    """Standard base64 of HMAC-SHA256 keyed with the whole secret string (dvs_ included)."""
    message = canonical_string(method, path, timestamp, nonce, device_id, body)
    digest = hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_headers(
    secret: str,
    device_id: str,
    method: str,
    path: str,
    body: bytes = b"",
    timestamp: int | str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The X-* headers for one request; a fresh nonce and the current time by default."""
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_urlsafe(18)  # 24 characters of [A-Za-z0-9_-]
    headers = {
        "X-Device-Id": device_id,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": sign(secret, method, path, timestamp, nonce, device_id, body),
    }
    if body:
        headers["X-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    return headers


def _check(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        vectors = json.load(f)["vectors"]
    failed = 0
    for v in vectors:
        body = v["body"].encode("utf-8")
        args = (v["method"], v["path"], v["timestamp"], v["nonce"], v["deviceId"], body)
        headers = signed_headers(
            v["secret"], v["deviceId"], v["method"], v["path"], body, v["timestamp"], v["nonce"]
        )
        ok = (
            canonical_string(*args) == v["canonical"]
            and sign(v["secret"], *args) == v["signature"]
            and headers == v["headers"]
        )
        print(f"{'ok' if ok else 'MISMATCH'} {v['name']}")
        failed += not ok
    return 1 if failed or not vectors else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: device_signing.py VECTORS.json")
    sys.exit(_check(sys.argv[1]))
