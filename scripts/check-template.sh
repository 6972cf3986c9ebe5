#!/usr/bin/env bash
# Checks template.yaml the way a deployment would meet it: SAM validation with its linter,
# cfn-lint on its own, checkov's scan (every check passes or is skipped in the template with
# its reason), then `sam build`, which builds every function with cargo-lambda for
# arm64 (the Makefile's build-<Function> targets). Fails unless every artifact is static
# aarch64 executables named bootstrap that pass the end-to-end tests of the function
# binaries (devtools/tests/functions.rs), run under qemu when this machine is not arm64.
set -euo pipefail
cd "$(dirname "$0")/.."
sam validate --lint
cfn-lint template.yaml
python scripts/check_versions.py
"${CHECKOV:-checkov}" -f template.yaml --framework cloudformation --skip-download --compact --quiet
sam build
for fn in SendOtpFunction VerifyOtpFunction PlivoCallbackFunction PlivoAnswerFunction; do
  artifact=".aws-sam/build/$fn/bootstrap"
  # ELF header: e_machine (offset 18, little-endian) is 0xb7 for aarch64.
  machine=$(od -An -tx1 -j18 -N2 "$artifact" | tr -d ' \n')
  if [ "$machine" != "b700" ]; then
    echo "$artifact is not an aarch64 executable (e_machine $machine)" >&2
    exit 1
  fi
  # No program interpreter: linked statically (musl), so no glibc of the runtime's is used.
  if readelf -lW "$artifact" | grep -q INTERP; then
    echo "$artifact is dynamically linked" >&2
    exit 1
  fi
  echo "$artifact: static aarch64, $(stat -c %s "$artifact") bytes"
done

runner=""
if [ "$(uname -m)" != aarch64 ]; then
  runner=qemu-aarch64-static
  command -v "$runner" >/dev/null || { echo "$runner not found (Debian: qemu-user-static)" >&2; exit 1; }
fi
OTP_SAM_BUILD_DIR="$PWD/.aws-sam/build" OTP_FUNCTION_RUNNER="$runner" \
  cargo test -q -p otp-devtools --test functions
