//! The Solidity interfaces the adapter speaks (specs/evm-contracts.md §2), and decoding of
//! revert data into the contract's own error names.

// sol! generates a constructor per event; TransferExecuted has nine fields.
#![allow(clippy::too_many_arguments)]

use alloy::sol_types::{GenericContractError, SolInterface};

alloy::sol! {
    #![sol(all_derives)]

    /// `CausewayHTLC.LockParams`: a lock's id is the keccak256 of its ABI encoding.
    struct LockParams {
        address sender;
        address recipient;
        address token;
        uint256 amount;
        bytes32 hashlock;
        uint64 expiry;
    }

    interface CausewayHtlc {
        event Locked(bytes32 indexed lockId, bytes32 indexed hashlock, address sender, address recipient, address token, uint256 amount, uint64 expiry);
        event Claimed(bytes32 indexed lockId, bytes32 indexed hashlock, bytes32 preimage, address recipient);
        event Refunded(bytes32 indexed lockId, bytes32 indexed hashlock, address sender);

        error ZeroAmount();
        error ZeroHashlock();
        error ZeroRecipient();
        error ExpiryInPast(uint64 expiry, uint256 blockTime);
        error ExpiryTooFar(uint64 expiry, uint256 latestAllowed);
        error DuplicateLock(bytes32 lockId);
        error NativeValueMismatch(uint256 expected, uint256 sent);
        error TransferShortfall(address token, uint256 expected, uint256 received);
        error UnknownLock(bytes32 lockId);
        error AlreadyClaimed(bytes32 lockId);
        error AlreadyRefunded(bytes32 lockId);
        error WrongPreimage(bytes32 lockId, bytes32 hashlock);
        error ClaimExpired(bytes32 lockId, uint64 expiry, uint256 blockTime);
        error EarlyRefund(bytes32 lockId, uint64 expiry, uint256 blockTime);
        error ReentrancyGuardReentrantCall();
        error SafeERC20FailedOperation(address token);
        error FailedCall();
        error InsufficientBalance(uint256 balance, uint256 needed);

        function lock(address recipient, address token, uint256 amount, bytes32 hashlock, uint64 expiry) external payable returns (bytes32 lockId);
        function claim(LockParams params, bytes32 preimage) external;
        function refund(LockParams params) external;
    }

    /// `Attestations.TransferBatch` (specs/evm-contracts.md §3).
    struct BridgeTransferBatch { uint64 keyEpoch; string sourceChain; uint64 sequence; uint32 transferCount; bytes32 merkleRoot; }
    /// `Attestations.Transfer`: one leaf of a batch.
    struct BridgeTransfer { string sourceChain; uint64 sourceHeight; uint32 sourceIndex; bytes32 sourceTx; string sourceAsset; uint128 amount; string sender; address recipient; string destAsset; }
    struct BridgeKeyRotation { uint64 keyEpoch; uint64 newEpoch; bytes32 newGroupKey; uint64 activateAtMs; uint64 overlapMs; }
    struct BridgePauseControl { uint64 keyEpoch; uint64 controlSequence; bool paused; }
    /// `CausewayBridge.Asset`: mode 1 vault, 2 wrapped.
    struct BridgeAsset { uint8 mode; address token; }
    /// `CausewayBridge.AssetSetup`: a vault for `vaultToken`, or (zero) a new wrapped token.
    struct BridgeAssetSetup { string assetId; address vaultToken; string wrappedName; string wrappedSymbol; uint8 wrappedDecimals; }

    interface CausewayBridge {
        event BatchAccepted(bytes32 indexed merkleRoot, string sourceChain, uint64 sequence, uint32 transferCount, uint64 keyEpoch);
        event TransferExecuted(bytes32 indexed leafHash, bytes32 indexed merkleRoot, string sourceChain, uint64 sourceHeight, uint32 sourceIndex, bytes32 sourceTx, string destAsset, address recipient, uint128 amount);
        event KeyRotated(uint64 indexed newKeyEpoch, bytes32 newGroupKey, uint64 previousKeyEpoch);
        event Sent(uint64 indexed nonce, string destChain, string assetId, address sender, string recipient, uint128 amount);

        error ZeroCommitteeId();
        error InvalidGroupKey(bytes32 key);
        error ZeroKeyEpoch();
        error UnknownAsset(string assetId);
        error WrongKeyEpoch(uint64 given, uint64 current);
        error InvalidSignatureLength(uint256 length);
        error InvalidSignature();
        error ZeroMerkleRoot();
        error EmptyBatch();
        error BatchTooLarge(uint32 transferCount, uint256 max);
        error UnexpectedSequence(string sourceChain, uint64 given, uint64 expected);
        error BatchAlreadyAccepted(bytes32 merkleRoot);
        error UnknownBatch(bytes32 merkleRoot);
        error ProofMismatch(bytes32 merkleRoot, bytes32 computedRoot);
        error AlreadyExecuted(bytes32 leafHash);
        error ZeroAmount();
        error ZeroRecipient();
        error SameChain(string chain);
        error TransferFromOtherChain(string transferSourceChain);
        error NewEpochNotNext(uint64 given, uint64 expected);
        error RotationNotYetActive(uint64 activateAtMs, uint256 blockTimeMs);
        error ZeroActivationTime();
        error OverlapTooLong(uint64 overlapMs, uint64 maxMs);
        error StaleControlSequence(uint64 given, uint64 last);
        error PauseUnchanged(bool paused);
        error BridgePaused();
        error InvalidTextField(string field, uint256 length, uint256 maxLength);
        error LeafIndexOutOfRange(uint256 index, uint256 transferCount);
        error ProofLengthMismatch(uint256 expected, uint256 given);
        error OnlyBridge(address caller, address bridge);

        function submitBatch(BridgeTransferBatch batch, bytes signature) external;
        function execute(bytes32 merkleRoot, BridgeTransfer transfer, uint32 index, bytes32[] proof) external;
        function submitAndExecute(BridgeTransferBatch batch, bytes signature, BridgeTransfer[] transfers, uint32[] indices, bytes32[][] proofs) external;
        function rotateKey(BridgeKeyRotation rotation, bytes signature) external;
        function setPaused(BridgePauseControl control, bytes signature) external;
        function send(string destChain, string assetId, uint128 amount, string recipient) external returns (uint64 nonce);
        function assetOf(string assetId) external view returns (BridgeAsset asset);
    }

    /// OpenZeppelin ERC-20 (v5 custom errors), plus the test token's `mint`.
    interface Erc20 {
        event Transfer(address indexed from, address indexed to, uint256 value);

        error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
        error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
        error ERC20InvalidApprover(address approver);
        error ERC20InvalidReceiver(address receiver);
        error ERC20InvalidSender(address sender);
        error ERC20InvalidSpender(address spender);

        function transfer(address to, uint256 value) external returns (bool);
        function approve(address spender, uint256 value) external returns (bool);
        function allowance(address owner, address spender) external view returns (uint256);
        function balanceOf(address account) external view returns (uint256);
        function mint(address to, uint256 amount) external;
    }
}

/// Names the revert in `data` by the contract's own error, e.g.
/// `WrongPreimage { lockId: 0x…, hashlock: 0x… }`, or `Error("…")`/`Panic(…)` for
/// `require` strings and panics; `None` when no known error matches.
pub fn decode_revert(data: &[u8]) -> Option<String> {
    if let Ok(e) = CausewayHtlc::CausewayHtlcErrors::abi_decode(data) {
        return Some(variant_debug(format!("{e:?}")));
    }
    if let Ok(e) = CausewayBridge::CausewayBridgeErrors::abi_decode(data) {
        return Some(variant_debug(format!("{e:?}")));
    }
    if let Ok(e) = Erc20::Erc20Errors::abi_decode(data) {
        return Some(variant_debug(format!("{e:?}")));
    }
    if let Ok(e) = GenericContractError::abi_decode(data) {
        return Some(match e {
            GenericContractError::Revert(r) => format!("Error({:?})", r.reason()),
            GenericContractError::Panic(p) => format!("Panic({p})"),
        });
    }
    None
}

/// `Name(Name { a: 1 })` -> `Name { a: 1 }`: the generated enum's Debug repeats the name.
fn variant_debug(text: String) -> String {
    match text.split_once('(') {
        Some((_, inner)) if text.ends_with(')') => inner[..inner.len() - 1].to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::B256;
    use alloy::sol_types::SolError;

    // specs/evm-contracts.md §2.4: reverts are reported by the contract's error name.
    #[test]
    fn custom_errors_are_named_with_their_arguments() {
        let data = CausewayHtlc::WrongPreimage {
            lockId: B256::repeat_byte(1),
            hashlock: B256::repeat_byte(2),
        }
        .abi_encode();
        let text = decode_revert(&data).unwrap();
        assert!(text.starts_with("WrongPreimage {"), "{text}");
        assert!(text.contains("0x0101"), "{text}");
    }

    #[test]
    fn require_strings_and_unknown_data_are_handled() {
        let data = alloy::sol_types::Revert::from("no").abi_encode();
        assert_eq!(decode_revert(&data).unwrap(), "Error(\"no\")");
        assert_eq!(decode_revert(&[1, 2, 3, 4]), None);
        assert_eq!(decode_revert(&[]), None);
    }
}
