// CausewayBridge against a real anvil (specs/evm-contracts.md §3, specs/notary.md §7). The
// committee is played by a node:crypto Ed25519 key: a FROST(Ed25519) group signature is a
// standard one.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { getContract, zeroAddress } from 'viem';
import * as spec from './support/attestation.mjs';
import { startAnvil } from './support/anvil.mjs';
import { deploy, eventsOf, expectDeployRevert, expectRevert, loadArtifact, send } from './support/contracts.mjs';
import { bigIntToLe32, ed25519Signer, hex } from './support/ed25519.mjs';
import { recordGas } from './support/gas.mjs';

const CHAIN_ID = 'evm-test';
const SOURCE_CHAIN = 'devchain-a';
const COMMITTEE_ID = hex(createHash('sha256').update('causeway test committee').digest());
const NEUTRAL_POINT = bigIntToLe32(1n);
/// The Rust notary crate's attestation vectors (specs/notary.md §7.8): the contract must
/// rebuild and accept exactly those bytes.
const NOTARY_VECTORS = JSON.parse(readFileSync(new URL('../../notary/vectors/attestation.json', import.meta.url), 'utf8'));

describe('CausewayBridge', () => {
  let node, deployer, user, relayer;
  let committee, bridge, wrapped, vaultToken;
  let epoch = 1n;
  let nextSequence = 1n;
  let nextSourceHeight = 1n;

  before(async () => {
    node = await startAnvil();
    [deployer, user, relayer] = node.wallets;
    committee = ed25519Signer();
    vaultToken = (await deploy(node, deployer, 'test/TestToken')).contract;
    bridge = await deployBridge(committee.publicKey);
    const wrappedAddress = (await bridge.read.assetOf(['wUSD'])).token;
    wrapped = getContract({ address: wrappedAddress, abi: loadArtifact('CausewayWrappedToken').abi, client: { public: node.publicClient } });
    // Liquidity the vault releases: minted straight to the bridge.
    await send(node, deployer, vaultToken, 'mint', [bridge.address, 10n ** 24n]);
  });

  after(async () => node?.stop());

  function assets() {
    return [
      { assetId: 'wUSD', vaultToken: zeroAddress, wrappedName: 'Causeway USD', wrappedSymbol: 'wUSD', wrappedDecimals: 6 },
      { assetId: 'GOLD', vaultToken: vaultToken.address, wrappedName: '', wrappedSymbol: '', wrappedDecimals: 0 },
    ];
  }

  async function deployBridge(groupKey) {
    const { contract } = await deploy(node, deployer, 'CausewayBridge', [COMMITTEE_ID, CHAIN_ID, groupKey, epoch, assets()]);
    return contract;
  }

  function transfer(overrides = {}) {
    return {
      sourceChain: SOURCE_CHAIN,
      sourceHeight: nextSourceHeight++,
      sourceIndex: 0,
      sourceTx: hex(randomBytes(32)),
      sourceAsset: 'USD',
      amount: 1_000_000n,
      sender: 'a1'.repeat(32),
      recipient: user.account.address,
      destAsset: 'wUSD',
      ...overrides,
    };
  }

  /// A batch of `transfers` signed by `signer`, with everything the bridge calls need.
  function signedBatch(transfers, { signer = committee, keyEpoch = epoch, sequence = nextSequence, root } = {}) {
    const tree = spec.merkleTree(transfers.map(spec.leafHash));
    const batch = {
      keyEpoch,
      sourceChain: SOURCE_CHAIN,
      sequence,
      transferCount: transfers.length,
      merkleRoot: root ?? spec.toHex(tree.root),
    };
    const signature = signer.sign(spec.transferBatchMessage(COMMITTEE_ID, CHAIN_ID, batch)).bytes;
    const indices = transfers.map((_, i) => i);
    return { batch, signature, transfers, indices, proofs: indices.map((i) => tree.proof(i)) };
  }

  async function submit(signed, wallet = relayer) {
    const receipt = await send(node, wallet, bridge, 'submitBatch', [signed.batch, signed.signature]);
    nextSequence = signed.batch.sequence + 1n;
    return receipt;
  }

  async function executeAt(signed, i) {
    return send(node, relayer, bridge, 'execute', [signed.batch.merkleRoot, signed.transfers[i], i, signed.proofs[i]]);
  }

  function signedRotation(newSigner, { signer = committee, keyEpoch = epoch, newEpoch = epoch + 1n, activateAtMs = 1n, overlapMs = 0n } = {}) {
    const rotation = { keyEpoch, newEpoch, newGroupKey: newSigner.publicKey, activateAtMs, overlapMs };
    return [rotation, signer.sign(spec.keyRotationMessage(COMMITTEE_ID, CHAIN_ID, rotation)).bytes];
  }

  function signedPause(paused, controlSequence, signer = committee) {
    const control = { keyEpoch: epoch, controlSequence, paused };
    return [control, signer.sign(spec.pauseMessage(COMMITTEE_ID, CHAIN_ID, control)).bytes];
  }

  it('signs exactly the bytes of specs/notary.md §7', async () => {
    const signed = signedBatch([transfer(), transfer({ destAsset: 'GOLD' })]);
    assert.equal(await bridge.read.transferBatchMessage([signed.batch]), spec.toHex(spec.transferBatchMessage(COMMITTEE_ID, CHAIN_ID, signed.batch)));
    for (const t of signed.transfers) assert.equal(await bridge.read.leafHash([t]), spec.toHex(spec.leafHash(t)));
    const [rotation] = signedRotation(ed25519Signer(), { activateAtMs: 1_700_000_000_000n, overlapMs: 3_600_000n });
    assert.equal(await bridge.read.keyRotationMessage([rotation]), spec.toHex(spec.keyRotationMessage(COMMITTEE_ID, CHAIN_ID, rotation)));
    const [control] = signedPause(true, 1n);
    assert.equal(await bridge.read.pauseMessage([control]), spec.toHex(spec.pauseMessage(COMMITTEE_ID, CHAIN_ID, control)));
  });

  it('rebuilds the Rust notary crate\'s vectors byte for byte and accepts its signatures (notary §7.8)', async () => {
    const v = NOTARY_VECTORS;
    const find = (kind) => v.attestations.find((a) => a.attestation.kind === kind);
    const [batchVector, rotationVector, pauseVector] = ['transfer_batch', 'key_rotation', 'pause'].map(find);
    const chain = batchVector.attestation.dest_chain;
    const committeeId = `0x${batchVector.attestation.committee_id}`;
    const transfers = v.transfers.map(({ transfer: t }) => ({
      sourceChain: t.source_chain,
      sourceHeight: BigInt(t.source_position.height),
      sourceIndex: t.source_position.index,
      sourceTx: `0x${t.source_tx_hash}`,
      sourceAsset: t.asset,
      amount: BigInt(t.amount),
      sender: t.sender,
      recipient: t.recipient,
      destAsset: t.dest_asset,
    }));
    const { contract: vectorBridge } = await deploy(node, deployer, 'CausewayBridge', [committeeId, chain, `0x${v.group_key_hex}`, 1n, assets()]);

    for (const [i, t] of transfers.entries()) {
      assert.equal(spec.toHex(spec.transferBytes(t)), `0x${v.transfers[i].leaf_bytes_hex}`, `leaf ${i} bytes`);
      assert.equal(await vectorBridge.read.leafHash([t]), `0x${v.transfers[i].leaf_hash}`, `leaf ${i} hash`);
    }
    const tree = spec.merkleTree(transfers.map(spec.leafHash));
    assert.equal(spec.toHex(tree.root), `0x${v.merkle_root}`);
    transfers.forEach((_, i) => assert.deepEqual(tree.proof(i), v.transfers[i].proof.siblings.map((h) => `0x${h}`)));

    const a = batchVector.attestation;
    const batch = { keyEpoch: BigInt(a.key_epoch), sourceChain: a.source_chain, sequence: BigInt(a.sequence), transferCount: a.transfer_count, merkleRoot: `0x${a.merkle_root}` };
    assert.equal(await vectorBridge.read.transferBatchMessage([batch]), `0x${batchVector.message_hex}`);
    const r = rotationVector.attestation;
    const rotation = { keyEpoch: BigInt(r.key_epoch), newEpoch: BigInt(r.new_epoch), newGroupKey: `0x${r.new_group_key}`, activateAtMs: BigInt(r.activate_at_ms), overlapMs: BigInt(r.overlap_ms) };
    assert.equal(r.chain, chain);
    assert.equal(await vectorBridge.read.keyRotationMessage([rotation]), `0x${rotationVector.message_hex}`);
    const p = pauseVector.attestation;
    const control = { keyEpoch: BigInt(p.key_epoch), controlSequence: BigInt(p.control_sequence), paused: p.paused };
    assert.equal(p.chain, chain);
    assert.equal(await vectorBridge.read.pauseMessage([control]), `0x${pauseVector.message_hex}`);

    // The Rust-made signatures verify on-chain: batch, its transfers, pause, then rotation.
    await send(node, relayer, vectorBridge, 'submitBatch', [batch, `0x${batchVector.signature_hex}`]);
    const proofs = v.transfers.map((x) => x.proof.siblings.map((h) => `0x${h}`));
    await send(node, relayer, vectorBridge, 'executeMany', [batch.merkleRoot, transfers, v.transfers.map((x) => x.proof.leaf_index), proofs]);
    assert.equal(await vectorBridge.read.executed([`0x${v.transfers[0].leaf_hash}`]), true);
    await send(node, relayer, vectorBridge, 'setPaused', [control, `0x${pauseVector.signature_hex}`]);
    await send(node, relayer, vectorBridge, 'rotateKey', [rotation, `0x${rotationVector.signature_hex}`]);
    assert.equal(await vectorBridge.read.keyEpoch(), 2n);
  });

  it('mints and releases the transfers of a signed batch, each exactly once (§3.2)', async () => {
    const signed = signedBatch([transfer(), transfer({ destAsset: 'GOLD', amount: 7n }), transfer({ amount: 5n })]);
    const receipt = await submit(signed);
    recordGas('bridge submitBatch (1 Ed25519 verification inside)', receipt.gasUsed);
    const [accepted] = await eventsOf(node, bridge, receipt, 'BatchAccepted');
    assert.deepEqual(accepted.args, { merkleRoot: signed.batch.merkleRoot, sourceChain: SOURCE_CHAIN, sequence: signed.batch.sequence, transferCount: 3, keyEpoch: epoch });
    assert.equal(await bridge.read.lastSequence([SOURCE_CHAIN]), signed.batch.sequence);

    const wrappedBefore = await wrapped.read.balanceOf([user.account.address]);
    const goldBefore = await vaultToken.read.balanceOf([user.account.address]);
    for (let i = 0; i < 3; i++) {
      const r = await executeAt(signed, i);
      if (i < 2) recordGas(`bridge execute, 1 transfer of a 3-transfer batch (${i === 0 ? 'wrapped mint' : 'vault release'})`, r.gasUsed);
      const [event] = await eventsOf(node, bridge, r, 'TransferExecuted');
      assert.equal(event.args.leafHash, spec.toHex(spec.leafHash(signed.transfers[i])));
      assert.equal(event.args.sourceChain, signed.transfers[i].sourceChain);
      assert.equal(event.args.sourceTx, signed.transfers[i].sourceTx);
    }
    assert.equal(await wrapped.read.balanceOf([user.account.address]), wrappedBefore + 1_000_005n);
    assert.equal(await vaultToken.read.balanceOf([user.account.address]), goldBefore + 7n);

    await expectRevert(executeAt(signed, 0), 'AlreadyExecuted');
    await expectRevert(submit({ ...signed }), 'UnexpectedSequence');
    const sameRootLater = signedBatch(signed.transfers);
    await expectRevert(submit(sameRootLater), 'BatchAlreadyAccepted');
  });

  it('rejects a transfer whose fields or proof differ from what the committee signed', async () => {
    const signed = signedBatch([transfer(), transfer(), transfer()]);
    await submit(signed);
    const tampered = [
      { ...signed.transfers[0], amount: signed.transfers[0].amount + 1n },
      { ...signed.transfers[0], recipient: relayer.account.address },
      { ...signed.transfers[0], destAsset: 'GOLD' },
      { ...signed.transfers[0], sourceHeight: signed.transfers[0].sourceHeight + 1n },
    ];
    for (const t of tampered) {
      await expectRevert(send(node, relayer, bridge, 'execute', [signed.batch.merkleRoot, t, 0, signed.proofs[0]]), 'ProofMismatch');
    }
    // The right transfer at another index, and a proof with a sibling too many.
    await expectRevert(send(node, relayer, bridge, 'execute', [signed.batch.merkleRoot, signed.transfers[0], 1, signed.proofs[0]]), 'ProofMismatch');
    await expectRevert(
      send(node, relayer, bridge, 'execute', [signed.batch.merkleRoot, signed.transfers[2], 2, [...signed.proofs[2], hex(randomBytes(32))]]),
      'ProofLengthMismatch',
    );
    await expectRevert(send(node, relayer, bridge, 'execute', [signed.batch.merkleRoot, signed.transfers[0], 3, []]), 'LeafIndexOutOfRange');
    await expectRevert(send(node, relayer, bridge, 'execute', [hex(randomBytes(32)), signed.transfers[0], 0, signed.proofs[0]]), 'UnknownBatch');
    const fromElsewhere = { ...signed.transfers[0], sourceChain: 'devchain-b' };
    await expectRevert(send(node, relayer, bridge, 'execute', [signed.batch.merkleRoot, fromElsewhere, 0, signed.proofs[0]]), 'TransferFromOtherChain');
    await executeAt(signed, 2);
  });

  it('rejects batches whose signed fields were altered after signing (Wormhole lesson)', async () => {
    const signed = signedBatch([transfer()]);
    const alterations = [
      { transferCount: 2 },
      { merkleRoot: hex(randomBytes(32)) },
      { sourceChain: 'devchain-b', sequence: 1n },
    ];
    for (const change of alterations) {
      await expectRevert(submit({ ...signed, batch: { ...signed.batch, ...change } }), 'InvalidSignature');
    }
    const forged = signedBatch([transfer()], { signer: ed25519Signer() });
    await expectRevert(submit(forged), 'InvalidSignature');
    await expectRevert(submit({ ...signed, signature: signed.signature.slice(0, -2) }), 'InvalidSignatureLength');
    // Another chain's batch: the destination is this bridge's own chain id, always.
    const elsewhere = { ...signed, signature: committee.sign(spec.transferBatchMessage(COMMITTEE_ID, 'evm-other', signed.batch)).bytes };
    await expectRevert(submit(elsewhere), 'InvalidSignature');
    await submit(signed);
  });

  it('never accepts a zero root, an empty batch, sequence 0 or a skipped sequence (Nomad lesson)', async () => {
    await expectRevert(submit(signedBatch([transfer()], { root: `0x${'00'.repeat(32)}` })), 'ZeroMerkleRoot');
    const empty = signedBatch([transfer()]);
    empty.batch.transferCount = 0;
    await expectRevert(submit(empty), 'EmptyBatch');
    const tooLarge = signedBatch([transfer()]);
    tooLarge.batch.transferCount = 10_001;
    await expectRevert(submit(tooLarge), 'BatchTooLarge');
    await expectRevert(submit(signedBatch([transfer()], { sequence: 0n })), 'UnexpectedSequence');
    const toItself = signedBatch([transfer()]);
    toItself.batch.sourceChain = CHAIN_ID;
    await expectRevert(submit(toItself), 'SameChain');
    await expectRevert(submit(signedBatch([transfer()], { sequence: nextSequence + 1n })), 'UnexpectedSequence');
    await expectDeployRevert(node, deployer, 'CausewayBridge', [COMMITTEE_ID, CHAIN_ID, `0x${'00'.repeat(32)}`, 1n, []], 'InvalidGroupKey');
    await expectDeployRevert(node, deployer, 'CausewayBridge', [COMMITTEE_ID, CHAIN_ID, NEUTRAL_POINT, 1n, []], 'InvalidGroupKey');
    await expectDeployRevert(node, deployer, 'CausewayBridge', [COMMITTEE_ID, CHAIN_ID, committee.publicKey, 0n, []], 'ZeroKeyEpoch');
    await expectDeployRevert(node, deployer, 'CausewayBridge', [`0x${'00'.repeat(32)}`, CHAIN_ID, committee.publicKey, 1n, []], 'ZeroCommitteeId');
    await expectDeployRevert(node, deployer, 'CausewayBridge', [COMMITTEE_ID, '', committee.publicKey, 1n, []], 'InvalidTextField');
  });

  it('rotates the key by an attestation of the current key; old keys and epochs stop working (§3.3)', async () => {
    const next = ed25519Signer();
    const rotate = (signed) => send(node, relayer, bridge, 'rotateKey', signed);
    const [zeroKeyRotation] = signedRotation(next);
    zeroKeyRotation.newGroupKey = `0x${'00'.repeat(32)}`;
    await expectRevert(rotate([zeroKeyRotation, committee.sign(spec.keyRotationMessage(COMMITTEE_ID, CHAIN_ID, zeroKeyRotation)).bytes]), 'InvalidGroupKey');
    await expectRevert(rotate(signedRotation(next, { newEpoch: epoch + 2n })), 'NewEpochNotNext');
    await expectRevert(rotate(signedRotation(next, { signer: next })), 'InvalidSignature');
    await expectRevert(rotate(signedRotation(next, { keyEpoch: epoch + 1n })), 'WrongKeyEpoch');
    await expectRevert(rotate(signedRotation(next, { activateAtMs: 0n })), 'ZeroActivationTime');
    await expectRevert(rotate(signedRotation(next, { overlapMs: 7n * 24n * 3600n * 1000n + 1n })), 'OverlapTooLong');
    const blockTimeMs = (await node.publicClient.getBlock({ blockTag: 'pending' })).timestamp * 1000n;
    await expectRevert(rotate(signedRotation(next, { activateAtMs: blockTimeMs + 60_000n })), 'RotationNotYetActive');
    // A rotation addressed to another chain does not verify here.
    const [elsewhere] = signedRotation(next);
    await expectRevert(rotate([elsewhere, committee.sign(spec.keyRotationMessage(COMMITTEE_ID, 'evm-other', elsewhere)).bytes]), 'InvalidSignature');

    const receipt = await rotate(signedRotation(next, { activateAtMs: blockTimeMs, overlapMs: 3_600_000n }));
    recordGas('bridge rotateKey', receipt.gasUsed);
    const [rotated] = await eventsOf(node, bridge, receipt, 'KeyRotated');
    assert.deepEqual(rotated.args, { newKeyEpoch: epoch + 1n, newGroupKey: next.publicKey, previousKeyEpoch: epoch });
    const old = committee;
    committee = next;
    epoch += 1n;
    assert.equal(await bridge.read.keyEpoch(), epoch);
    assert.equal(await bridge.read.groupKey(), next.publicKey);

    // Even inside the declared overlap, the old key and the old epoch are refused (current key only).
    await expectRevert(submit(signedBatch([transfer()], { signer: old })), 'InvalidSignature');
    await expectRevert(submit(signedBatch([transfer()], { signer: old, keyEpoch: epoch - 1n })), 'WrongKeyEpoch');
    // The same rotation cannot be replayed.
    await expectRevert(rotate(signedRotation(next, { signer: old, keyEpoch: epoch - 1n, newEpoch: epoch })), 'WrongKeyEpoch');
    const signed = signedBatch([transfer()]);
    await submit(signed);
    await executeAt(signed, 0);
  });

  it('pauses and resumes by signed control only; old controls cannot be replayed (§3.4)', async () => {
    const pending = signedBatch([transfer()]);
    await submit(pending);
    const control = (signed) => send(node, relayer, bridge, 'setPaused', signed);
    await expectRevert(control(signedPause(true, 1n, ed25519Signer())), 'InvalidSignature');
    await expectRevert(control(signedPause(true, 0n)), 'StaleControlSequence');
    const pause = signedPause(true, 1n);
    const receipt = await control(pause);
    recordGas('bridge setPaused', receipt.gasUsed);
    assert.equal(await bridge.read.paused(), true);

    await expectRevert(executeAt(pending, 0), 'BridgePaused');
    await expectRevert(submit(signedBatch([transfer()])), 'BridgePaused');
    await expectRevert(send(node, user, bridge, 'send', ['devchain-a', 'wUSD', 1n, 'b2'.repeat(32)]), 'BridgePaused');
    await expectRevert(control(pause), 'StaleControlSequence');
    await expectRevert(control(signedPause(true, 2n)), 'PauseUnchanged');
    // A control addressed to another chain does not verify here.
    const [elsewhere] = signedPause(false, 2n);
    await expectRevert(control([elsewhere, committee.sign(spec.pauseMessage(COMMITTEE_ID, 'evm-other', elsewhere)).bytes]), 'InvalidSignature');

    // Sequences must increase, not necessarily by one.
    await control(signedPause(false, 5n));
    assert.equal(await bridge.read.paused(), false);
    assert.equal(await bridge.read.lastControlSequence(), 5n);
    await expectRevert(control(pause), 'StaleControlSequence');
    await executeAt(pending, 0);
  });

  it('sends out by burning wrapped tokens and locking vault tokens, emitting Sent (§3.5)', async () => {
    const recipient = 'b2'.repeat(32);
    await send(node, user, wrapped, 'approve', [bridge.address, 300n]);
    const supplyBefore = await wrapped.read.totalSupply();
    const burn = await send(node, user, bridge, 'send', ['devchain-a', 'wUSD', 300n, recipient]);
    recordGas('bridge send (wrapped burn)', burn.gasUsed);
    assert.equal(await wrapped.read.totalSupply(), supplyBefore - 300n);
    const [sent] = await eventsOf(node, bridge, burn, 'Sent');
    assert.deepEqual(sent.args, { nonce: 1n, destChain: 'devchain-a', assetId: 'wUSD', sender: user.account.address, recipient, amount: 300n });

    await send(node, deployer, vaultToken, 'mint', [user.account.address, 50n]);
    await send(node, user, vaultToken, 'approve', [bridge.address, 50n]);
    const bridgeGold = await vaultToken.read.balanceOf([bridge.address]);
    const lock = await send(node, user, bridge, 'send', ['devchain-a', 'GOLD', 50n, recipient]);
    recordGas('bridge send (vault lock)', lock.gasUsed);
    assert.equal(await vaultToken.read.balanceOf([bridge.address]), bridgeGold + 50n);

    await expectRevert(send(node, user, bridge, 'send', ['devchain-a', 'NOPE', 1n, recipient]), 'UnknownAsset');
    await expectRevert(send(node, user, bridge, 'send', ['devchain-a', 'wUSD', 0n, recipient]), 'ZeroAmount');
    await expectRevert(send(node, user, bridge, 'send', ['devchain-a', 'wUSD', 1n, '']), 'InvalidTextField');
    // Without an allowance the bridge cannot burn anyone's wrapped tokens (the token reverts).
    const withTokenErrors = { address: bridge.address, abi: [...bridge.abi, ...wrapped.abi.filter((item) => item.type === 'error')] };
    await expectRevert(send(node, user, withTokenErrors, 'send', ['devchain-a', 'wUSD', 1n, recipient]), 'ERC20InsufficientAllowance');
    await expectRevert(send(node, user, wrapped, 'mint', [user.account.address, 1n]), 'OnlyBridge');
  });

  it('refuses to lock a fee-on-transfer vault token short of the amount sent (§3.5)', async () => {
    const fee = (await deploy(node, deployer, 'test/FeeOnTransferToken')).contract;
    const listing = [{ assetId: 'FEE', vaultToken: fee.address, wrappedName: '', wrappedSymbol: '', wrappedDecimals: 0 }];
    const { contract: feeBridge } = await deploy(node, deployer, 'CausewayBridge', [COMMITTEE_ID, CHAIN_ID, committee.publicKey, epoch, listing]);
    await send(node, deployer, fee, 'mint', [user.account.address, 1000n]);
    await send(node, user, fee, 'approve', [feeBridge.address, 1000n]);
    const args = await expectRevert(send(node, user, feeBridge, 'send', ['devchain-a', 'FEE', 1000n, 'b2'.repeat(32)]), 'TransferShortfall');
    assert.deepEqual(args, [fee.address, 1000n, 990n]);
  });

  it('reports gas for batched mints of 1, 10 and 100 transfers in one transaction', async () => {
    for (const size of [1, 10, 100]) {
      const signed = signedBatch(Array.from({ length: size }, () => transfer()));
      const receipt = await send(node, relayer, bridge, 'submitAndExecute', [signed.batch, signed.signature, signed.transfers, signed.indices, signed.proofs]);
      nextSequence += 1n;
      recordGas(`bridge submitAndExecute, ${size} transfer(s)`, receipt.gasUsed);
      if (size > 1) recordGas(`bridge submitAndExecute, ${size} transfers, per transfer (amortized)`, receipt.gasUsed / BigInt(size));
      for (const t of [signed.transfers[0], signed.transfers[size - 1]]) {
        assert.equal(await bridge.read.executed([spec.toHex(spec.leafHash(t))]), true);
      }
    }
  });
});
