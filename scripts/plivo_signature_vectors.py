"""Signature vectors for shared/src/sms/signature.rs, computed with Plivo's own Python SDK
(`pip install plivo`): V3 for GET and POST, with and without query and body parameters, and
V2. Prints them as Rust tuples."""
from plivo.utils.signature_v3 import construct_get_url, construct_post_url, get_signature_v3
from plivo.utils import validate_signature
import base64, hashlib, hmac

TOKEN = "MjAxNi1wbGl2by10ZXN0LXRva2VuLXZhbHVl"
NONCE = "12345678901234567890"
cases = [
    ("POST", "https://otp.example.com/plivo/callback/status", {"MessageUUID": "db3ce55a-7f1d-11e1-8ea7-1231380bc196", "Status": "delivered", "To": "14155552671", "ErrorCode": "000"}),
    ("POST", "https://otp.example.com/plivo/callback/status?call=7&a=b", {"Status": "sent", "MessageUUID": "m-1"}),
    ("POST", "https://otp.example.com/plivo/answer", {}),
    ("POST", "https://otp.example.com/plivo/answer?t=abc%2Bdef&b=1", {}),
    ("GET", "https://otp.example.com/plivo/answer?t=abc%2Bdef&b=1&b=0", {}),
    ("GET", "https://otp.example.com/plivo/answer", {}),
]
for method, uri, params in cases:
    if method == "GET":
        base = construct_get_url(uri, dict(params)).decode()
    else:
        base = construct_post_url(uri, dict(params)).decode()
    sig = get_signature_v3(TOKEN.encode(), base, NONCE.encode()).decode()
    print((method, uri, sorted(params.items()), base, sig))
v2 = base64.b64encode(hmac.new(TOKEN.encode(), b"https://otp.example.com/plivo/callback/status" + NONCE.encode(), hashlib.sha256).digest()).decode()
assert validate_signature("https://otp.example.com/plivo/callback/status?x=1", NONCE, v2, TOKEN)
print(("V2", v2))
