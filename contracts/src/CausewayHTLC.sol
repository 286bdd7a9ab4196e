// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ExactTransfer} from "./ExactTransfer.sol";

/// @title Causeway hashed-timelock contract for ERC-20 tokens and the native coin.
/// @notice Same semantics as devchain's HTLC (specs/evm-contracts.md §2): a lock is claimable by
/// anyone who reveals the SHA-256 preimage before `expiry` (funds go to the recipient), and
/// refundable by anyone from `expiry` on (funds go back to the sender). Times are in seconds.
/// @dev Storage is one slot per lock: `lockId` is the keccak256 of every parameter, so the slot
/// only holds the lock's state and claim/refund pass the parameters back (they are all in the
/// `Locked` event). Reentrancy: every state change happens before any external call
/// (checks-effects-interactions) and all three entry points are also `nonReentrant`
/// (OpenZeppelin's storage guard, which works before Cancun, unlike the transient one).
contract CausewayHTLC is ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// Everything that defines a lock; `lockId` is `keccak256(abi.encode(params))`.
    struct LockParams {
        address sender;
        address recipient;
        /// The ERC-20 token, or address(0) for the native coin.
        address token;
        uint256 amount;
        /// sha256 of the 32-byte preimage.
        bytes32 hashlock;
        /// Unix seconds (block.timestamp): claimable strictly before, refundable from then on.
        uint64 expiry;
    }

    enum LockState {
        None,
        Locked,
        Claimed,
        Refunded
    }

    /// Longest allowed lock, so that an expiry given in milliseconds by mistake (1000x too far)
    /// is rejected instead of freezing funds for millennia.
    uint256 public constant MAX_LOCK_DURATION = 30 days;

    /// The one storage slot per lock. Terminal states are kept forever, so the same parameters
    /// can never be locked twice (a revealed preimage would make a second lock claimable by anyone).
    mapping(bytes32 lockId => LockState) public lockState;

    event Locked(
        bytes32 indexed lockId,
        bytes32 indexed hashlock,
        address sender,
        address recipient,
        address token,
        uint256 amount,
        uint64 expiry
    );
    event Claimed(bytes32 indexed lockId, bytes32 indexed hashlock, bytes32 preimage, address recipient);
    event Refunded(bytes32 indexed lockId, bytes32 indexed hashlock, address sender);

    error ZeroAmount();
    error ZeroHashlock();
    error ZeroRecipient();
    error ExpiryInPast(uint64 expiry, uint256 blockTime);
    error ExpiryTooFar(uint64 expiry, uint256 latestAllowed);
    error DuplicateLock(bytes32 lockId);
    /// `msg.value` must equal `amount` for a native lock and be zero for a token lock.
    error NativeValueMismatch(uint256 expected, uint256 sent);
    error UnknownLock(bytes32 lockId);
    error AlreadyClaimed(bytes32 lockId);
    error AlreadyRefunded(bytes32 lockId);
    error WrongPreimage(bytes32 lockId, bytes32 hashlock);
    error ClaimExpired(bytes32 lockId, uint64 expiry, uint256 blockTime);
    error EarlyRefund(bytes32 lockId, uint64 expiry, uint256 blockTime);

    /// The id of a lock with these parameters (whether or not it exists).
    function lockIdOf(LockParams memory params) public pure returns (bytes32) {
        return keccak256(abi.encode(params));
    }

    /// Locks `amount` of `token` (address(0): the native coin) from the caller for `recipient`.
    /// For a token, approve this contract first; for the native coin send exactly `amount`.
    function lock(address recipient, address token, uint256 amount, bytes32 hashlock, uint64 expiry)
        external
        payable
        nonReentrant
        returns (bytes32 lockId)
    {
        if (recipient == address(0)) revert ZeroRecipient();
        if (amount == 0) revert ZeroAmount();
        if (hashlock == bytes32(0)) revert ZeroHashlock();
        if (expiry <= block.timestamp) revert ExpiryInPast(expiry, block.timestamp);
        uint256 latestAllowed = block.timestamp + MAX_LOCK_DURATION;
        if (expiry > latestAllowed) revert ExpiryTooFar(expiry, latestAllowed);

        lockId = lockIdOf(LockParams(msg.sender, recipient, token, amount, hashlock, expiry));
        if (lockState[lockId] != LockState.None) revert DuplicateLock(lockId);
        lockState[lockId] = LockState.Locked;

        if (token == address(0)) {
            if (msg.value != amount) revert NativeValueMismatch(amount, msg.value);
        } else {
            if (msg.value != 0) revert NativeValueMismatch(0, msg.value);
            ExactTransfer.pullExactly(IERC20(token), msg.sender, amount);
        }
        emit Locked(lockId, hashlock, msg.sender, recipient, token, amount, expiry);
    }

    /// Pays the lock to its recipient; anyone may submit the preimage.
    function claim(LockParams calldata params, bytes32 preimage) external nonReentrant {
        bytes32 lockId = _requireLocked(params);
        if (block.timestamp >= params.expiry) revert ClaimExpired(lockId, params.expiry, block.timestamp);
        // SHA-256 over the 32 raw preimage bytes, exactly as every other Causeway chain hashes it.
        if (sha256(abi.encodePacked(preimage)) != params.hashlock) revert WrongPreimage(lockId, params.hashlock);

        lockState[lockId] = LockState.Claimed;
        emit Claimed(lockId, params.hashlock, preimage, params.recipient);
        _pay(params.token, params.recipient, params.amount);
    }

    /// Returns an expired lock to its sender; anyone may submit.
    function refund(LockParams calldata params) external nonReentrant {
        bytes32 lockId = _requireLocked(params);
        if (block.timestamp < params.expiry) revert EarlyRefund(lockId, params.expiry, block.timestamp);

        lockState[lockId] = LockState.Refunded;
        emit Refunded(lockId, params.hashlock, params.sender);
        _pay(params.token, params.sender, params.amount);
    }

    function _requireLocked(LockParams calldata params) private view returns (bytes32 lockId) {
        lockId = lockIdOf(params);
        LockState state = lockState[lockId];
        if (state == LockState.Locked) return lockId;
        if (state == LockState.Claimed) revert AlreadyClaimed(lockId);
        if (state == LockState.Refunded) revert AlreadyRefunded(lockId);
        revert UnknownLock(lockId);
    }

    function _pay(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            Address.sendValue(payable(to), amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }
}
