#!/usr/bin/env bash
# Installs the pinned EVM tooling (anvil, solc, OpenZeppelin, viem) from package-lock.json and
# checks that anvil runs. Idempotent: `npm ci` runs only when node_modules is missing or was
# installed from a different lockfile. Prints the anvil path Rust tests should use.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly MIN_NODE_MAJOR=20
readonly STAMP=node_modules/.causeway-lock.sha256
readonly ANVIL_BIN=node_modules/.bin/anvil

die() { printf 'setup-evm: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null || die "node is not installed; install Node.js ${MIN_NODE_MAJOR}+ (https://nodejs.org)"
command -v npm >/dev/null || die "npm is not installed; it ships with Node.js ${MIN_NODE_MAJOR}+"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge "$MIN_NODE_MAJOR" ] || die "Node.js $(node --version) is too old; install ${MIN_NODE_MAJOR}+"
[ -f package-lock.json ] || die "package-lock.json is missing; it is committed with package.json"

lock_hash=$(node -e 'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync("package-lock.json")).digest("hex"))')
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$lock_hash" ] && [ -x "$ANVIL_BIN" ]; then
  echo "setup-evm: node_modules is up to date with package-lock.json"
else
  echo "setup-evm: installing pinned packages (npm ci)"
  npm ci --no-audit --no-fund
  printf '%s' "$lock_hash" > "$STAMP"
fi

version=$("$ANVIL_BIN" --version 2>&1 | head -n 1) || die "anvil does not run: $version"
binary=$(node -e '
  const arch = { x64: "amd64", arm64: "arm64" }[process.arch] ?? process.arch;
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}/package.json`;
  try { process.stdout.write(require("path").join(require("path").dirname(require.resolve(pkg)), "bin", "anvil")); }
  catch { process.stdout.write("(downloaded by the @foundry-rs/anvil postinstall)"); }')
echo "setup-evm: ${version} — run it as ${ANVIL_BIN} (binary: ${binary#"$PWD/"})"
