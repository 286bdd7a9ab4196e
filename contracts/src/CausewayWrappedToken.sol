// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title The wrapped form of a foreign asset, minted and burned only by its CausewayBridge.
/// @notice Deployed by the bridge itself (wrapped mode), so `bridge` is fixed at creation and
/// no one else can ever mint. Burning spends the holder's allowance to the bridge, so the
/// bridge cannot burn tokens the holder did not approve for a transfer out.
contract CausewayWrappedToken is ERC20 {
    address public immutable bridge;
    uint8 private immutable _decimals;

    error OnlyBridge(address caller, address bridge);

    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) {
        bridge = msg.sender;
        _decimals = decimals_;
    }

    modifier onlyBridge() {
        if (msg.sender != bridge) revert OnlyBridge(msg.sender, bridge);
        _;
    }

    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    function mint(address to, uint256 amount) external onlyBridge {
        _mint(to, amount);
    }

    /// Burns `amount` of `from`'s tokens that `from` approved the bridge to move.
    function burnFrom(address from, uint256 amount) external onlyBridge {
        _spendAllowance(from, msg.sender, amount);
        _burn(from, amount);
    }
}
