#!/usr/bin/env bash
# End-to-end check of the local stack, as a user drives it:
#  1. every sample event in events/ through `cargo lambda invoke` (the Lambda Invoke API),
#  2. send and verify over HTTP with curl, reading the code from the Plivo sandbox, and the
#     token the verify answers checked by PyJWT (scripts/check_token.py),
#  3. schemathesis fuzzing from openapi.yaml: no 5xx, every status, header and body as
#     documented, malformed input refused.
# The stack runs on free ports with a throw-away data folder; the Plivo sandbox is the only
# Plivo it can reach. Usage: scripts/e2e.sh PATH/TO/st PATH/TO/cargo-lambda-bin-dir
set -euo pipefail
cd "$(dirname "$0")/.."
st=$1
export PATH="$2:$PATH"
# The demo page is driven in headless Chromium.
for tool in chromium chromedriver; do
  command -v "$tool" >/dev/null || { echo "$tool not found (Debian: apt-get install chromium chromium-driver)" >&2; exit 1; }
done

cargo build -q -p otp-devtools --bin local-stack
target=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

state=$(mktemp -d)
log="$state/local-stack.log"
LOCAL_STATE_DIR="$state" LOCAL_API_PORT=0 LOCAL_DYNAMODB_PORT=0 LOCAL_PLIVO_PORT=0 \
  LOCAL_INVOKE_PORT=0 LOCAL_WEB_PORT=0 "$target/debug/local-stack" >"$log" 2>&1 &
pid=$!
cleanup() {
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT

for _ in $(seq 1 600); do
  grep -q "is running at" "$log" && break
  if ! kill -0 "$pid" 2>/dev/null; then cat "$log"; echo "local stack did not start" >&2; exit 1; fi
  sleep 0.5
done
url=$(grep -o 'running at http://[0-9.:]*' "$log" | head -1 | cut -d' ' -f3)
sandbox=$(grep -o 'sandbox at http://[0-9.:]*' "$log" | head -1 | cut -d' ' -f3)
invoke_port=$(grep -o 'cargo lambda invoke`: [0-9.]*:[0-9]*' "$log" | head -1 | sed 's/.*://')
page=$(grep -o 'Demo page (the passwordless flow in a browser): http://[0-9.:]*/' "$log" | head -1 | sed 's/.*: //')

passes=0
failures=0
check() { # name expected actual
  if [ "$2" = "$3" ]; then
    echo "ok   $1: $3"
    passes=$((passes + 1))
  else
    echo "FAIL $1: expected $2, got $3"
    failures=$((failures + 1))
  fi
}
status_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)["statusCode"])'; }
invoke() { # function event-file
  cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$invoke_port" "$1" --data-file "events/$2" | status_of
}
messages() { curl -sf "$sandbox/messages"; }

echo "== sample events through cargo lambda invoke"
check "verify-otp.json (no code yet)" 401 "$(invoke verify-otp verify-otp.json)"
check "send-otp.json" 200 "$(invoke send-otp send-otp.json)"
check "send-otp-rest.json (within the cooldown)" 429 "$(invoke send-otp send-otp-rest.json)"
check "send-otp-base64.json (within the cooldown)" 429 "$(invoke send-otp send-otp-base64.json)"
check "send-otp-formatted-phone.json (same number)" 429 "$(invoke send-otp send-otp-formatted-phone.json)"
check "send-otp-bad-phone.json" 400 "$(invoke send-otp send-otp-bad-phone.json)"
check "send-otp-malformed.json" 400 "$(invoke send-otp send-otp-malformed.json)"
check "verify-otp-wrong-length.json" 400 "$(invoke verify-otp verify-otp-wrong-length.json)"
check "verify-otp-missing-otp.json" 400 "$(invoke verify-otp verify-otp-missing-otp.json)"
check "send-otp-iam.json (backend mode, another number)" 200 "$(invoke send-otp send-otp-iam.json)"
check "send-otp-client-ip-unauthenticated.json" 400 "$(invoke send-otp send-otp-client-ip-unauthenticated.json)"
check "jwks.json (GET the token keys)" 200 "$(invoke verify-otp jwks.json)"
check "verify-otp-by-id.json (an id never issued)" 401 "$(invoke verify-otp verify-otp-by-id.json)"
check "verification-status.json (an id never issued)" 404 "$(invoke verify-otp verification-status.json)"
check "verification-cancel.json (an id never issued)" 404 "$(invoke verify-otp verification-cancel.json)"
check "plivo-status-callback-forged.json (signature kept, body changed)" 403 "$(invoke plivo-callback plivo-status-callback-forged.json)"
check "send-otp-locale.json (pt-BR, another number)" 200 "$(invoke send-otp send-otp-locale.json)"
check "send-otp-bad-locale.json" 400 "$(invoke send-otp send-otp-bad-locale.json)"
check "send-otp-bad-app-hash.json (no app hash configured)" 400 "$(invoke send-otp send-otp-bad-app-hash.json)"
check "SMS sent so far" 3 "$(messages | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')"
check "the pt-BR message" "Seu código" "$(messages | python3 -c 'import json, sys; m = [m for m in json.load(sys.stdin) if m["dst"] == "+14155550123"]; print(m[-1]["text"][:10])')"

echo "== send and verify over HTTP"
code=$(messages | python3 -c 'import json, re, sys; m = [m for m in json.load(sys.stdin) if m["dst"] == "+14155552671"]; print(re.search(r"\d{6}", m[-1]["text"]).group())')
verify() {
  curl -s -o /dev/null -w '%{http_code}' -X POST "$url/auth/verify-otp" \
    -H 'content-type: application/json' -d "{\"phoneNumber\":\"+1 415 555 2671\",\"otp\":\"$1\"}"
}
verified=$(curl -s -X POST "$url/auth/verify-otp" -H 'content-type: application/json' \
  -d "{\"phoneNumber\":\"+1 415 555 2671\",\"otp\":\"$code\"}")
token=$(echo "$verified" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("token", ""))')
check "verify with the code from the SMS answers a token" yes "$([ -n "$token" ] && echo yes)"
check "verify the same code again" 401 "$(verify "$code")"
check "GET instead of POST (no such route)" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$url/auth/send-otp")"
check "an unrouted path answers as API Gateway does" '404 {"message":"Not Found"}' "$(curl -s -w '%{http_code} ' "$url/lambda-url/send-otp" | python3 -c 'import sys; body = sys.stdin.read(); print(body[-4:].strip(), body[:-4])')"
check "send to another number" 200 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/auth/send-otp" \
  -H 'content-type: application/json' -d '{"phoneNumber":"+447911123456"}')"

echo "== a verification by its id over HTTP"
field() { python3 -c "import json, sys; print(json.load(sys.stdin).get('$1', ''))"; }
vid=$(curl -s -X POST "$url/auth/send-otp" -H 'content-type: application/json' \
  -d '{"phoneNumber":"+14155550188"}' | field verificationId)
check "the send names its verification (36 characters)" 36 "${#vid}"
check "its status" "pending 5" "$(curl -s "$url/auth/verifications/$vid" | python3 -c 'import json, sys; v = json.load(sys.stdin); print(v["status"], v["attemptsLeft"])')"
check "cancel it" canceled "$(curl -s -X POST "$url/auth/verifications/$vid/cancel" | field status)"
vcode=$(messages | python3 -c 'import json, re, sys; m = [m for m in json.load(sys.stdin) if m["dst"] == "+14155550188"]; print(re.search(r"\d{6}", m[-1]["text"]).group())')
check "its code no longer verifies" 401 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/auth/verify-otp" \
  -H 'content-type: application/json' -d "{\"verificationId\":\"$vid\",\"otp\":\"$vcode\"}")"
check "the status of an id never issued" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$url/auth/verifications/$(printf 'A%.0s' $(seq 36))")"

echo "== delivery reports: the sandbox posts each message's statuses, signed, to the API"
# The first report waits for cargo lambda watch to build plivo-callback.
reported() { curl -sf "$sandbox/reports" | python3 -c 'import json, sys; print("|".join("%s %s %s" % (x["status"], x["answer"], x["message"]) for x in json.load(sys.stdin)))'; }
for _ in $(seq 1 600); do
  case "$(reported)" in *delivered*) break ;; esac
  sleep 1
done
check "every report answered 200" yes "$(reported | python3 -c 'import sys; r = sys.stdin.read().strip().split("|"); print("yes" if r and all(" 200 " in x for x in r) else r)')"
check "the newest message's delivery recorded" "delivered 200 Report recorded" "$(reported | tr '|' '\n' | grep '^delivered' | tail -1)"
check "an unsigned callback" 403 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/plivo/callback/status?k=$(printf 'a%.0s' $(seq 64))&r=$(printf 'b%.0s' $(seq 32))" \
  -H 'content-type: application/x-www-form-urlencoded' -d 'MessageUUID=x&Status=delivered&Sequence=9')"

echo "== a code by voice call: the sandbox fetches the answer URL, signed, and prints what it says"
check "send-otp by voice" 200 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/auth/send-otp" \
  -H 'content-type: application/json' -d '{"phoneNumber":"+14155550177","channel":"voice","locale":"de"}')"
spoken() { curl -sf "$sandbox/calls" | python3 -c 'import json, sys; c = [c for c in json.load(sys.stdin) if c["to"] == "14155550177"]; print(c[-1]["spoken"] if c else "")'; }
for _ in $(seq 1 600); do
  [ -n "$(spoken)" ] && break
  sleep 1
done
said=$(spoken)
echo "     the call says: $said"
check "the call asked for a 1 before saying anything" yes "$(curl -sf "$sandbox/calls" | python3 -c 'import json, sys; c = [c for c in json.load(sys.stdin) if c["to"] == "14155550177"][-1]; print("yes" if "1" in c["prompt"] and not any(d in c["prompt"] for d in "023456789") else c["prompt"])')"
check "the hangup notice to the answer URL" 200 "$(curl -sf "$sandbox/calls" | python3 -c 'import json, sys; print([c for c in json.load(sys.stdin) if c["to"] == "14155550177"][-1]["hangup"])')"
call_code=$(echo "$said" | python3 -c 'import re, sys; runs = ["".join(re.findall(r"\d", m)) for m in re.findall(r"\d(?:, \d)+\.", sys.stdin.read())]; print(runs[0] if len(runs) == 2 and runs[0] == runs[1] else "")')
check "the call speaks six digits, twice, in German" yes "$([ ${#call_code} -eq 6 ] && echo "$said" | grep -q 'Bestätigungscode' && echo yes)"
check "the code from the call verifies" 200 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/auth/verify-otp" \
  -H 'content-type: application/json' -d "{\"phoneNumber\":\"+14155550177\",\"otp\":\"$call_code\"}")"
check "plivo-answer-callback.json (sealed under another secret)" 403 "$(invoke plivo-callback plivo-answer-callback.json)"

echo "== the token, checked by PyJWT"
"$(dirname "$st")/python" scripts/check_token.py "$url" otp-lambda-local "$token" +14155552671 &&
  passes=$((passes + 1)) || failures=$((failures + 1))

echo "== the demo page in headless Chromium"
"$(dirname "$st")/python" scripts/browser_test.py "$page" "$url" "$sandbox" otp-lambda-local \
  "$state/demo.png" && passes=$((passes + 1)) || failures=$((failures + 1))
[ -z "${E2E_SCREENSHOT:-}" ] || cp "$state/demo.png" "$E2E_SCREENSHOT" 2>/dev/null || true

echo "== schemathesis against openapi.yaml"
# Run from the throw-away folder, where schemathesis keeps its example database
# (.hypothesis/), so the run leaves nothing in the tree.
# One worker: with two threads, hypothesis parses its filters' source concurrently, which
# Python 3.11's ast module does not survive (SystemError: AST constructor recursion depth
# mismatch) on the path parameter of /auth/verifications/{id}.
root=$PWD
(cd "$state" && PYTHONPATH="$root/scripts" SCHEMATHESIS_HOOKS=schemathesis_hooks "$st" run "$root/openapi.yaml" --url "$url" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection \
  --phases examples,coverage,fuzzing --max-examples 150 --workers 1 --no-color --warnings off) &&
  passes=$((passes + 1)) || failures=$((failures + 1))

echo "e2e: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
