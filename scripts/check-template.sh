#!/usr/bin/env bash
# Checks template.yaml the way a deployment would meet it: SAM validation with its linter,
# cfn-lint on its own, checkov's scan (every check passes or is skipped in the template with
# its reason), then `sam build`, which builds every function with cargo-lambda for
# arm64 (the Makefile's build-<Function> targets). Fails unless every artifact is static
# aarch64 executables named bootstrap that pass the end-to-end tests of the function
# binaries (devtools/tests/functions.rs), run under qemu when this machine is not arm64.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the last steps need, checked before the first: the build alone takes minutes.
runner=""
[ "$(uname -m)" = aarch64 ] || runner=qemu-aarch64-static
missing=()
for tool in $runner readelf od; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "make template needs ${missing[*]}; on Debian or Ubuntu: sudo apt-get install qemu-user-static binutils" >&2
  exit 1
fi

sam validate --lint
cfn-lint template.yaml
python scripts/check_versions.py
"${CHECKOV:-checkov}" -f template.yaml --framework cloudformation --skip-download --compact --quiet
echo "sam build: every function with cargo lambda for arm64 (several minutes on 2 cores)"
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

OTP_SAM_BUILD_DIR="$PWD/.aws-sam/build" OTP_FUNCTION_RUNNER="$runner" \
  cargo test -q -p otp-devtools --test functions
