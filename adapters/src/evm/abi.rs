//! The Solidity interfaces the adapter speaks (specs/evm-contracts.md §2), and decoding of
//! revert data into the contract's own error names.

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
