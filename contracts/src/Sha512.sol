// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title SHA-512 (FIPS 180-4), needed by Ed25519 verification (RFC 8032 §5.1.7 step 2).
/// @notice The EVM has no SHA-512 precompile. This is a direct transcription of FIPS 180-4:
/// §5.1.2 padding, §5.2.2 parsing, §6.4.2 hash computation, §4.1.3 functions, §4.2.3 constants,
/// §5.3.5 initial hash value. It is checked against node:crypto at every block-boundary length
/// in contracts/test/ed25519.test.mjs. Wrap-around arithmetic on uint64 is the spec's
/// "addition modulo 2^64", hence the `unchecked` blocks.
library Sha512 {
    /// Returns the 64-byte digest as its bytes 0..31 (`head`) and bytes 32..63 (`tail`).
    function hash(bytes memory message) internal pure returns (bytes32 head, bytes32 tail) {
        // One scratch area for the compression function: 8 state words, the 80-word message
        // schedule W, then the 80 round constants K (one uint64 per 32-byte slot): 8 + 80 + 80.
        uint256[168] memory work;
        uint64[8] memory initial = [
            // FIPS 180-4 §5.3.5: initial hash value H(0).
            uint64(0x6a09e667f3bcc908),
            0xbb67ae8584caa73b,
            0x3c6ef372fe94f82b,
            0xa54ff53a5f1d36f1,
            0x510e527fade682d1,
            0x9b05688c2b3e6c1f,
            0x1f83d9abfb41bd6b,
            0x5be0cd19137e2179
        ];
        uint64[80] memory k = _roundConstants();
        for (uint256 i = 0; i < STATE_WORDS; i++) {
            work[i] = initial[i];
        }
        for (uint256 t = 0; t < ROUNDS; t++) {
            work[STATE_WORDS + ROUNDS + t] = k[t];
        }
        bytes memory padded = _pad(message);
        for (uint256 offset = 0; offset < padded.length; offset += BLOCK_BYTES) {
            _compress(work, padded, offset);
        }
        head = bytes32((work[0] << 192) | (work[1] << 128) | (work[2] << 64) | work[3]);
        tail = bytes32((work[4] << 192) | (work[5] << 128) | (work[6] << 64) | work[7]);
    }

    uint256 private constant STATE_WORDS = 8;
    uint256 private constant ROUNDS = 80;
    uint256 private constant BLOCK_BYTES = 128;

    /// FIPS 180-4 §5.1.2: message || 0x80 || zero bytes || 128-bit big-endian bit length,
    /// to a multiple of 128 bytes.
    function _pad(bytes memory message) private pure returns (bytes memory padded) {
        uint256 length = message.length;
        uint256 paddedLength = ((length + 16) / BLOCK_BYTES + 1) * BLOCK_BYTES;
        padded = new bytes(paddedLength); // zero-filled
        assembly ("memory-safe") {
            let source := add(message, 32)
            let target := add(padded, 32)
            // Whole 32-byte words first, then the last few bytes one by one, so nothing beyond
            // the message is ever copied into the zero padding.
            let wholeWords := and(length, not(31))
            for { let i := 0 } lt(i, wholeWords) { i := add(i, 32) } {
                mstore(add(target, i), mload(add(source, i)))
            }
            for { let i := wholeWords } lt(i, length) { i := add(i, 1) } {
                mstore8(add(target, i), byte(0, mload(add(source, i))))
            }
            mstore8(add(target, length), 0x80)
            // The bit length fits in the last 8 bytes, which are still zero (the message and
            // the 0x80 end at least 16 bytes before the end); bits beyond 2^64 do not occur.
            let lastWord := add(target, sub(paddedLength, 32))
            mstore(lastWord, or(mload(lastWord), shl(3, length)))
        }
    }

    /// FIPS 180-4 §6.4.2 steps 1-4 for the block at `padded[offset .. offset + 128]`, updating
    /// the state in `work[0..8]`. Written in assembly because SHA-512 dominates the cost of an
    /// attestation check; every line maps to one formula of the spec.
    /// Conventions: `and(.., MASK)` is the spec's addition modulo 2^64; a rotation ROTR^n(x)
    /// (§3.2) is computed as `shr(n, x2)` masked to 64 bits, where x2 = x || x (x copied into
    /// bits 64..127), so the bits shifted out at the bottom re-enter at the top.
    function _compress(uint256[168] memory work, bytes memory padded, uint256 offset) private pure {
        assembly ("memory-safe") {
            let MASK := 0xffffffffffffffff
            let w := add(work, 256) // W[0..80]
            // Step 1: §5.2.2 parses the block as 16 big-endian words, then the schedule
            // W_t = σ1(W_t-2) + W_t-7 + σ0(W_t-15) + W_t-16 with
            // σ0(x) = ROTR^1 ^ ROTR^8 ^ SHR^7, σ1(x) = ROTR^19 ^ ROTR^61 ^ SHR^6 (§4.1.3).
            {
                let blockStart := add(add(padded, 32), offset)
                for { let t := 0 } lt(t, 16) { t := add(t, 1) } {
                    mstore(add(w, shl(5, t)), shr(192, mload(add(blockStart, shl(3, t)))))
                }
            }
            for { let slot := add(w, 512) } lt(slot, add(w, 2560)) { slot := add(slot, 32) } {
                let x := mload(sub(slot, 64)) // W_t-2
                let x2 := or(x, shl(64, x))
                let sigma1 := xor(xor(shr(19, x2), shr(61, x2)), shr(6, x))
                x := mload(sub(slot, 480)) // W_t-15
                x2 := or(x, shl(64, x))
                let sigma0 := xor(xor(shr(1, x2), shr(8, x2)), shr(7, x))
                mstore(slot, and(add(add(sigma1, mload(sub(slot, 224))), add(sigma0, mload(sub(slot, 512)))), MASK))
            }
            // Step 2: working variables from the previous hash value.
            let a := mload(work)
            let b := mload(add(work, 32))
            let c := mload(add(work, 64))
            let d := mload(add(work, 96))
            let e := mload(add(work, 128))
            let f := mload(add(work, 160))
            let g := mload(add(work, 192))
            let h := mload(add(work, 224))
            // Step 3: 80 rounds; T1 = h + Σ1(e) + Ch(e,f,g) + K_t + W_t, T2 = Σ0(a) + Maj(a,b,c),
            // Σ0 = ROTR^28 ^ ROTR^34 ^ ROTR^39, Σ1 = ROTR^14 ^ ROTR^18 ^ ROTR^41 (§4.1.3).
            // `slot` walks W; K_t sits 80 slots (2560 bytes) after W_t.
            for { let slot := w } lt(slot, add(w, 2560)) { slot := add(slot, 32) } {
                let x2 := or(e, shl(64, e))
                let t1 := add(add(h, add(mload(slot), mload(add(slot, 2560)))), xor(and(e, f), and(not(e), g)))
                t1 := and(add(t1, and(xor(xor(shr(14, x2), shr(18, x2)), shr(41, x2)), MASK)), MASK)
                x2 := or(a, shl(64, a))
                let t2 := add(and(xor(xor(shr(28, x2), shr(34, x2)), shr(39, x2)), MASK), xor(xor(and(a, b), and(a, c)), and(b, c)))
                h := g
                g := f
                f := e
                e := and(add(d, t1), MASK)
                d := c
                c := b
                b := a
                a := and(add(t1, t2), MASK)
            }
            // Step 4: H(i) = working variables + H(i-1).
            mstore(work, and(add(mload(work), a), MASK))
            mstore(add(work, 32), and(add(mload(add(work, 32)), b), MASK))
            mstore(add(work, 64), and(add(mload(add(work, 64)), c), MASK))
            mstore(add(work, 96), and(add(mload(add(work, 96)), d), MASK))
            mstore(add(work, 128), and(add(mload(add(work, 128)), e), MASK))
            mstore(add(work, 160), and(add(mload(add(work, 160)), f), MASK))
            mstore(add(work, 192), and(add(mload(add(work, 192)), g), MASK))
            mstore(add(work, 224), and(add(mload(add(work, 224)), h), MASK))
        }
    }

    /// FIPS 180-4 §4.2.3: the first 64 bits of the fractional parts of the cube roots of the
    /// first 80 primes.
    function _roundConstants() private pure returns (uint64[80] memory) {
        return [
            uint64(0x428a2f98d728ae22), 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
            0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
            0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
            0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
            0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
            0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
            0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
            0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
            0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
            0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
            0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
            0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
            0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
            0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
            0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
            0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
            0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
            0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
            0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
            0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817
        ];
    }
}
