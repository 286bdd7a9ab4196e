// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title The canonical bytes the notary committee signs, and its Merkle batches.
/// @notice Byte for byte specs/notary.md §7 (normative; the Rust notary crate produces the same
/// bytes). Integers are big-endian and fixed width; text fields (chain ids, asset ids, addresses
/// in their chain's text form) are a big-endian u16 length followed by that many bytes, and must
/// be non-empty and within the limits of causeway-core's types.
library Attestations {
    /// Prefix of every signed message: fixes the protocol and its version (notary §7.2).
    bytes internal constant DOMAIN_TAG = "CAUSEWAY-NOTARY-V1";
    uint8 internal constant KIND_TRANSFER_BATCH = 1;
    uint8 internal constant KIND_KEY_ROTATION = 2;
    uint8 internal constant KIND_PAUSE = 3;
    /// Domain prefixes that keep a leaf from ever being read as an inner node and back (§7.6).
    bytes1 internal constant LEAF_PREFIX = 0x00;
    bytes1 internal constant NODE_PREFIX = 0x01;

    /// causeway-core's limits: ChainId 1-64 bytes, AssetId 1-32, Address 1-128.
    uint256 internal constant MAX_CHAIN_ID_BYTES = 64;
    uint256 internal constant MAX_ASSET_ID_BYTES = 32;
    uint256 internal constant MAX_ADDRESS_BYTES = 128;
    /// Most transfers one batch may carry (notary MAX_LEAVES); it bounds a proof to 14 siblings.
    uint256 internal constant MAX_BATCH_TRANSFERS = 10_000;
    /// Longest overlap a rotation may declare (notary MAX_ROTATION_OVERLAP_MS, 7 days).
    uint64 internal constant MAX_ROTATION_OVERLAP_MS = 7 days * 1000;

    /// A batch of transfers from `sourceChain` to this chain, as attested (notary §7.3).
    struct TransferBatch {
        uint64 keyEpoch;
        string sourceChain;
        /// Per source chain, starting at 1, each exactly one more than the last accepted.
        uint64 sequence;
        uint32 transferCount;
        bytes32 merkleRoot;
    }

    /// One transfer, a leaf of a batch's Merkle tree (notary §7.6).
    struct Transfer {
        string sourceChain;
        uint64 sourceHeight;
        uint32 sourceIndex;
        bytes32 sourceTx;
        string sourceAsset;
        uint128 amount;
        /// The sender in the source chain's text form.
        string sender;
        /// Encoded in the leaf as its text form: "0x" and 40 lowercase hex digits.
        address recipient;
        string destAsset;
    }

    /// Hands the committee's authority on this chain to a new key (notary §7.4); the chain
    /// it addresses is the bridge's own chain id.
    struct KeyRotation {
        uint64 keyEpoch;
        uint64 newEpoch;
        bytes32 newGroupKey;
        /// Unix milliseconds by this chain's block time from which the new key is valid.
        uint64 activateAtMs;
        uint64 overlapMs;
    }

    /// Pauses or resumes this chain's bridge (notary §7.5).
    struct PauseControl {
        uint64 keyEpoch;
        /// Strictly increasing per (committee, chain), from 1, so an old order can never be
        /// replayed to undo a newer one.
        uint64 controlSequence;
        bool paused;
    }

    /// A text field is empty or longer than its limit.
    error InvalidTextField(string field, uint256 length, uint256 maxLength);
    error LeafIndexOutOfRange(uint256 index, uint256 transferCount);
    /// The proof does not have exactly one sibling per level where the leaf has one.
    error ProofLengthMismatch(uint256 expected, uint256 given);

    function header(uint8 kind, bytes32 committeeId, uint64 keyEpoch) private pure returns (bytes memory) {
        return abi.encodePacked(DOMAIN_TAG, kind, committeeId, keyEpoch);
    }

    /// Notary §7.3: the signed bytes of a transfer batch.
    function transferBatchMessage(bytes32 committeeId, string memory destChain, TransferBatch calldata batch)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodePacked(
            header(KIND_TRANSFER_BATCH, committeeId, batch.keyEpoch),
            text("sourceChain", batch.sourceChain, MAX_CHAIN_ID_BYTES),
            text("destChain", destChain, MAX_CHAIN_ID_BYTES),
            batch.sequence,
            batch.transferCount,
            batch.merkleRoot
        );
    }

    /// Notary §7.4: the signed bytes of a key rotation addressed to `chain`.
    function keyRotationMessage(bytes32 committeeId, string memory chain, KeyRotation calldata rotation)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodePacked(
            header(KIND_KEY_ROTATION, committeeId, rotation.keyEpoch),
            text("chain", chain, MAX_CHAIN_ID_BYTES),
            rotation.newEpoch,
            rotation.newGroupKey,
            rotation.activateAtMs,
            rotation.overlapMs
        );
    }

    /// Notary §7.5: the signed bytes of a pause control addressed to `chain`.
    function pauseMessage(bytes32 committeeId, string memory chain, PauseControl calldata control)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodePacked(
            header(KIND_PAUSE, committeeId, control.keyEpoch),
            text("chain", chain, MAX_CHAIN_ID_BYTES),
            control.controlSequence,
            control.paused ? uint8(1) : uint8(0)
        );
    }

    /// Notary §7.6: sha256(0x00 || leaf bytes).
    function leafHash(Transfer calldata transfer) internal pure returns (bytes32) {
        bytes memory source = abi.encodePacked(
            text("sourceChain", transfer.sourceChain, MAX_CHAIN_ID_BYTES),
            transfer.sourceHeight,
            transfer.sourceIndex,
            transfer.sourceTx,
            text("sourceAsset", transfer.sourceAsset, MAX_ASSET_ID_BYTES),
            transfer.amount
        );
        bytes memory destination = abi.encodePacked(
            text("sender", transfer.sender, MAX_ADDRESS_BYTES),
            text("recipient", lowercaseHex(transfer.recipient), MAX_ADDRESS_BYTES),
            text("destAsset", transfer.destAsset, MAX_ASSET_ID_BYTES)
        );
        return sha256(abi.encodePacked(LEAF_PREFIX, source, destination));
    }

    /// Notary §7.6: the root reached from `leaf` at `index` of a `transferCount`-leaf tree. Levels pair
    /// nodes (2i, 2i+1); the last node of an odd-width level moves up unchanged and consumes no
    /// proof element. `proof` lists the siblings from the leaf level upwards.
    function rootFromProof(bytes32 leaf, uint256 index, uint256 transferCount, bytes32[] calldata proof)
        internal
        pure
        returns (bytes32 node)
    {
        if (index >= transferCount) revert LeafIndexOutOfRange(index, transferCount);
        node = leaf;
        uint256 used = 0;
        for (uint256 width = transferCount; width > 1; width = (width + 1) / 2) {
            bool isRight = index % 2 == 1;
            if (isRight || index + 1 < width) {
                if (used == proof.length) revert ProofLengthMismatch(used + 1, proof.length);
                bytes32 sibling = proof[used++];
                node = isRight
                    ? sha256(abi.encodePacked(NODE_PREFIX, sibling, node))
                    : sha256(abi.encodePacked(NODE_PREFIX, node, sibling));
            }
            index /= 2;
        }
        if (used != proof.length) revert ProofLengthMismatch(used, proof.length);
    }

    /// An EVM address in Causeway's canonical text form: "0x" and 40 lowercase hex digits.
    /// (OpenZeppelin's Strings needs Cancun's MCOPY; these contracts target Paris.)
    function lowercaseHex(address account) internal pure returns (string memory) {
        bytes memory digits = "0123456789abcdef";
        bytes memory out = new bytes(42);
        out[0] = "0";
        out[1] = "x";
        uint160 value = uint160(account);
        for (uint256 i = 41; i > 1; i--) {
            out[i] = digits[value & 0xf];
            value >>= 4;
        }
        return string(out);
    }

    /// Notary §7.1 `text`: a big-endian u16 length and the bytes, after checking the length.
    function text(string memory field, string memory value, uint256 maxLength) internal pure returns (bytes memory) {
        uint256 length = bytes(value).length;
        if (length == 0 || length > maxLength) revert InvalidTextField(field, length, maxLength);
        return abi.encodePacked(uint16(length), value);
    }
}
