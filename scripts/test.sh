#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, unit, property and end-to-end tests.
# Works on a fresh clone: it installs what it needs (Rust crates, pinned npm tools).
set -euo pipefail
cd "$(dirname "$0")/.."
# A from-scratch build gains nothing from incremental caches, which would double the disk the
# build needs (CI once ran out of disk).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { printf '\n==> %s\n' "$*"; }

if [ -f package.json ]; then
  step "EVM tooling (pinned npm packages: anvil, solc, OpenZeppelin)"
  bash scripts/setup-evm.sh
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build the causeway binary the end-to-end tests drive"
cargo build --locked --bin causeway

if [ -f package.json ]; then
  step "contract artifacts match their sources"
  npm run --silent check-artifacts
  step "Solidity contract tests against a real anvil"
  npm test --silent
fi

step "example Python adapter's bridge dependency (pinned) and its own tests"
python3 -m pip install --quiet --disable-pip-version-check -r examples/python-ledger/requirements.txt
python3 -m unittest discover -s examples/python-ledger -q

step "tests (unit, property, end-to-end)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --profile ci
else
  cargo test --workspace --locked
fi
