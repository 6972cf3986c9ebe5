# Everyday commands. `make test` runs the whole test suite; `make local` runs the service.
.PHONY: deps test rust-tests local-stack-tests lint template bench bench-short local build release clean-local mutants \
	build-SendOtpFunction build-VerifyOtpFunction build-PlivoCallbackFunction build-PlivoAnswerFunction

# Python tools live in virtual environments here (CI keeps them outside the clone).
TOOLS ?= .tools
export SAM_CLI_TELEMETRY = 0

# The functions' packages (devtools/src/lambda.rs lists them for the benchmark and the tests).
FUNCTIONS := send-otp verify-otp plivo-callback

deps: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

$(TOOLS)/%/bin/python:
	python3 -m venv $(TOOLS)/$*

# Install (or update to) the pinned versions of tools/requirements-NAME.txt into $(TOOLS)/NAME.
pip = $(TOOLS)/$(1)/bin/pip install -q --disable-pip-version-check -r tools/requirements-$(1).txt

## Run the whole test suite: unit, integration and end-to-end tests, then the local stack
## driven with cargo lambda invoke, curl and schemathesis.
test: rust-tests local-stack-tests

# The integration tests (modules of shared/tests/it/) that write to the store.
STORE_TESTS := otp_flow:: defences:: security:: handlers:: receipts:: voice:: tokens:: verifications::

## The Rust tests (they start their own dynalite, Plivo and, for secrets, moto stand-ins), then
## the store and flow tests again with dynalite returning the old item on a failed condition,
## as DynamoDB does. The function binaries are built first: the end-to-end tests in
## devtools/tests/functions.rs run them, and would otherwise compile them inside their own run
## time.
rust-tests: deps $(TOOLS)/moto/bin/python
	$(call pip,moto)
	cargo build $(FUNCTIONS:%=-p %)
	MOTO_SERVER="$(abspath $(TOOLS))/moto/bin/moto_server" cargo test --workspace
	OTP_TEST_DYNAMODB=returns-old-item cargo test -p otp-shared --test it -- $(STORE_TESTS)

## The local stack end to end: sample events, HTTP, and schemathesis from openapi.yaml.
local-stack-tests: deps $(TOOLS)/fuzz/bin/python $(TOOLS)/lambda/bin/python
	$(call pip,fuzz)
	$(call pip,lambda)
	scripts/e2e.sh $(abspath $(TOOLS))/fuzz/bin/st $(abspath $(TOOLS))/lambda/bin

## Mutation testing of the store and the use cases with cargo-mutants: first with DynamoDB's
## answers (the old item returned on a failed condition), then dynalite's for any survivor (the
## first pass's survivors do not stop make; the second pass decides).
## It mutates the files in place (they are restored after each mutant): do not edit meanwhile.
## The 30-trial burst test (18 s a run) is left to `make test`; otp_flow's forty concurrent
## guesses hold the same rule (counted before compared) for each mutant.
MUTANTS = cargo mutants --in-place --file "shared/src/store/*.rs" --file "shared/src/service/*.rs" \
	--package otp-shared --test-package otp-shared \
	-- --lib --test it -- $(STORE_TESTS) service:: store:: --skip a_burst_of_guesses
mutants: deps
	cargo install --locked cargo-mutants
	-OTP_TEST_DYNAMODB=returns-old-item $(MUTANTS)
	$(MUTANTS:--in-place=--in-place --iterate)

## Formatting and lints, as CI checks them.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

## Validate, lint and scan template.yaml (sam validate --lint, cfn-lint, checkov), build every
## function for arm64 with `sam build`, and run the end-to-end tests of the function binaries
## on those artifacts (under qemu-user on x86_64).
template: deps $(TOOLS)/sam/bin/python $(TOOLS)/checkov/bin/python $(TOOLS)/moto/bin/python
	$(call pip,sam)
	$(call pip,checkov)
	$(call pip,moto)
	PATH="$(abspath $(TOOLS))/sam/bin:$$PATH" CHECKOV="$(abspath $(TOOLS))/checkov/bin/checkov" \
		MOTO_SERVER="$(abspath $(TOOLS))/moto/bin/moto_server" scripts/check-template.sh

## Benchmark the release binaries, built as they are deployed (cargo lambda, static musl):
## cold start, warm latency, memory, DynamoDB requests per operation, binary and arm64 zip sizes.
bench: deps $(TOOLS)/lambda/bin/python $(TOOLS)/moto/bin/python
	$(call pip,lambda)
	$(call pip,moto)
	PATH="$(abspath $(TOOLS))/lambda/bin:$$PATH" MOTO_SERVER="$(abspath $(TOOLS))/moto/bin/moto_server" \
		cargo run -q -p otp-devtools --bin bench -- --zip

## The same, shorter and without the zips: CI runs it so the benchmark cannot rot. Both add
## the x86_64 musl Rust target with rustup the first time.
bench-short: deps $(TOOLS)/lambda/bin/python $(TOOLS)/moto/bin/python
	$(call pip,lambda)
	$(call pip,moto)
	PATH="$(abspath $(TOOLS))/lambda/bin:$$PATH" MOTO_SERVER="$(abspath $(TOOLS))/moto/bin/moto_server" \
		cargo run -q -p otp-devtools --bin bench -- --short

## The service on this machine: dynalite, a Plivo sandbox and the three functions under
## `cargo lambda watch` on :3000. The first run compiles the workspace (cargo's progress is
## shown).
local: deps $(TOOLS)/lambda/bin/python
	$(call pip,lambda)
	cargo build -p otp-devtools --bin local-stack $(FUNCTIONS:%=-p %)
	PATH="$(abspath $(TOOLS))/lambda/bin:$$PATH" cargo run -q -p otp-devtools --bin local-stack

build:
	cargo build --workspace

release:
	cargo build --release $(FUNCTIONS:%=-p %)

## `sam build` runs these (BuildMethod: makefile): each function as a static arm64 binary,
## linked against musl, named bootstrap in the artifact folder SAM gives. Static musl rather
## than glibc: see docs/performance.md (memory).
LAMBDA_TARGET ?= aarch64-unknown-linux-musl

build-SendOtpFunction:
	$(call lambda-build,send-otp)

build-VerifyOtpFunction:
	$(call lambda-build,verify-otp)

build-PlivoCallbackFunction:
	$(call lambda-build,plivo-callback)

# The same binary, deployed apart for voice calls' answers (template.yaml).
build-PlivoAnswerFunction:
	$(call lambda-build,plivo-callback)

define lambda-build
	if command -v rustup >/dev/null; then rustup target add $(LAMBDA_TARGET); fi
	cargo lambda build --release --target $(LAMBDA_TARGET) --bin $(1) \
		--lambda-dir "$(ARTIFACTS_DIR)" --flatten $(1)
endef

## Forget local data (the dynalite files and the local hashing secret).
clean-local:
	rm -rf .local
