#!/usr/bin/env node
// Compiles contracts/src (deployable contracts) and contracts/test/solidity (test-only helpers)
// with the pinned `solc` npm package into contracts/artifacts/<Name>.json and
// contracts/artifacts/test/<Name>.json: { contractName, abi, bytecode, deployedBytecode,
// solcVersion, sourceHash }.
//
//   node scripts/compile-contracts.mjs          write the artifacts (npm run compile)
//   node scripts/compile-contracts.mjs --check  recompile in memory and fail if any committed
//                                               artifact differs (npm run check-artifacts)
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const solc = require('solc');

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const NODE_MODULES = join(REPO, 'node_modules');
const ARTIFACTS = join(REPO, 'contracts', 'artifacts');
const SOURCE_DIRS = [
  { dir: 'contracts/src', out: ARTIFACTS },
  { dir: 'contracts/test/solidity', out: join(ARTIFACTS, 'test') },
];

// Fixed compiler settings: changing any of them changes every artifact (and sourceHash).
// `paris` keeps the bytecode free of PUSH0/TSTORE/MCOPY so it runs on consortium EVMs
// (Besu, GoQuorum, FISCO BCOS) that lag behind Ethereum mainnet hardforks.
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'paris',
  outputSelection: { '*': { '*': ['abi', 'metadata', 'evm.bytecode.object', 'evm.deployedBytecode.object'], '': ['ast'] } },
};

function collectSources() {
  const sources = {};
  for (const { dir } of SOURCE_DIRS) {
    const abs = join(REPO, dir);
    for (const file of readdirSync(abs).filter((f) => f.endsWith('.sol')).sort()) {
      sources[`${dir}/${file}`] = { content: readFileSync(join(abs, file), 'utf8') };
    }
  }
  return sources;
}

// Only node_modules packages may be imported besides our own files (no network, no remappings).
function findImport(path) {
  const candidate = join(NODE_MODULES, path);
  if (!relative(NODE_MODULES, candidate).startsWith('..') && existsSync(candidate)) {
    return { contents: readFileSync(candidate, 'utf8') };
  }
  return { error: `import ${path} not found under node_modules (run scripts/setup-evm.sh)` };
}

function compile() {
  const input = { language: 'Solidity', sources: collectSources(), settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  for (const diagnostic of output.errors ?? []) console.error(diagnostic.formattedMessage);
  if (errors.length > 0) throw new Error(`solc reported ${errors.length} error(s); see above`);

  // An artifact's sourceHash covers exactly the files its contract was built from (its own
  // sources and the OpenZeppelin files they import, per solc's metadata) plus the settings,
  // so editing one contract leaves the other artifacts untouched.
  const sourceText = (name) => input.sources[name]?.content ?? findImport(name).contents;
  const sourceHashOf = (metadata) => {
    const files = Object.keys(JSON.parse(metadata).sources).sort();
    const hash = createHash('sha256').update(JSON.stringify(SETTINGS));
    for (const name of files) hash.update(`\0${name}\0${sourceText(name)}`);
    return '0x' + hash.digest('hex');
  };

  const artifacts = new Map();
  for (const { dir, out } of SOURCE_DIRS) {
    for (const [file, contracts] of Object.entries(output.contracts)) {
      if (!file.startsWith(`${dir}/`)) continue;
      const kinds = contractKinds(output.sources[file].ast);
      for (const [contractName, compiled] of Object.entries(contracts)) {
        if (kinds.get(contractName) !== 'contract') continue; // libraries are inlined, interfaces have no code
        const artifact = {
          contractName,
          sourceFile: file,
          solcVersion: solc.version(),
          sourceHash: sourceHashOf(compiled.metadata),
          abi: compiled.abi,
          bytecode: '0x' + compiled.evm.bytecode.object,
          deployedBytecode: '0x' + compiled.evm.deployedBytecode.object,
        };
        artifacts.set(join(out, `${contractName}.json`), JSON.stringify(artifact, null, 2) + '\n');
      }
    }
  }
  return artifacts;
}

function contractKinds(ast) {
  const kinds = new Map();
  for (const node of ast.nodes) {
    if (node.nodeType === 'ContractDefinition' && !node.abstract) kinds.set(node.name, node.contractKind);
  }
  return kinds;
}

function existingArtifacts() {
  const found = [];
  for (const { out } of SOURCE_DIRS) {
    if (!existsSync(out)) continue;
    for (const f of readdirSync(out).filter((f) => f.endsWith('.json'))) found.push(join(out, f));
  }
  return found;
}

function check(artifacts) {
  const problems = [];
  for (const [path, text] of artifacts) {
    if (!existsSync(path)) problems.push(`missing ${relative(REPO, path)}`);
    else if (readFileSync(path, 'utf8') !== text) problems.push(`stale ${relative(REPO, path)}`);
  }
  for (const path of existingArtifacts()) {
    if (!artifacts.has(path)) problems.push(`orphaned ${relative(REPO, path)} (its contract no longer exists)`);
  }
  if (problems.length > 0) {
    console.error(`Contract artifacts do not match the Solidity sources:\n  ${problems.join('\n  ')}`);
    console.error('Run `npm run compile` and commit contracts/artifacts/.');
    process.exit(1);
  }
  console.log(`${artifacts.size} contract artifacts match their sources (solc ${solc.version()}).`);
}

function write(artifacts) {
  for (const path of existingArtifacts()) if (!artifacts.has(path)) rmSync(path);
  for (const [path, text] of artifacts) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  console.log(`Wrote ${artifacts.size} artifacts to ${relative(REPO, ARTIFACTS)}/ (solc ${solc.version()}).`);
}

const artifacts = compile();
if (process.argv.includes('--check')) check(artifacts);
else write(artifacts);
