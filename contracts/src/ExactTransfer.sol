// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Pulls tokens and insists that exactly the requested amount arrived.
/// @notice Fee-on-transfer (and other balance-changing) tokens are refused rather than
/// accounted for: a lock or transfer out must record exactly what the user asked for, because
/// the other chain honours that recorded amount.
library ExactTransfer {
    using SafeERC20 for IERC20;

    /// The token delivered `received` instead of `expected` (fee-on-transfer tokens are not supported).
    error TransferShortfall(address token, uint256 expected, uint256 received);

    /// Moves `amount` of `token` from `from` to this contract (approve it first).
    function pullExactly(IERC20 token, address from, uint256 amount) internal {
        uint256 balanceBefore = token.balanceOf(address(this));
        token.safeTransferFrom(from, address(this), amount);
        uint256 balanceAfter = token.balanceOf(address(this));
        // A hostile token may even shrink our balance; treat that as nothing received.
        uint256 received = balanceAfter > balanceBefore ? balanceAfter - balanceBefore : 0;
        if (received != amount) revert TransferShortfall(address(token), amount, received);
    }
}
