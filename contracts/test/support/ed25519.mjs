// Ed25519 signing in the tests through node:crypto (OpenSSL). A FROST(Ed25519) group
// signature is a standard Ed25519 signature, so this stands in for the notary committee.
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign } from 'node:crypto';

/// DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows it.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/// RFC 8032 §5.1: the group order.
export const L = 2n ** 252n + 27742317777372353535851937790883648493n;

export const hex = (bytes) => `0x${Buffer.from(bytes).toString('hex')}`;

/// A signer from a 32-byte seed (random when omitted).
export function ed25519Signer(seed = randomBytes(32)) {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32);
  return {
    seed,
    publicKey: hex(publicKey),
    /// Signs `message` (0x-hex or bytes); returns R and S as 0x-hex bytes32 and all 64 bytes.
    sign(message) {
      const bytes = typeof message === 'string' ? Buffer.from(message.replace(/^0x/, ''), 'hex') : Buffer.from(message);
      const signature = sign(null, bytes, privateKey);
      return { r: hex(signature.subarray(0, 32)), s: hex(signature.subarray(32)), bytes: hex(signature) };
    },
    /// The secret scalar a (RFC 8032 §5.1.5 steps 1-3) for building adversarial signatures.
    secretScalar() {
      const h = createHash('sha512').update(seed).digest().subarray(0, 32);
      h[0] &= 248;
      h[31] &= 127;
      h[31] |= 64;
      return leToBigInt(h);
    },
  };
}

export function leToBigInt(bytes) {
  return BigInt(`0x${Buffer.from(bytes).reverse().toString('hex') || '0'}`);
}

export function bigIntToLe32(value) {
  return hex(Buffer.from(value.toString(16).padStart(64, '0'), 'hex').reverse());
}
