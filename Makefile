# Everyday commands. `make test` is what CI runs; `make local` runs the service locally.
.PHONY: deps test lint local build release clean-local

deps: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

## Run the whole test suite (starts its own dynalite and Plivo stand-ins).
test: deps
	cargo test --workspace

## Formatting and lints, as CI checks them.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

## The service on this machine: dynalite, a Plivo sandbox and both functions on :3000.
local: deps
	cargo run -p otp-devtools --bin local-stack

build:
	cargo build --workspace

release:
	cargo build --release -p send-otp -p verify-otp

## Forget local data (the dynalite files and the local hashing secret).
clean-local:
	rm -rf .local
