#!/usr/bin/env node
// Runs the contract tests (each starts its own anvil) and prints every gas figure they record
// as one Markdown table, the one quoted in specs/evm-contracts.md §6 (npm run gas).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const TEST_DIR = join(REPO, 'contracts', 'test');
const scratch = mkdtempSync(join(tmpdir(), 'causeway-gas-'));
const reportFile = join(scratch, 'gas.jsonl');
try {
  const files = readdirSync(TEST_DIR).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => join(TEST_DIR, f));
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=dot', ...files], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, CAUSEWAY_GAS_REPORT: reportFile },
  });
  if (run.status !== 0) {
    console.error('contract tests failed; run `npm test` to see why');
    process.exit(run.status ?? 1);
  }
  const rows = readFileSync(reportFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  console.log('| operation | gas |\n|---|---:|');
  for (const { label, gas } of rows) console.log(`| ${label} | ${BigInt(gas).toLocaleString('en-US')} |`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
