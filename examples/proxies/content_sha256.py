# Python: call with the raw body bytes before using them. The registry checked
# the signature over X-Content-SHA256, not over the body, which the proxy does
# not show it; so the body must be the one that header names.
import hashlib


def body_matches_signature(headers, raw_body: bytes) -> bool:
    declared = headers.get("X-Content-SHA256")
    if declared is None:
        return raw_body == b""
    return declared == hashlib.sha256(raw_body).hexdigest()
