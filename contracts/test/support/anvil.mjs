// Starts a private anvil (from the pinned @foundry-rs/anvil npm package) on a free loopback
// port and returns viem clients bound to it. Each test file starts its own and stops it.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createPublicClient, createTestClient, createWalletClient, getAddress, http } from 'viem';
import { foundry } from 'viem/chains';

const require = createRequire(import.meta.url);

/// Anvil mines on demand, so receipts are ready at once; viem's default 4 s poll would dominate.
const RECEIPT_POLL_MS = 20;
/// How long anvil may take to print its listening address before the test gives up.
const STARTUP_TIMEOUT_MS = 30_000;
/// Anvil's startup banner is small; stop buffering stdout beyond this while waiting for it.
const MAX_BANNER_BYTES = 64 * 1024;

/// Path of the real anvil binary shipped by the platform package (no Node wrapper in between,
/// so killing the child kills anvil itself). Rust tests can use the same path or
/// node_modules/.bin/anvil.
export function anvilBinary() {
  const platformPackage = `@foundry-rs/anvil-${process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`;
  try {
    return join(dirname(require.resolve(`${platformPackage}/package.json`)), 'bin', 'anvil');
  } catch {
    throw new Error(`${platformPackage} is not installed: run scripts/setup-evm.sh (npm ci)`);
  }
}

export async function startAnvil(extraArgs = []) {
  // --port 0 lets the OS pick a free port; anvil prints the one it bound.
  const child = spawn(anvilBinary(), ['--host', '127.0.0.1', '--port', '0', '--hardfork', 'prague', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await new Promise((resolve, reject) => {
    let banner = '';
    const timer = setTimeout(() => fail(new Error(`anvil did not report a port within ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS);
    function fail(err) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    }
    child.once('error', (err) => fail(new Error(`could not start anvil at ${anvilBinary()}: ${err.message}`)));
    child.once('exit', (code) => fail(new Error(`anvil exited early with code ${code}: ${banner}`)));
    child.stderr.on('data', (chunk) => {
      if (banner.length < MAX_BANNER_BYTES) banner += chunk;
    });
    child.stdout.on('data', (chunk) => {
      if (banner.length < MAX_BANNER_BYTES) banner += chunk;
      const match = /Listening on 127\.0\.0\.1:(\d+)/.exec(banner);
      if (match) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve(Number(match[1]));
      }
    });
  });

  const url = `http://127.0.0.1:${port}`;
  const transport = http(url);
  const chain = foundry;
  const publicClient = createPublicClient({ chain, transport, pollingInterval: RECEIPT_POLL_MS });
  const testClient = createTestClient({ chain, transport, mode: 'anvil' });
  const accounts = (await publicClient.request({ method: 'eth_accounts' })).map((a) => getAddress(a));
  const wallets = accounts.map((account) => createWalletClient({ chain, transport, account }));
  return {
    url,
    port,
    publicClient,
    testClient,
    accounts,
    wallets,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
