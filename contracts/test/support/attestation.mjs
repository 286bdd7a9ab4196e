// An independent JavaScript encoder of specs/notary.md §7 (attestation bytes, leaves, Merkle
// batches), so the tests check the Solidity encoder against the spec, not against itself.
import { createHash } from 'node:crypto';

export const DOMAIN_TAG = Buffer.from('CAUSEWAY-NOTARY-V1', 'ascii');
export const KIND = { transferBatch: 1, keyRotation: 2, pause: 3 };
const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

const sha256 = (...parts) => createHash('sha256').update(Buffer.concat(parts)).digest();
const bytes32 = (h) => Buffer.from(h.replace(/^0x/, '').padStart(64, '0'), 'hex');
export const toHex = (b) => `0x${Buffer.from(b).toString('hex')}`;

function uint(value, width) {
  return Buffer.from(BigInt(value).toString(16).padStart(width * 2, '0'), 'hex');
}

/// §7.1 text: big-endian u16 length, then the bytes.
function text(value) {
  const b = Buffer.from(value, 'utf8');
  if (b.length === 0 || b.length > 256) throw new Error(`text field ${JSON.stringify(value)} has length ${b.length}`);
  return Buffer.concat([uint(b.length, 2), b]);
}

function header(kind, committeeId, keyEpoch) {
  return Buffer.concat([DOMAIN_TAG, Buffer.from([kind]), bytes32(committeeId), uint(keyEpoch, 8)]);
}

export function transferBatchMessage(committeeId, destChain, batch) {
  return Buffer.concat([
    header(KIND.transferBatch, committeeId, batch.keyEpoch),
    text(batch.sourceChain),
    text(destChain),
    uint(batch.sequence, 8),
    uint(batch.transferCount, 4),
    bytes32(batch.merkleRoot),
  ]);
}

export function keyRotationMessage(committeeId, chain, rotation) {
  return Buffer.concat([
    header(KIND.keyRotation, committeeId, rotation.keyEpoch),
    text(chain),
    uint(rotation.newEpoch, 8),
    bytes32(rotation.newGroupKey),
    uint(rotation.activateAtMs, 8),
    uint(rotation.overlapMs, 8),
  ]);
}

export function pauseMessage(committeeId, chain, control) {
  return Buffer.concat([
    header(KIND.pause, committeeId, control.keyEpoch),
    text(chain),
    uint(control.controlSequence, 8),
    Buffer.from([control.paused ? 1 : 0]),
  ]);
}

export function transferBytes(t) {
  return Buffer.concat([
    text(t.sourceChain),
    uint(t.sourceHeight, 8),
    uint(t.sourceIndex, 4),
    bytes32(t.sourceTx),
    text(t.sourceAsset),
    uint(t.amount, 16),
    text(t.sender),
    text(t.recipient.toLowerCase()),
    text(t.destAsset),
  ]);
}

export function leafHash(t) {
  return sha256(LEAF_PREFIX, transferBytes(t));
}

/// Builds the notary §7.6 tree; returns the root and a proof builder.
export function merkleTree(leaves) {
  if (leaves.length === 0) throw new Error('a batch holds at least one transfer');
  const levels = [leaves];
  while (levels.at(-1).length > 1) {
    const level = levels.at(-1);
    const next = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? sha256(NODE_PREFIX, level[i], level[i + 1]) : level[i]);
    }
    levels.push(next);
  }
  return {
    root: levels.at(-1)[0],
    proof(index) {
      const siblings = [];
      for (const level of levels.slice(0, -1)) {
        if (index % 2 === 1) siblings.push(level[index - 1]);
        else if (index + 1 < level.length) siblings.push(level[index + 1]);
        index = Math.floor(index / 2);
      }
      return siblings.map(toHex);
    },
  };
}
