"""Schemathesis hooks for scripts/e2e.sh (loaded through SCHEMATHESIS_HOOKS).

`cargo lambda watch`, which routes the local stack's HTTP requests, answers a JSON body that
is not UTF-8 with its own 500 (`{"type":"https://httpstatuses.com/500",...}`) before any
function runs. The functions answer such a body 400 `invalid_request` when it reaches them
(shared/src/http.rs tests it). Only that answer, to only such a body, is set aside: every other
failure counts.
"""

import schemathesis


def _is_utf8(body) -> bool:
    if body is None or isinstance(body, str):
        return True
    try:
        bytes(body).decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    emulator_500 = response.status_code == 500 and b"httpstatuses.com/500" in response.content
    return not (emulator_500 and not _is_utf8(response.request.body))
