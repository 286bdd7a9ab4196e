// Deploys artifacts and sends transactions, turning reverts into named custom errors.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BaseError, ContractFunctionRevertedError, decodeErrorResult, encodeDeployData, getAddress, getContract } from 'viem';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'artifacts');

export function loadArtifact(name) {
  return JSON.parse(readFileSync(join(ARTIFACTS, `${name}.json`), 'utf8'));
}

/// Deploys artifact `name` from `wallet` and returns a viem contract instance plus the receipt.
export async function deploy(node, wallet, name, args = [], value = 0n) {
  const { abi, bytecode } = loadArtifact(name);
  const hash = await wallet.deployContract({ abi, bytecode, args, value });
  const receipt = await node.publicClient.waitForTransactionReceipt({ hash });
  assert.equal(receipt.status, 'success', `deploying ${name} failed`);
  const contract = getContract({ address: getAddress(receipt.contractAddress), abi, client: { public: node.publicClient, wallet } });
  return { contract, receipt, address: contract.address, abi };
}

/// Sends `functionName(args)` to `contract` from `wallet`; resolves to the mined receipt.
/// The call is first simulated against the pending block (which carries any timestamp set with
/// setNextBlockTimestamp), so a revert surfaces as a decoded custom error instead of a mined failure.
export async function send(node, wallet, contract, functionName, args = [], { value, gas } = {}) {
  const call = { address: contract.address, abi: contract.abi, functionName, args, value, account: wallet.account };
  await node.publicClient.simulateContract({ ...call, blockTag: 'pending' });
  const hash = await wallet.writeContract({ ...call, gas });
  const receipt = await node.publicClient.waitForTransactionReceipt({ hash });
  assert.equal(receipt.status, 'success', `${functionName} reverted`);
  return receipt;
}

/// Asserts that the call reverts with the custom error `errorName` and returns its arguments.
export async function expectRevert(promise, errorName) {
  try {
    await promise;
  } catch (err) {
    const reverted = err instanceof BaseError ? err.walk((e) => e instanceof ContractFunctionRevertedError) : null;
    assert.ok(reverted, `expected revert ${errorName}, got: ${err.shortMessage ?? err.message}`);
    assert.equal(reverted.data?.errorName, errorName, `expected revert ${errorName}, got: ${reverted.shortMessage}`);
    return reverted.data.args;
  }
  assert.fail(`expected revert ${errorName}, but the call succeeded`);
}

/// Decodes the receipt's logs emitted by `contract` with its ABI.
export async function eventsOf(node, contract, receipt, eventName) {
  const logs = await node.publicClient.getContractEvents({
    address: contract.address,
    abi: contract.abi,
    eventName,
    fromBlock: receipt.blockNumber,
    toBlock: receipt.blockNumber,
  });
  return logs.filter((log) => log.transactionHash === receipt.transactionHash);
}

/// Asserts that deploying `name` with `args` reverts with the custom error `errorName`.
export async function expectDeployRevert(node, wallet, name, args, errorName) {
  const { abi, bytecode } = loadArtifact(name);
  const data = encodeDeployData({ abi, bytecode, args });
  try {
    await node.publicClient.call({ account: wallet.account, data });
  } catch (err) {
    const raw = err.walk((e) => typeof e.data === 'string' && e.data.startsWith('0x'))?.data;
    assert.ok(raw, `expected revert ${errorName}, got: ${err.shortMessage ?? err.message}`);
    assert.equal(decodeErrorResult({ abi, data: raw }).errorName, errorName);
    return;
  }
  assert.fail(`expected deploying ${name} to revert with ${errorName}`);
}
