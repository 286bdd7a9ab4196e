// The Solidity Ed25519 verifier and SHA-512 (specs/evm-contracts.md §4) against RFC 8032 §7.1
// vectors and node:crypto, on a real anvil.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startAnvil } from './support/anvil.mjs';
import { deploy } from './support/contracts.mjs';
import { L, bigIntToLe32, ed25519Signer, hex, leToBigInt } from './support/ed25519.mjs';
import { recordGas } from './support/gas.mjs';

const P = 2n ** 255n - 19n;
const OWN_VECTORS = new URL('./vectors/rfc8032.json', import.meta.url);
/// The notary crate's copy of the same vectors, checked too when present (briefs: one file
/// checks both ed25519-dalek and this verifier).
const NOTARY_VECTORS = new URL('../../notary/vectors/rfc8032.json', import.meta.url);

function loadVectors(url) {
  const data = JSON.parse(readFileSync(url, 'utf8'));
  const list = Array.isArray(data) ? data : (data.vectors ?? data.tests ?? []);
  const pick = (v, ...names) => names.map((n) => v[n]).find((x) => typeof x === 'string');
  return list.map((v, i) => {
    const vector = {
      name: pick(v, 'name', 'description', 'comment') ?? `#${i}`,
      publicKey: pick(v, 'public_key', 'publicKey', 'pk', 'public', 'public_key_hex'),
      message: pick(v, 'message', 'msg', 'm', 'message_hex') ?? '',
      signature: pick(v, 'signature', 'sig', 'signature_hex'),
    };
    assert.ok(vector.publicKey && vector.signature, `${url.pathname} vector ${vector.name}: no public key or signature field`);
    return vector;
  });
}

const strip = (h) => h.replace(/^0x/, '');

describe('Ed25519 verifier (RFC 8032 §5.1.7)', () => {
  let node, verifier;

  before(async () => {
    node = await startAnvil();
    verifier = (await deploy(node, node.wallets[0], 'test/Ed25519Harness')).contract;
  });

  after(async () => node?.stop());

  async function verify(publicKey, r, s, message) {
    return verifier.read.verify([publicKey, r, s, message]);
  }

  it('computes SHA-512 exactly like node:crypto at every padding boundary (FIPS 180-4 §5.1.2)', async () => {
    for (const length of [0, 1, 3, 64, 111, 112, 113, 127, 128, 129, 239, 240, 255, 256, 1023]) {
      const message = randomBytes(length);
      const expected = hex(createHash('sha512').update(message).digest());
      assert.equal(await verifier.read.sha512([hex(message)]), expected, `length ${length}`);
    }
  });

  it('accepts every RFC 8032 §7.1 test vector and reports its gas', async () => {
    const sources = [OWN_VECTORS, ...(existsSync(NOTARY_VECTORS) ? [NOTARY_VECTORS] : [])];
    for (const source of sources) {
      const vectors = loadVectors(source);
      assert.ok(vectors.length >= 5, `${source.pathname} holds all five §7.1 vectors`);
      for (const v of vectors) {
        const sig = strip(v.signature);
        const args = [`0x${strip(v.publicKey)}`, `0x${sig.slice(0, 64)}`, `0x${sig.slice(64)}`, `0x${strip(v.message)}`];
        const [valid, gas] = await verifier.read.verifyGas(args);
        assert.equal(valid, true, `${v.name} from ${source.pathname}`);
        recordGas(`Ed25519 verify, ${strip(v.message).length / 2}-byte message (${v.name})`, gas);
      }
    }
  });

  it('rejects each vector after tampering with R, S, the key or the message', async () => {
    for (const v of loadVectors(OWN_VECTORS)) {
      const sig = strip(v.signature);
      const [a, r, s, m] = [`0x${v.publicKey}`, `0x${sig.slice(0, 64)}`, `0x${sig.slice(64)}`, `0x${v.message}`];
      const flip = (h, i) => `0x${strip(h).slice(0, i * 2)}${(parseInt(strip(h).slice(i * 2, i * 2 + 2), 16) ^ 1).toString(16).padStart(2, '0')}${strip(h).slice(i * 2 + 2)}`;
      assert.equal(await verify(a, flip(r, 0), s, m), false, `${v.name}: R tampered`);
      assert.equal(await verify(a, r, flip(s, 0), m), false, `${v.name}: S tampered`);
      assert.equal(await verify(flip(a, 5), r, s, m), false, `${v.name}: key tampered`);
      assert.equal(await verify(a, r, s, `${m}00`), false, `${v.name}: message extended`);
      if (v.message.length > 0) assert.equal(await verify(a, r, s, flip(m, 0)), false, `${v.name}: message tampered`);
    }
  });

  it('rejects S + L, the malleable twin a cofactor-agnostic verifier would accept (§5.1.7 step 1)', async () => {
    const signer = ed25519Signer();
    const message = hex(Buffer.from('causeway'));
    const { r, s } = signer.sign(message);
    assert.equal(await verify(signer.publicKey, r, s, message), true);
    const twin = bigIntToLe32(leToBigInt(Buffer.from(strip(s), 'hex')) + L);
    assert.equal(await verify(signer.publicKey, r, twin, message), false);
  });

  it('rejects non-canonical point encodings (§5.1.3 steps 1 and 4)', async () => {
    const encodings = {
      'y = p (non-canonical 0)': bigIntToLe32(P),
      'y = p + 1 (non-canonical 1)': bigIntToLe32(P + 1n),
      'y = 2^255 - 1': bigIntToLe32(2n ** 255n - 1n),
      'x = 0 with the sign bit set (negative zero)': bigIntToLe32(1n | (1n << 255n)),
      'y = 2 (no x on the curve)': bigIntToLe32(2n),
    };
    for (const [name, encoding] of Object.entries(encodings)) {
      const [valid] = await verifier.read.decodePoint([encoding]);
      assert.equal(valid, false, name);
    }
    const [valid, x, y] = await verifier.read.decodePoint([bigIntToLe32(1n)]);
    assert.deepEqual([valid, x, y], [true, 0n, 1n], 'the canonical neutral element decodes');
  });

  it('rejects a small-order public key even when the cofactorless equation holds', async () => {
    // With A = the neutral element, R = [a]B and S = a satisfy [S]B = R + [k]A for any message.
    const nonce = ed25519Signer();
    const r = nonce.publicKey;
    const s = bigIntToLe32(nonce.secretScalar() % L);
    const neutral = bigIntToLe32(1n);
    assert.equal(await verify(neutral, r, s, hex(Buffer.from('forged'))), false);
  });

  it('rejects a small-order R even when the cofactorless equation holds', async () => {
    // R = neutral element and S = k*a satisfy [S]B = R + [k]A with A = [a]B.
    const signer = ed25519Signer();
    const neutral = bigIntToLe32(1n);
    const message = Buffer.from('small-order nonce');
    const digest = createHash('sha512').update(Buffer.concat([Buffer.from(strip(neutral), 'hex'), Buffer.from(strip(signer.publicKey), 'hex'), message])).digest();
    const k = leToBigInt(digest) % L;
    const s = bigIntToLe32((k * signer.secretScalar()) % L);
    assert.equal(await verify(signer.publicKey, neutral, s, hex(message)), false);
  });
});
