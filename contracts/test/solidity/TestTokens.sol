// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// Test-only tokens. Never deployed outside the contract tests.

/// A plain OpenZeppelin ERC-20 anyone can mint.
contract TestToken is ERC20 {
    constructor() ERC20("Causeway Test Token", "TST") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

/// Burns 1% of every transfer, like fee-on-transfer tokens in the wild.
contract FeeOnTransferToken is ERC20 {
    constructor() ERC20("Fee Token", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, value);
            return;
        }
        uint256 fee = value / 100;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}

/// Calls back into a target whenever it moves tokens, replaying a call chosen by the test
/// (e.g. a second claim of the lock being paid), and bubbles up the callee's revert.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public reentryCall;

    constructor() ERC20("Reentrant Token", "REE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target_, bytes calldata reentryCall_) external {
        target = target_;
        reentryCall = reentryCall_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (target != address(0) && from != address(0) && to != address(0)) {
            (bool ok, bytes memory returned) = target.call(reentryCall);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(returned, 32), mload(returned))
                }
            }
        }
    }
}
