#!/usr/bin/env bash
# Builds causeway and runs the demo: devchain nodes and a relay per party as real processes,
# a transfer and a swap between them, printed as a timeline.
#   ./scripts/demo.sh          two devchains
#   ./scripts/demo.sh --evm    the swap between a devchain and a real anvil (EVM); installs
#                              the pinned EVM tooling first (scripts/setup-evm.sh, idempotent)
#                              unless --anvil PATH names one
# Other arguments go to `causeway demo` (see `causeway demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
evm=false own_anvil=false
for arg in "$@"; do
  case "$arg" in
    --evm) evm=true ;;
    --anvil|--anvil=*) own_anvil=true ;;
  esac
done
if $evm && ! $own_anvil; then
  bash scripts/setup-evm.sh
fi
cargo build --bin causeway
exec target/debug/causeway demo "$@"
