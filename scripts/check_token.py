"""Checks a token from the local stack as an application's backend would, with PyJWT: keys
found through the issuer's openid-configuration, then signature, issuer, audience and
expiry checked. Also checks that PyJWT refuses the token for another audience or issuer,
once expired, and with its payload altered.

Usage: check_token.py ISSUER AUDIENCE TOKEN PHONE_NUMBER
"""

import base64
import json
import sys
import urllib.request

import jwt

issuer, audience, token, phone_number = sys.argv[1:]
failures = 0


def check(name, ok):
    global failures
    print(("ok  " if ok else "FAIL") + " token: " + name)
    failures += 0 if ok else 1


def refused(**options):
    try:
        jwt.decode(token, key, algorithms=["RS256"], **options)
    except jwt.InvalidTokenError:
        return True
    return False


with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration") as response:
    discovery = json.load(response)
check("openid-configuration names the issuer", discovery["issuer"] == issuer)
key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token).key

claims = jwt.decode(
    token,
    key,
    algorithms=["RS256"],
    audience=audience,
    issuer=issuer,
    options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
)
check("PyJWT accepts it", True)
check("it names the verified number", claims["phone_number"] == phone_number == claims["sub"])
check("phone_number_verified", claims["phone_number_verified"] is True)
check("another audience is refused", refused(audience="another-app", issuer=issuer))
check("another issuer is refused", refused(audience=audience, issuer="https://evil.example"))
# Checked as if the clock were past its expiry (a negative leeway moves "now" forward).
lifetime = claims["exp"] - claims["iat"]
check("an expired token is refused", refused(audience=audience, leeway=-(lifetime + 60)))

header, payload, signature = token.split(".")
altered = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
altered["phone_number"] = altered["sub"] = "+14155550000"
forged_payload = base64.urlsafe_b64encode(json.dumps(altered).encode()).rstrip(b"=").decode()
forged = f"{header}.{forged_payload}.{signature}"
try:
    jwt.decode(forged, key, algorithms=["RS256"], audience=audience, issuer=issuer)
    check("an altered payload is refused", False)
except jwt.InvalidSignatureError:
    check("an altered payload is refused", True)

sys.exit(1 if failures else 0)
