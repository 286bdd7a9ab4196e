// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Attestations} from "./Attestations.sol";
import {CausewayWrappedToken} from "./CausewayWrappedToken.sol";
import {Ed25519} from "./Ed25519.sol";
import {ExactTransfer} from "./ExactTransfer.sol";

/// @title The notary committee's endpoint on one EVM chain (specs/evm-contracts.md §3).
/// @notice Transfers in: anyone submits a transfer batch the committee signed (FROST Ed25519
/// group signature over the canonical bytes of specs/notary.md §7), which stores its Merkle root once;
/// then each transfer executes once with its Merkle proof, releasing a vault token or minting a
/// wrapped one. Transfers out: `send` locks (vault) or burns (wrapped) and emits `Sent`, which
/// the notaries attest for the destination chain. The committee rotates its key and pauses
/// this bridge only by signed attestations; there is no owner.
/// @dev Lessons applied: every signed value the contract acts on is part of the verified bytes
/// and checked against the current epoch's key only (Wormhole); zero roots, zero or invalid
/// keys, epoch 0, sequence 0 and empty batches are rejected explicitly (Nomad). Reentrancy:
/// state changes precede external calls, and all entry points are `nonReentrant`.
contract CausewayBridge is ReentrancyGuard {
    using SafeERC20 for IERC20;

    enum AssetMode {
        Unregistered,
        /// Holds an existing token: `send` locks it, executions release it.
        Vault,
        /// Owns a CausewayWrappedToken: `send` burns it, executions mint it.
        Wrapped
    }

    struct Asset {
        AssetMode mode;
        address token;
    }

    /// How the deployer lists an asset: a vault for `vaultToken`, or (when it is zero) a new
    /// wrapped token with the given name, symbol and decimals.
    struct AssetSetup {
        string assetId;
        address vaultToken;
        string wrappedName;
        string wrappedSymbol;
        uint8 wrappedDecimals;
    }

    /// What the contract remembers of an accepted batch (one slot).
    struct AcceptedBatch {
        uint32 transferCount;
        uint64 keyEpoch;
        /// First 20 bytes of keccak256(sourceChain): every leaf must come from that chain.
        bytes20 sourceChainTag;
    }

    /// Most assets one bridge lists, and most transfers one call executes.
    uint256 public constant MAX_ASSETS = 64;
    uint256 public constant MAX_EXECUTIONS_PER_CALL = 256;

    bytes32 public immutable committeeId;
    /// This chain's Causeway ChainId: the destination every accepted batch must name.
    string public chainId;
    bytes32 public groupKey;
    uint64 public keyEpoch;
    bool public paused;
    uint64 public lastControlSequence;
    /// Outbound transfers counted from 1, so every `Sent` event is unique.
    uint64 public sentCount;

    mapping(bytes32 assetIdHash => Asset) private _assets;
    mapping(bytes32 sourceChainHash => uint64) private _lastSequence;
    mapping(bytes32 merkleRoot => AcceptedBatch) public acceptedBatches;
    mapping(bytes32 leafHash => bool) public executed;

    event BatchAccepted(
        bytes32 indexed merkleRoot, string sourceChain, uint64 sequence, uint32 transferCount, uint64 keyEpoch
    );
    /// Carries the transfer's source identity, so watchers match it to its lock with no
    /// extra call (the notaries mark each transfer of a batch released by it).
    event TransferExecuted(
        bytes32 indexed leafHash,
        bytes32 indexed merkleRoot,
        string sourceChain,
        uint64 sourceHeight,
        uint32 sourceIndex,
        bytes32 sourceTx,
        string destAsset,
        address recipient,
        uint128 amount
    );
    event KeyRotated(uint64 indexed newKeyEpoch, bytes32 newGroupKey, uint64 previousKeyEpoch);
    event PauseChanged(bool paused, uint64 controlSequence);
    event AssetListed(string assetId, AssetMode mode, address token);
    event Sent(
        uint64 indexed nonce, string destChain, string assetId, address sender, string recipient, uint128 amount
    );

    error ZeroCommitteeId();
    error InvalidGroupKey(bytes32 key);
    error ZeroKeyEpoch();
    error TooManyAssets(uint256 given, uint256 max);
    error DuplicateAsset(string assetId);
    error UnknownAsset(string assetId);
    /// The attestation names a key epoch other than the current one; re-sign with the current key.
    error WrongKeyEpoch(uint64 given, uint64 current);
    error InvalidSignatureLength(uint256 length);
    error InvalidSignature();
    error ZeroMerkleRoot();
    error EmptyBatch();
    error BatchTooLarge(uint32 transferCount, uint256 max);
    /// Batches from one source chain are accepted in order: submit `expected` first.
    error UnexpectedSequence(string sourceChain, uint64 given, uint64 expected);
    error BatchAlreadyAccepted(bytes32 merkleRoot);
    error UnknownBatch(bytes32 merkleRoot);
    error ProofMismatch(bytes32 merkleRoot, bytes32 computedRoot);
    error AlreadyExecuted(bytes32 leafHash);
    error ZeroAmount();
    error ZeroRecipient();
    error TooManyExecutions(uint256 given, uint256 max);
    error LengthMismatch(uint256 transfers, uint256 indices, uint256 proofs);
    /// Source and destination of a batch are the same chain.
    error SameChain(string chain);
    error TransferFromOtherChain(string transferSourceChain);
    error NewEpochNotNext(uint64 given, uint64 expected);
    /// The rotation's activation time (this chain's block time) has not come yet: resubmit then.
    error RotationNotYetActive(uint64 activateAtMs, uint256 blockTimeMs);
    error ZeroActivationTime();
    error OverlapTooLong(uint64 overlapMs, uint64 maxMs);
    /// Control sequences only increase: this order is older than (or the same as) the last one.
    error StaleControlSequence(uint64 given, uint64 last);
    error PauseUnchanged(bool paused);
    error BridgePaused();

    constructor(
        bytes32 committeeId_,
        string memory chainId_,
        bytes32 groupKey_,
        uint64 keyEpoch_,
        AssetSetup[] memory assets
    ) {
        if (committeeId_ == bytes32(0)) revert ZeroCommitteeId();
        Attestations.text("chainId", chainId_, Attestations.MAX_CHAIN_ID_BYTES);
        if (!Ed25519.isValidPublicKey(groupKey_)) revert InvalidGroupKey(groupKey_);
        if (keyEpoch_ == 0) revert ZeroKeyEpoch();
        if (assets.length > MAX_ASSETS) revert TooManyAssets(assets.length, MAX_ASSETS);
        committeeId = committeeId_;
        chainId = chainId_;
        groupKey = groupKey_;
        keyEpoch = keyEpoch_;
        for (uint256 i = 0; i < assets.length; i++) {
            _listAsset(assets[i]);
        }
    }

    // ---- transfers in ----------------------------------------------------------------------

    /// Accepts a committee-signed batch; its transfers can then be executed.
    function submitBatch(Attestations.TransferBatch calldata batch, bytes calldata signature) external nonReentrant {
        _acceptBatch(batch, signature);
    }

    /// Executes one transfer of an accepted batch.
    function execute(
        bytes32 merkleRoot,
        Attestations.Transfer calldata transfer,
        uint32 index,
        bytes32[] calldata proof
    ) external nonReentrant {
        _execute(merkleRoot, transfer, index, proof);
    }

    /// Executes several transfers of one accepted batch.
    function executeMany(
        bytes32 merkleRoot,
        Attestations.Transfer[] calldata transfers,
        uint32[] calldata indices,
        bytes32[][] calldata proofs
    ) external nonReentrant {
        _executeAll(merkleRoot, transfers, indices, proofs);
    }

    /// Accepts a batch and executes some or all of its transfers in one transaction.
    function submitAndExecute(
        Attestations.TransferBatch calldata batch,
        bytes calldata signature,
        Attestations.Transfer[] calldata transfers,
        uint32[] calldata indices,
        bytes32[][] calldata proofs
    ) external nonReentrant {
        _acceptBatch(batch, signature);
        _executeAll(batch.merkleRoot, transfers, indices, proofs);
    }

    // ---- committee control -----------------------------------------------------------------

    /// Replaces the group key; signed by the current key, for exactly the next epoch, once its
    /// activation time has come. The old key stops working at once: this contract honours no
    /// overlap window (only the current epoch's key is ever accepted), so batches signed under
    /// the old epoch but not yet submitted must be re-signed under the new one.
    function rotateKey(Attestations.KeyRotation calldata rotation, bytes calldata signature) external nonReentrant {
        _checkEpoch(rotation.keyEpoch);
        if (rotation.newEpoch != keyEpoch + 1) revert NewEpochNotNext(rotation.newEpoch, keyEpoch + 1);
        if (!Ed25519.isValidPublicKey(rotation.newGroupKey)) revert InvalidGroupKey(rotation.newGroupKey);
        if (rotation.activateAtMs == 0) revert ZeroActivationTime();
        if (rotation.activateAtMs > block.timestamp * 1000) {
            revert RotationNotYetActive(rotation.activateAtMs, block.timestamp * 1000);
        }
        if (rotation.overlapMs > Attestations.MAX_ROTATION_OVERLAP_MS) {
            revert OverlapTooLong(rotation.overlapMs, Attestations.MAX_ROTATION_OVERLAP_MS);
        }
        _verify(Attestations.keyRotationMessage(committeeId, chainId, rotation), signature);
        emit KeyRotated(rotation.newEpoch, rotation.newGroupKey, keyEpoch);
        groupKey = rotation.newGroupKey;
        keyEpoch = rotation.newEpoch;
    }

    /// Pauses or resumes this bridge, by the committee's signed control.
    function setPaused(Attestations.PauseControl calldata control, bytes calldata signature) external nonReentrant {
        _checkEpoch(control.keyEpoch);
        if (control.controlSequence <= lastControlSequence) {
            revert StaleControlSequence(control.controlSequence, lastControlSequence);
        }
        if (control.paused == paused) revert PauseUnchanged(paused);
        _verify(Attestations.pauseMessage(committeeId, chainId, control), signature);
        lastControlSequence = control.controlSequence;
        paused = control.paused;
        emit PauseChanged(control.paused, control.controlSequence);
    }

    // ---- transfers out ---------------------------------------------------------------------

    /// Moves `amount` of `assetId` from the caller towards `recipient` on `destChain`: locks it
    /// (vault; approve this bridge first) or burns it (wrapped; approve this bridge first).
    function send(string calldata destChain, string calldata assetId, uint128 amount, string calldata recipient)
        external
        nonReentrant
        returns (uint64 nonce)
    {
        if (paused) revert BridgePaused();
        if (amount == 0) revert ZeroAmount();
        Attestations.text("destChain", destChain, Attestations.MAX_CHAIN_ID_BYTES);
        Attestations.text("recipient", recipient, Attestations.MAX_ADDRESS_BYTES);
        Asset memory asset = _assetOf(assetId);
        nonce = ++sentCount;
        if (asset.mode == AssetMode.Vault) {
            ExactTransfer.pullExactly(IERC20(asset.token), msg.sender, amount);
        } else {
            CausewayWrappedToken(asset.token).burnFrom(msg.sender, amount);
        }
        emit Sent(nonce, destChain, assetId, msg.sender, recipient, amount);
    }

    // ---- views -----------------------------------------------------------------------------

    function assetOf(string calldata assetId) external view returns (Asset memory) {
        return _assets[keccak256(bytes(assetId))];
    }

    /// The sequence of the last batch accepted from `sourceChain` (0 before the first).
    function lastSequence(string calldata sourceChain) external view returns (uint64) {
        return _lastSequence[keccak256(bytes(sourceChain))];
    }

    /// The exact bytes the committee signs for `batch` to this chain (for cross-checking).
    function transferBatchMessage(Attestations.TransferBatch calldata batch) external view returns (bytes memory) {
        return Attestations.transferBatchMessage(committeeId, chainId, batch);
    }

    function keyRotationMessage(Attestations.KeyRotation calldata rotation) external view returns (bytes memory) {
        return Attestations.keyRotationMessage(committeeId, chainId, rotation);
    }

    function pauseMessage(Attestations.PauseControl calldata control) external view returns (bytes memory) {
        return Attestations.pauseMessage(committeeId, chainId, control);
    }

    function leafHash(Attestations.Transfer calldata transfer) external pure returns (bytes32) {
        return Attestations.leafHash(transfer);
    }

    // ---- internals -------------------------------------------------------------------------

    function _acceptBatch(Attestations.TransferBatch calldata batch, bytes calldata signature) private {
        if (paused) revert BridgePaused();
        _checkEpoch(batch.keyEpoch);
        if (batch.merkleRoot == bytes32(0)) revert ZeroMerkleRoot();
        if (batch.transferCount == 0) revert EmptyBatch();
        if (batch.transferCount > Attestations.MAX_BATCH_TRANSFERS) {
            revert BatchTooLarge(batch.transferCount, Attestations.MAX_BATCH_TRANSFERS);
        }
        bytes32 sourceKey = keccak256(bytes(batch.sourceChain));
        if (sourceKey == keccak256(bytes(chainId))) revert SameChain(batch.sourceChain);
        uint64 expected = _lastSequence[sourceKey] + 1;
        if (batch.sequence != expected) revert UnexpectedSequence(batch.sourceChain, batch.sequence, expected);
        if (acceptedBatches[batch.merkleRoot].transferCount != 0) revert BatchAlreadyAccepted(batch.merkleRoot);
        _verify(Attestations.transferBatchMessage(committeeId, chainId, batch), signature);

        _lastSequence[sourceKey] = batch.sequence;
        acceptedBatches[batch.merkleRoot] = AcceptedBatch(batch.transferCount, batch.keyEpoch, bytes20(sourceKey));
        emit BatchAccepted(batch.merkleRoot, batch.sourceChain, batch.sequence, batch.transferCount, batch.keyEpoch);
    }

    function _executeAll(
        bytes32 merkleRoot,
        Attestations.Transfer[] calldata transfers,
        uint32[] calldata indices,
        bytes32[][] calldata proofs
    ) private {
        if (transfers.length > MAX_EXECUTIONS_PER_CALL) {
            revert TooManyExecutions(transfers.length, MAX_EXECUTIONS_PER_CALL);
        }
        if (indices.length != transfers.length || proofs.length != transfers.length) {
            revert LengthMismatch(transfers.length, indices.length, proofs.length);
        }
        for (uint256 i = 0; i < transfers.length; i++) {
            _execute(merkleRoot, transfers[i], indices[i], proofs[i]);
        }
    }

    function _execute(
        bytes32 merkleRoot,
        Attestations.Transfer calldata transfer,
        uint32 index,
        bytes32[] calldata proof
    ) private {
        if (paused) revert BridgePaused();
        AcceptedBatch memory batch = acceptedBatches[merkleRoot];
        if (batch.transferCount == 0) revert UnknownBatch(merkleRoot);
        if (bytes20(keccak256(bytes(transfer.sourceChain))) != batch.sourceChainTag) {
            revert TransferFromOtherChain(transfer.sourceChain);
        }
        if (transfer.amount == 0) revert ZeroAmount();
        if (transfer.recipient == address(0)) revert ZeroRecipient();
        bytes32 leaf = Attestations.leafHash(transfer);
        bytes32 computedRoot = Attestations.rootFromProof(leaf, index, batch.transferCount, proof);
        if (computedRoot != merkleRoot) revert ProofMismatch(merkleRoot, computedRoot);
        if (executed[leaf]) revert AlreadyExecuted(leaf);
        Asset memory asset = _assetOf(transfer.destAsset);

        executed[leaf] = true;
        _emitExecuted(leaf, merkleRoot, transfer);
        if (asset.mode == AssetMode.Vault) {
            IERC20(asset.token).safeTransfer(transfer.recipient, transfer.amount);
        } else {
            CausewayWrappedToken(asset.token).mint(transfer.recipient, transfer.amount);
        }
    }

    function _emitExecuted(bytes32 leaf, bytes32 merkleRoot, Attestations.Transfer calldata transfer) private {
        emit TransferExecuted(
            leaf,
            merkleRoot,
            transfer.sourceChain,
            transfer.sourceHeight,
            transfer.sourceIndex,
            transfer.sourceTx,
            transfer.destAsset,
            transfer.recipient,
            transfer.amount
        );
    }

    function _checkEpoch(uint64 given) private view {
        if (given != keyEpoch) revert WrongKeyEpoch(given, keyEpoch);
    }

    /// Checks a 64-byte Ed25519 signature (R || S) of `message` under the current group key.
    function _verify(bytes memory message, bytes calldata signature) private view {
        if (signature.length != 64) revert InvalidSignatureLength(signature.length);
        if (!Ed25519.verify(groupKey, bytes32(signature[0:32]), bytes32(signature[32:64]), message)) {
            revert InvalidSignature();
        }
    }

    function _assetOf(string calldata assetId) private view returns (Asset memory asset) {
        asset = _assets[keccak256(bytes(assetId))];
        if (asset.mode == AssetMode.Unregistered) revert UnknownAsset(assetId);
    }

    function _listAsset(AssetSetup memory setup) private {
        Attestations.text("assetId", setup.assetId, Attestations.MAX_ASSET_ID_BYTES);
        bytes32 key = keccak256(bytes(setup.assetId));
        if (_assets[key].mode != AssetMode.Unregistered) revert DuplicateAsset(setup.assetId);
        Asset memory asset = setup.vaultToken != address(0)
            ? Asset(AssetMode.Vault, setup.vaultToken)
            : Asset(
                AssetMode.Wrapped,
                address(new CausewayWrappedToken(setup.wrappedName, setup.wrappedSymbol, setup.wrappedDecimals))
            );
        _assets[key] = asset;
        emit AssetListed(setup.assetId, asset.mode, asset.token);
    }
}
