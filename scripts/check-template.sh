#!/usr/bin/env bash
# Checks template.yaml the way a deployment would meet it: SAM validation with its linter,
# cfn-lint on its own, then `sam build`, which builds both functions with cargo-lambda for
# arm64. Fails unless both artifacts are aarch64 executables named bootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
sam validate --lint
cfn-lint template.yaml
sam build
for fn in SendOtpFunction VerifyOtpFunction; do
  artifact=".aws-sam/build/$fn/bootstrap"
  # ELF header: e_machine (offset 18, little-endian) is 0xb7 for aarch64.
  machine=$(od -An -tx1 -j18 -N2 "$artifact" | tr -d ' \n')
  if [ "$machine" != "b700" ]; then
    echo "$artifact is not an aarch64 executable (e_machine $machine)" >&2
    exit 1
  fi
  echo "$artifact: aarch64, $(stat -c %s "$artifact") bytes"
done
