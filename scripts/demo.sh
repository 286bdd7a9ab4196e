#!/usr/bin/env bash
# Builds causeway and runs the demo: two devchain nodes and a relay as real processes,
# a transfer and a swap between them, printed as a timeline.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --bin causeway
exec target/debug/causeway demo "$@"
