// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Sha512} from "./Sha512.sol";

/// @title Ed25519 signature verification (RFC 8032 §5.1.7), strict.
/// @notice A FROST(Ed25519, SHA-512) group signature is a standard Ed25519 signature, so this
/// checks the notary committee's attestations. It accepts exactly what ed25519-dalek's
/// `verify_strict` accepts (the Rust notary crate's check), and additionally every encoding
/// must be canonical:
///   - S must be < L (RFC 8032 §5.1.7 step 1, prevents signature malleability);
///   - A and R must decode per §5.1.3, with y < p and no "negative zero" x (canonical points);
///   - A and R must not be of small order (as verify_strict; blocks key/nonce substitution tricks);
///   - the cofactorless group equation [S]B = R + [k]A must hold (§5.1.7 step 3 allows it).
/// Field arithmetic is mod p = 2^255 - 19 with the EVM's addmod/mulmod; exponentiation uses the
/// modexp precompile (address 0x05, EIP-198). Points use the extended coordinates of §5.1.4.
library Ed25519 {
    /// RFC 8032 §5.1: the field prime p = 2^255 - 19.
    uint256 internal constant P = 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed;
    /// RFC 8032 §5.1: the group order L = 2^252 + 27742317777372353535851937790883648493.
    uint256 internal constant L = 0x1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed;
    /// RFC 8032 §5.1: d = -121665/121666 mod p.
    uint256 private constant D = 37095705934669439343138083508754565189542113879843219016388785533085940283555;
    /// 2*d mod p, used by the §5.1.4 addition formula.
    uint256 private constant D2 = 16295367250680780974490674513165176452449235426866156013048779062215315747161;
    /// 2^((p-1)/4) mod p, a square root of -1 (RFC 8032 §5.1.3 step 3).
    uint256 private constant SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752;
    /// RFC 8032 §5.1: the base point B = (x, 4/5).
    uint256 private constant BASE_X = 15112221349535400772501151409588531511454012693041857206046113283949847762202;
    uint256 private constant BASE_Y = 46316835694926478169428394003475163141307993866256225615783033603165251855960;
    /// 2^256 mod L, to reduce the 512-bit challenge hash (RFC 8032 §5.1.7 step 2).
    uint256 private constant TWO_256_MOD_L = (type(uint256).max % L) + 1;
    address private constant MODEXP_PRECOMPILE = address(0x05);

    /// Raised only if the modexp precompile is missing or failing on this chain, which makes
    /// verification impossible: deploy on a chain with EIP-198.
    error ModExpPrecompileFailed();

    /// Verifies the 64-byte RFC 8032 signature (R || S) of `message` under `publicKey`
    /// (each 32-byte value in its standard little-endian encoding, passed as raw bytes).
    function verify(bytes32 publicKey, bytes32 r, bytes32 s, bytes memory message) internal view returns (bool) {
        // §5.1.7 step 1: decode S and reject S >= L.
        uint256 sScalar = _littleEndian(s);
        if (sScalar >= L) return false;
        // §5.1.7 step 1: decode A and R (§5.1.3); reject small-order points (verify_strict).
        (bool aValid, uint256 ax, uint256 ay) = decodePoint(publicKey);
        if (!aValid || _hasSmallOrder(ax, ay)) return false;
        (bool rValid, uint256 rx, uint256 ry) = decodePoint(r);
        if (!rValid || _hasSmallOrder(rx, ry)) return false;
        // §5.1.7 step 2: k = SHA-512(dom2(F, C) || R || A || PH(M)); for Ed25519 dom2 is empty
        // and PH is the identity. The 64-byte digest is a little-endian integer, reduced mod L.
        // Digest bytes 0..31 are its low-order half, bytes 32..63 its high-order half.
        (bytes32 digestHead, bytes32 digestTail) = Sha512.hash(abi.encodePacked(r, publicKey, message));
        uint256 k = addmod(mulmod(_littleEndian(digestTail), TWO_256_MOD_L, L), _littleEndian(digestHead) % L, L);
        // §5.1.7 step 3 (cofactorless form): [S]B - [k]A must equal R.
        (uint256 qx, uint256 qy, uint256 qz) = _doubleScalarMul(sScalar, k, ax, ay);
        // Projective comparison with the affine R (§6 point_equal): x = X/Z and y = Y/Z.
        return mulmod(rx, qz, P) == qx && mulmod(ry, qz, P) == qy;
    }

    /// True for a key `verify` can ever accept: a canonical curve point not of small order.
    function isValidPublicKey(bytes32 publicKey) internal view returns (bool) {
        (bool valid, uint256 x, uint256 y) = decodePoint(publicKey);
        return valid && !_hasSmallOrder(x, y);
    }

    /// RFC 8032 §5.1.3: decodes a 32-byte point encoding; `valid` is false for anything
    /// non-canonical or off the curve.
    function decodePoint(bytes32 encoded) internal view returns (bool valid, uint256 x, uint256 y) {
        uint256 value = _littleEndian(encoded);
        uint256 xSign = value >> 255;
        y = value & ((1 << 255) - 1);
        // Step 1: the y coordinate must be canonical (< p).
        if (y >= P) return (false, 0, 0);
        // Step 2: x^2 = (y^2 - 1) / (d y^2 + 1) = u/v; candidate root x = u v^3 (u v^7)^((p-5)/8).
        uint256 yy = mulmod(y, y, P);
        uint256 u = addmod(yy, P - 1, P);
        uint256 v = addmod(mulmod(D, yy, P), 1, P);
        uint256 v3 = mulmod(mulmod(v, v, P), v, P);
        uint256 v7 = mulmod(mulmod(v3, v3, P), v, P);
        x = mulmod(mulmod(u, v3, P), _modExp(mulmod(u, v7, P), (P - 5) / 8), P);
        // Step 3: accept x if v x^2 = u, use x * 2^((p-1)/4) if v x^2 = -u, else no root.
        uint256 vxx = mulmod(v, mulmod(x, x, P), P);
        if (vxx != u) {
            if (vxx != addmod(0, P - u, P)) return (false, 0, 0);
            x = mulmod(x, SQRT_M1, P);
        }
        // Step 4: x = 0 with the sign bit set is a non-canonical encoding; otherwise pick the
        // root whose parity is the sign bit.
        if (x == 0 && xSign == 1) return (false, 0, 0);
        if (x & 1 != xSign) x = P - x;
        return (true, x, y);
    }

    /// [8]P is the neutral element exactly for the eight points of small order; the neutral
    /// element is the only result with x = 0 (the group has no element of order 16).
    function _hasSmallOrder(uint256 x, uint256 y) private pure returns (bool) {
        (uint256 x2, uint256 y2, uint256 z2,) = _double(x, y, 1);
        (x2, y2, z2,) = _double(x2, y2, z2);
        (x2,,,) = _double(x2, y2, z2);
        return x2 == 0;
    }

    /// Returns [s]B + [k](-A) in projective (X, Y, Z) by Shamir's trick: one shared chain of
    /// doublings, adding B, -A or B - A per bit pair. Scalars are < L < 2^253.
    function _doubleScalarMul(uint256 s, uint256 k, uint256 ax, uint256 ay)
        private
        pure
        returns (uint256 x, uint256 y, uint256 z)
    {
        uint256[4][4] memory table = _shamirTable(ax, ay);
        uint256 t;
        // Start from the neutral element (0, 1, 1, 0).
        (x, y, z) = (0, 1, 1);
        // unchecked: `bit` stays in 1..253, and all field values are reduced below p.
        unchecked {
            for (uint256 bit = 253; bit > 0; bit--) {
                (x, y, z, t) = _double(x, y, z);
                uint256 selector = ((s >> (bit - 1)) & 1) | (((k >> (bit - 1)) & 1) << 1);
                if (selector != 0) (x, y, z, t) = _add(x, y, z, t, table[selector]);
            }
        }
    }

    /// [unused, B, -A, B - A] in extended coordinates (X, Y, Z, T = XY/Z).
    function _shamirTable(uint256 ax, uint256 ay) private pure returns (uint256[4][4] memory table) {
        table[1] = [BASE_X, BASE_Y, 1, mulmod(BASE_X, BASE_Y, P)];
        uint256 negAx = addmod(0, P - ax, P);
        table[2] = [negAx, ay, 1, mulmod(negAx, ay, P)];
        (uint256 x, uint256 y, uint256 z, uint256 t) = _add(BASE_X, BASE_Y, 1, table[1][3], table[2]);
        table[3] = [x, y, z, t];
    }

    /// RFC 8032 §5.1.4 point addition in extended coordinates (a = -1 twisted Edwards).
    /// In assembly because it runs ~190 times per verification; `sub(p, v)` is -v for v < p.
    function _add(uint256 x1, uint256 y1, uint256 z1, uint256 t1, uint256[4] memory q)
        private
        pure
        returns (uint256 x3, uint256 y3, uint256 z3, uint256 t3)
    {
        assembly ("memory-safe") {
            let p := P
            let x2 := mload(q)
            let y2 := mload(add(q, 0x20))
            // A = (Y1-X1)*(Y2-X2), B = (Y1+X1)*(Y2+X2)
            let a := mulmod(addmod(y1, sub(p, x1), p), addmod(y2, sub(p, x2), p), p)
            let b := mulmod(addmod(y1, x1, p), addmod(y2, x2, p), p)
            // C = T1*2*d*T2, D = Z1*2*Z2
            let c := mulmod(mulmod(t1, D2, p), mload(add(q, 0x60)), p)
            let d := mulmod(addmod(z1, z1, p), mload(add(q, 0x40)), p)
            // E = B-A, F = D-C, G = D+C, H = B+A
            let e := addmod(b, sub(p, a), p)
            let f := addmod(d, sub(p, c), p)
            let g := addmod(d, c, p)
            let h := addmod(b, a, p)
            // X3 = E*F, Y3 = G*H, T3 = E*H, Z3 = F*G
            x3 := mulmod(e, f, p)
            y3 := mulmod(g, h, p)
            t3 := mulmod(e, h, p)
            z3 := mulmod(f, g, p)
        }
    }

    /// RFC 8032 §5.1.4 point doubling (needs no T1). In assembly: it runs 253 times per
    /// verification.
    function _double(uint256 x1, uint256 y1, uint256 z1)
        private
        pure
        returns (uint256 x3, uint256 y3, uint256 z3, uint256 t3)
    {
        assembly ("memory-safe") {
            let p := P
            // A = X1^2, B = Y1^2, C = 2*Z1^2
            let a := mulmod(x1, x1, p)
            let b := mulmod(y1, y1, p)
            let c := mulmod(2, mulmod(z1, z1, p), p)
            // H = A+B, E = H-(X1+Y1)^2, G = A-B, F = C+G
            let h := addmod(a, b, p)
            let sum := addmod(x1, y1, p)
            let e := addmod(h, sub(p, mulmod(sum, sum, p)), p)
            let g := addmod(a, sub(p, b), p)
            let f := addmod(c, g, p)
            // X3 = E*F, Y3 = G*H, T3 = E*H, Z3 = F*G
            x3 := mulmod(e, f, p)
            y3 := mulmod(g, h, p)
            t3 := mulmod(e, h, p)
            z3 := mulmod(f, g, p)
        }
    }

    /// base^exponent mod p through the modexp precompile.
    function _modExp(uint256 base, uint256 exponent) private view returns (uint256) {
        (bool ok, bytes memory result) =
            MODEXP_PRECOMPILE.staticcall(abi.encode(uint256(32), uint256(32), uint256(32), base, exponent, P));
        if (!ok || result.length != 32) revert ModExpPrecompileFailed();
        return abi.decode(result, (uint256));
    }

    /// Reads 32 bytes as the little-endian integer RFC 8032 encodes (§5.1.2).
    function _littleEndian(bytes32 raw) private pure returns (uint256 v) {
        v = uint256(raw);
        // Reverse the byte order by swapping ever larger halves.
        v = ((v & 0xff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00) >> 8)
            | ((v & 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff) << 8);
        v = ((v & 0xffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000) >> 16)
            | ((v & 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff) << 16);
        v = ((v & 0xffffffff00000000ffffffff00000000ffffffff00000000ffffffff00000000) >> 32)
            | ((v & 0x00000000ffffffff00000000ffffffff00000000ffffffff00000000ffffffff) << 32);
        v = ((v & 0xffffffffffffffff0000000000000000ffffffffffffffff0000000000000000) >> 64)
            | ((v & 0x0000000000000000ffffffffffffffff0000000000000000ffffffffffffffff) << 64);
        v = (v >> 128) | (v << 128);
    }
}
