// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Ed25519} from "../../src/Ed25519.sol";
import {Sha512} from "../../src/Sha512.sol";

/// Test-only: exposes the Ed25519 and SHA-512 libraries and measures their gas.
contract Ed25519Harness {
    function verify(bytes32 publicKey, bytes32 r, bytes32 s, bytes calldata message) external view returns (bool) {
        return Ed25519.verify(publicKey, r, s, message);
    }

    /// Gas of the library call alone (no transaction or calldata overhead).
    function verifyGas(bytes32 publicKey, bytes32 r, bytes32 s, bytes calldata message)
        external
        view
        returns (bool valid, uint256 gasUsed)
    {
        uint256 start = gasleft();
        valid = Ed25519.verify(publicKey, r, s, message);
        gasUsed = start - gasleft();
    }

    function decodePoint(bytes32 encoded) external view returns (bool valid, uint256 x, uint256 y) {
        return Ed25519.decodePoint(encoded);
    }

    function sha512(bytes calldata message) external pure returns (bytes memory) {
        (bytes32 head, bytes32 tail) = Sha512.hash(message);
        return abi.encodePacked(head, tail);
    }
}
