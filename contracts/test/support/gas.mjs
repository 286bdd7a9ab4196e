// Collects gas figures from the tests and prints them as one table when the file finishes,
// so `npm test` output carries the numbers the spec quotes. With CAUSEWAY_GAS_REPORT set to a
// file path, the figures are also appended there as JSON lines (`npm run gas` collects them).
import { appendFileSync } from 'node:fs';
import { after } from 'node:test';

const figures = new Map();

export function recordGas(label, gasUsed) {
  figures.set(label, gasUsed);
}

after(() => {
  if (figures.size === 0) return;
  const width = Math.max(...[...figures.keys()].map((k) => k.length));
  const lines = [...figures].map(([label, gas]) => `  ${label.padEnd(width)}  ${gas.toLocaleString('en-US').padStart(11)} gas`);
  console.log(`gas used:\n${lines.join('\n')}`);
  const reportFile = process.env.CAUSEWAY_GAS_REPORT;
  if (reportFile) {
    const rows = [...figures].map(([label, gas]) => JSON.stringify({ label, gas: gas.toString() }));
    appendFileSync(reportFile, `${rows.join('\n')}\n`);
  }
});
