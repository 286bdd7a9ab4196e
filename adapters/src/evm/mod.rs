//! The EVM adapter: any Ethereum JSON-RPC chain (Besu, GoQuorum, anvil, FISCO BCOS's
//! web3 endpoint) with `CausewayHTLC` deployed (specs/evm-contracts.md §2).
//!
//! Finality is by confirmations: events, balances and transaction outcomes are read only at
//! or below `latest - confirmations`, so a reorg inside that window can never surface an
//! event the relay then acts on. A change below it (the chain broke its own finality) is
//! reported as `Malformed`, loudly, and the relay does not advance. `specs/evm-adapter.md`
//! is the prose form.

mod abi;
mod bridge;
mod bridge_deploy;
mod bridge_events;
mod config;
mod events;
mod locks;
mod rpc;
mod tx;

use std::collections::BTreeMap;

use alloy::primitives::{Address as EvmAddress, Bytes, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use async_trait::async_trait;
use causeway_core::{
    Address, Amount, AssetId, ChainEvent, ChainId, ChainInfo, Cursor, EventPage, Hash32, Position,
};
use serde_json::json;
use tokio::sync::{Mutex, OnceCell};

pub use abi::decode_revert;
pub use bridge_deploy::{bridge_deploy_code, BridgeAssetSpec, WRAPPED_DECIMALS};
pub use config::{
    address_text, parse_evm_address, AssetRef, BridgeRoute, EvmBridge, EvmConfig, NATIVE,
};
pub use tx::{RawEvmTx, SignedTx};

use crate::{
    check_page, Action, AdapterError, Capabilities, ChainAdapter, PreparedTx, TxOutcome, TxState,
    DEFAULT_BATCH_SUBMISSION_BYTES,
};
use abi::{CausewayHtlc, Erc20, LockParams};
use events::{event_of, followed_topics, Skip};
use locks::LockBook;
use rpc::{BlockHead, CallRequest, Rpc};
use tx::{sign, Fees};

/// Most blocks one `eth_getLogs` call covers (many nodes refuse wider ranges).
pub const MAX_BLOCKS_PER_LOG_QUERY: u64 = 2_000;
/// Most `eth_getLogs` ranges one `events` call scans while it finds nothing.
pub const MAX_LOG_QUERIES_PER_PAGE: u32 = 16;
/// Most events one page returns, whatever the caller asks.
pub const MAX_EVENTS_PER_PAGE: u32 = 500;
/// Gas estimates are exact for the state they ran on; this headroom (percent) absorbs
/// state changes between estimate and inclusion.
const GAS_HEADROOM_PERCENT: u64 = 25;
/// Gas of an ERC-20 HTLC lock signed together with its `approve`: it cannot be estimated
/// before the approval lands. A lock costs about 110k; OpenZeppelin tokens stay well below.
const LOCK_AFTER_APPROVE_GAS: u64 = 300_000;
/// Priority fee when the node has no `eth_maxPriorityFeePerGas` (1 gwei).
const DEFAULT_PRIORITY_FEE: u128 = 1_000_000_000;

pub struct EvmAdapter {
    config: EvmConfig,
    rpc: Rpc,
    signer: Option<PrivateKeySigner>,
    /// Next nonce to sign with, held across prepare so concurrent prepares never share one.
    next_nonce: Mutex<Option<u64>>,
    /// Set once the endpoint proved to serve `config.evm_chain_id`.
    chain_checked: OnceCell<()>,
    /// The highest finalized block an `events` page covered, to detect a broken finality.
    last_served: Mutex<Option<BlockHead>>,
    locks: LockBook,
}

/// The `0x` address of a secp256k1 secret key, or why the bytes are not a key.
pub fn evm_address_of(secret: &[u8; 32]) -> Result<Address, String> {
    PrivateKeySigner::from_bytes(&B256::from(*secret))
        .map(|k| address_text(k.address()))
        .map_err(|e| format!("not a secp256k1 secret key: {e}"))
}

impl EvmAdapter {
    /// An adapter for `config`, signing with `secret` (a secp256k1 key) if given. Connection
    /// is lazy: an unreachable node or a wrong chain id is reported by the first call.
    pub fn new(config: EvmConfig, secret: Option<[u8; 32]>) -> Result<Self, AdapterError> {
        let signer = secret
            .map(|s| {
                PrivateKeySigner::from_bytes(&B256::from(s)).map_err(|e| AdapterError::Rejected {
                    chain: config.chain.clone(),
                    code: None,
                    message: format!("the configured key is not a secp256k1 key: {e}"),
                })
            })
            .transpose()?;
        Ok(EvmAdapter {
            rpc: Rpc::new(config.chain.clone(), &config.endpoint)?,
            signer,
            next_nonce: Mutex::new(None),
            chain_checked: OnceCell::new(),
            last_served: Mutex::new(None),
            locks: LockBook::default(),
            config,
        })
    }

    /// An adapter for set-up tools (deployment): the EVM chain id is the node's own, no
    /// assets, no HTLC, instant finality.
    pub async fn for_tools(
        chain: ChainId,
        endpoint: &str,
        secret: [u8; 32],
    ) -> Result<Self, AdapterError> {
        let evm_chain_id = Rpc::new(chain.clone(), endpoint)?.chain_id().await?;
        EvmAdapter::new(
            EvmConfig {
                chain,
                endpoint: endpoint.to_string(),
                evm_chain_id,
                htlc_contract: None,
                confirmations: 0,
                block_time_ms: 1_000,
                assets: BTreeMap::new(),
                bridge: None,
            },
            Some(secret),
        )
    }

    /// Calldata of the test token's `mint(to, amount)`.
    pub fn mint_calldata(to: EvmAddress, amount: u128) -> Vec<u8> {
        Erc20::mintCall {
            to,
            amount: U256::from(amount),
        }
        .abi_encode()
    }

    pub fn config(&self) -> &EvmConfig {
        &self.config
    }

    fn rejected(&self, message: String) -> AdapterError {
        AdapterError::Rejected {
            chain: self.config.chain.clone(),
            code: None,
            message,
        }
    }

    async fn ensure_chain(&self) -> Result<(), AdapterError> {
        self.chain_checked
            .get_or_try_init(|| async {
                let found = self.rpc.chain_id().await?;
                if found == self.config.evm_chain_id {
                    Ok(())
                } else {
                    Err(AdapterError::WrongChain {
                        chain: self.config.chain.clone(),
                        expected: self.config.chain.clone(),
                        found: format!(
                            "EVM chain id {found} at {} (config says evm_chain_id = {})",
                            self.config.endpoint, self.config.evm_chain_id
                        ),
                    })
                }
            })
            .await
            .map(|_| ())
    }

    /// `(latest, finalized)` block heights.
    async fn heights(&self) -> Result<(u64, u64), AdapterError> {
        let head = self.rpc.block_number().await?;
        Ok((head, head.saturating_sub(self.config.confirmations)))
    }

    fn evm_address(&self, who: &str, a: &Address) -> Result<EvmAddress, AdapterError> {
        parse_evm_address(a.as_str()).map_err(|e| self.rejected(format!("{who}: {e}")))
    }

    fn htlc(&self) -> Result<EvmAddress, AdapterError> {
        self.config
            .htlc_contract
            .ok_or_else(|| AdapterError::Unsupported {
                chain: self.config.chain.clone(),
                what: "HTLC actions without `htlc_contract` in the chain's [chain.evm] config"
                    .into(),
            })
    }

    fn signer_key(&self) -> Result<&PrivateKeySigner, AdapterError> {
        self.signer.as_ref().ok_or_else(|| AdapterError::NoSigner {
            chain: self.config.chain.clone(),
        })
    }

    /// Fails (a typed `Malformed`, logged as an error) if the last block an events page
    /// covered changed or vanished: the chain reorganised below its declared finality.
    async fn check_finality_held(&self) -> Result<(), AdapterError> {
        let Some(served) = *self.last_served.lock().await else {
            return Ok(());
        };
        let now = self.rpc.block(served.number).await?;
        if now.map(|b| b.hash) == Some(served.hash) {
            return Ok(());
        }
        let detail = format!(
            "finalized block {} was {} and is now {}: the chain reorganised deeper than its \
             {} confirmations; stop and raise `confirmations` for this chain",
            served.number,
            served.hash,
            now.map_or("gone".to_string(), |b| b.hash.to_string()),
            self.config.confirmations
        );
        tracing::error!(chain = %self.config.chain, "{detail}");
        Err(self.rpc.malformed(detail))
    }

    async fn remember_served(&self, head: BlockHead) {
        let mut last = self.last_served.lock().await;
        if last.is_none_or(|l| l.number <= head.number) {
            *last = Some(head);
        }
    }

    async fn block_head(&self, number: u64) -> Result<BlockHead, AdapterError> {
        self.rpc
            .block(number)
            .await?
            .ok_or_else(|| self.rpc.malformed(format!("block {number} is missing")))
    }

    async fn fees(&self) -> Result<Fees, AdapterError> {
        let latest = self.rpc.latest_block().await?;
        Ok(match latest.base_fee {
            Some(base) => {
                let priority = self
                    .rpc
                    .max_priority_fee()
                    .await?
                    .unwrap_or(DEFAULT_PRIORITY_FEE);
                // Twice the base fee survives six full blocks of base-fee growth.
                Fees::Eip1559 {
                    max_fee: base.saturating_mul(2).saturating_add(priority),
                    max_priority: priority,
                }
            }
            None => Fees::Legacy {
                gas_price: self.rpc.gas_price().await?,
            },
        })
    }

    async fn estimate(&self, call: &CallRequest) -> Result<u64, AdapterError> {
        let gas = self.rpc.estimate_gas(call).await?;
        Ok(gas.saturating_add(gas * GAS_HEADROOM_PERCENT / 100))
    }

    /// The calls an action needs, in order; only the last is the action itself. An ERC-20
    /// HTLC lock whose allowance is short is preceded by an unlimited `approve` of the HTLC
    /// contract, so the relay never needs a separate set-up step and later locks need none.
    async fn calls_of(
        &self,
        from: EvmAddress,
        action: &Action,
    ) -> Result<Vec<(CallRequest, Option<u64>)>, AdapterError> {
        let call = |to: EvmAddress, input: Vec<u8>, value: U256| CallRequest {
            from,
            to: Some(to),
            input: Bytes::from(input),
            value,
        };
        Ok(match action {
            Action::Transfer { to, asset, amount } => {
                let to = self.evm_address("transfer recipient", to)?;
                let value = U256::from(amount.0);
                vec![(
                    match self.config.asset(asset)? {
                        AssetRef::Native => call(to, Vec::new(), value),
                        AssetRef::Erc20(token) => call(
                            token,
                            Erc20::transferCall { to, value }.abi_encode(),
                            U256::ZERO,
                        ),
                    },
                    None,
                )]
            }
            Action::HtlcLock {
                recipient,
                asset,
                amount,
                hashlock,
                expiry_ms,
            } => {
                let htlc = self.htlc()?;
                let recipient = self.evm_address("lock recipient", recipient)?;
                let amount = U256::from(amount.0);
                // Whole seconds, rounded down: the lock expires no later than asked, and the
                // Locked event reports the real expiry (specs/evm-contracts.md §2).
                let expiry = expiry_ms / 1000;
                let (token, value) = match self.config.asset(asset)? {
                    AssetRef::Native => (EvmAddress::ZERO, amount),
                    AssetRef::Erc20(t) => (t, U256::ZERO),
                };
                let lock = call(
                    htlc,
                    CausewayHtlc::lockCall {
                        recipient,
                        token,
                        amount,
                        hashlock: B256::from(hashlock.0),
                        expiry,
                    }
                    .abi_encode(),
                    value,
                );
                if token.is_zero() {
                    vec![(lock, None)]
                } else {
                    self.approving_first(token, htlc, amount, lock, LOCK_AFTER_APPROVE_GAS)
                        .await?
                }
            }
            Action::HtlcClaim { lock_id, preimage } => {
                let htlc = self.htlc()?;
                let params = self.lock_params(lock_id).await?;
                vec![(
                    call(
                        htlc,
                        CausewayHtlc::claimCall {
                            params,
                            preimage: B256::from(preimage.0),
                        }
                        .abi_encode(),
                        U256::ZERO,
                    ),
                    None,
                )]
            }
            Action::HtlcRefund { lock_id } => {
                let htlc = self.htlc()?;
                let params = self.lock_params(lock_id).await?;
                vec![(
                    call(
                        htlc,
                        CausewayHtlc::refundCall { params }.abi_encode(),
                        U256::ZERO,
                    ),
                    None,
                )]
            }
            Action::BridgeSend { .. }
            | Action::BridgeSubmitAttestation { .. }
            | Action::BridgeExecute { .. }
            | Action::BridgeSubmitBatch { .. } => return self.bridge_calls(from, action).await,
        })
    }

    /// `main`, preceded by an unlimited `approve` of `spender` when its allowance of `token` is
    /// short: no separate set-up step a restarted relay could forget, and later calls need none
    /// (specs/evm-adapter.md §3.3). `main` then gets `gas_after_approve`, since it cannot be
    /// estimated before the approval lands.
    async fn approving_first(
        &self,
        token: EvmAddress,
        spender: EvmAddress,
        amount: U256,
        main: CallRequest,
        gas_after_approve: u64,
    ) -> Result<Vec<(CallRequest, Option<u64>)>, AdapterError> {
        if self.allowance(token, main.from, spender).await? >= amount {
            return Ok(vec![(main, None)]);
        }
        let approve = CallRequest {
            from: main.from,
            to: Some(token),
            input: Erc20::approveCall {
                spender,
                value: U256::MAX,
            }
            .abi_encode()
            .into(),
            value: U256::ZERO,
        };
        Ok(vec![(approve, None), (main, Some(gas_after_approve))])
    }

    async fn allowance(
        &self,
        token: EvmAddress,
        owner: EvmAddress,
        spender: EvmAddress,
    ) -> Result<U256, AdapterError> {
        let latest = self.rpc.block_number().await?;
        let input = Erc20::allowanceCall { owner, spender }.abi_encode();
        let out = self.token_view(token, owner, input, latest).await?;
        Erc20::allowanceCall::abi_decode_returns(&out).map_err(|e| {
            self.rpc
                .malformed(format!("allowance of token {token}: {e}"))
        })
    }

    /// Calls a view function of `token` at `block`.
    async fn token_view(
        &self,
        token: EvmAddress,
        from: EvmAddress,
        input: Vec<u8>,
        block: u64,
    ) -> Result<Bytes, AdapterError> {
        let call = CallRequest {
            from,
            to: Some(token),
            input: input.into(),
            value: U256::ZERO,
        };
        self.rpc.call(&call, block).await
    }

    /// A lock's parameters (claim and refund pass them back to the contract), from the
    /// `Locked` log carrying its id.
    async fn lock_params(&self, lock_id: &Hash32) -> Result<LockParams, AdapterError> {
        if let Some(p) = self.locks.get(lock_id) {
            return Ok(p);
        }
        let htlc = self.htlc()?;
        let latest = self.rpc.block_number().await?;
        let topics = json!([
            CausewayHtlc::Locked::SIGNATURE_HASH.to_string(),
            B256::from(lock_id.0).to_string()
        ]);
        let logs = self.rpc.logs(0, latest, &[htlc], topics).await?;
        for log in &logs {
            self.locks.learn(log);
        }
        self.locks.get(lock_id).ok_or_else(|| {
            self.rejected(format!(
                "no lock {lock_id} in HTLC contract {htlc}: check the lock id (is the lock's \
                 transaction mined on this chain?)"
            ))
        })
    }

    /// Signs `input` as a transaction from the adapter's account and waits for its receipt:
    /// for deployment and set-up tools, not for relay actions (those go through
    /// prepare/broadcast so that they survive a crash).
    pub async fn execute(
        &self,
        to: Option<EvmAddress>,
        input: Vec<u8>,
        timeout: std::time::Duration,
    ) -> Result<(Hash32, Option<EvmAddress>), AdapterError> {
        self.ensure_chain().await?;
        let key = self.signer_key()?;
        let call = CallRequest {
            from: key.address(),
            to,
            input: input.into(),
            value: U256::ZERO,
        };
        let gas = self.estimate(&call).await?;
        let fees = self.fees().await?;
        let nonce = self.rpc.pending_nonce(key.address()).await?;
        let signed = sign(key, self.config.evm_chain_id, nonce, gas, fees, &call)
            .map_err(|e| self.rejected(format!("cannot sign: {e}")))?;
        self.rpc.send_raw(&signed.rlp).await?;
        let started = std::time::Instant::now();
        loop {
            if let Some(r) = self.rpc.receipt(B256::from(signed.hash.0)).await? {
                if !r.success {
                    let reason = self.revert_reason(&signed.hash, r.block_number).await?;
                    return Err(
                        self.rejected(format!("transaction {} reverted: {reason}", signed.hash))
                    );
                }
                return Ok((signed.hash, r.contract_address));
            }
            if started.elapsed() > timeout {
                return Err(AdapterError::Timeout {
                    chain: self.config.chain.clone(),
                    what: format!("a receipt for {}", signed.hash),
                    after_ms: timeout.as_millis() as u64,
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Replays a reverted transaction on the state before its block to name the revert.
    async fn revert_reason(&self, id: &Hash32, block: u64) -> Result<String, AdapterError> {
        let fallback = format!("reverted in block {block}");
        let Some(call) = self.rpc.transaction(B256::from(id.0)).await? else {
            return Ok(fallback);
        };
        Ok(match self.rpc.call(&call, block.saturating_sub(1)).await {
            Err(AdapterError::Rejected { message, .. }) => format!("{fallback}: {message}"),
            _ => fallback,
        })
    }

    fn raw_of(&self, tx: &PreparedTx) -> Result<RawEvmTx, AdapterError> {
        serde_json::from_value(tx.raw.clone()).map_err(|e| {
            self.rpc.malformed(format!(
                "prepared transaction {} is not an EVM transaction: {e}",
                tx.id
            ))
        })
    }

    /// Sends one signed transaction; the node already having it is success.
    async fn send_one(&self, signed: &SignedTx) -> Result<(), AdapterError> {
        match self.rpc.send_raw(&signed.rlp).await {
            Ok(hash) if hash.0 == signed.hash.0 => Ok(()),
            Ok(hash) => Err(self
                .rpc
                .malformed(format!("node hashed transaction {} as {hash}", signed.hash))),
            Err(err @ AdapterError::Rejected { .. }) => {
                // "already known", "nonce too low" for this very transaction, …: the node's
                // words vary, its knowledge of the hash does not.
                if self
                    .rpc
                    .transaction(B256::from(signed.hash.0))
                    .await?
                    .is_some()
                {
                    Ok(())
                } else {
                    Err(err)
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn page(&self, from: Cursor, limit: u32) -> Result<EventPage, AdapterError> {
        self.ensure_chain().await?;
        let limit = limit.clamp(1, MAX_EVENTS_PER_PAGE) as usize;
        self.check_finality_held().await?;
        let (_, finalized) = self.heights().await?;
        let mut addresses = self.config.tokens();
        addresses.extend(self.config.htlc_contract);
        addresses.extend(self.config.bridge.as_ref().map(|b| b.contract));
        let topics = json!([followed_topics()
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()]);
        let mut events: Vec<ChainEvent> = Vec::new();
        let mut heads: BTreeMap<u64, BlockHead> = BTreeMap::new();
        let mut scanned_to: Option<u64> = None;
        let mut full = false;
        let mut start = from.height;
        for _ in 0..MAX_LOG_QUERIES_PER_PAGE {
            if start > finalized || full || !events.is_empty() {
                break;
            }
            let end = finalized.min(start.saturating_add(MAX_BLOCKS_PER_LOG_QUERY - 1));
            let mut logs = if addresses.is_empty() {
                Vec::new()
            } else {
                self.rpc
                    .logs(start, end, &addresses, topics.clone())
                    .await?
            };
            logs.sort_by_key(|l| (l.block_number, l.log_index));
            for log in &logs {
                let position = Position::new(log.block_number, log.log_index);
                if position < from {
                    continue;
                }
                if log.block_number < start || log.block_number > end {
                    return Err(self.rpc.malformed(format!(
                        "eth_getLogs for blocks {start}..={end} returned a log of block {}",
                        log.block_number
                    )));
                }
                let head = match heads.get(&log.block_number) {
                    Some(h) => *h,
                    None => {
                        let h = self.block_head(log.block_number).await?;
                        heads.insert(log.block_number, h);
                        h
                    }
                };
                if head.hash != log.block_hash {
                    return Err(self.rpc.malformed(format!(
                        "log of block {} names block hash {}, but the block is {}: the chain \
                         changed below its finalized height",
                        log.block_number, log.block_hash, head.hash
                    )));
                }
                self.locks.learn(log);
                match event_of(&self.config, log, head.timestamp_s.saturating_mul(1000)) {
                    Ok(e) => events.push(e),
                    Err(Skip::UnmappedAsset) => continue,
                    Err(Skip::Undecodable(why)) => {
                        tracing::warn!(chain = %self.config.chain, %position, "ignoring log: {why}");
                        continue;
                    }
                }
                if events.len() == limit {
                    full = true;
                    break;
                }
            }
            scanned_to = Some(end);
            start = end + 1;
        }
        let next = match (full, events.last(), scanned_to) {
            (true, Some(last), _) => last.position.successor(),
            (_, _, Some(end)) => Position::new(end + 1, 0),
            _ => from,
        }
        .max(from);
        let covered = if full {
            events.last().map(|e| e.position.height)
        } else {
            scanned_to
        };
        if let Some(h) = covered {
            let head = match heads.get(&h) {
                Some(head) => *head,
                None => self.block_head(h).await?,
            };
            self.remember_served(head).await;
        }
        let page = EventPage {
            events,
            next,
            finalized_height: finalized,
        };
        check_page(&self.config.chain, from, &page)?;
        Ok(page)
    }
}

#[async_trait]
impl ChainAdapter for EvmAdapter {
    fn chain_id(&self) -> &ChainId {
        &self.config.chain
    }

    async fn info(&self) -> Result<ChainInfo, AdapterError> {
        self.ensure_chain().await?;
        let (head, finalized) = self.heights().await?;
        let finalized_head = self.block_head(finalized).await?;
        Ok(ChainInfo {
            chain_id: self.config.chain.clone(),
            kind: "evm".into(),
            height: head,
            finalized_height: finalized,
            finalized_time_ms: finalized_head.timestamp_s.saturating_mul(1000),
            block_time_ms: self.config.block_time_ms,
            finality: self.config.finality(),
        })
    }

    async fn events(&self, from: Cursor, limit: u32) -> Result<EventPage, AdapterError> {
        self.page(from, limit).await
    }

    async fn balance(&self, account: &Address, asset: &AssetId) -> Result<Amount, AdapterError> {
        self.ensure_chain().await?;
        let who = self.evm_address("account", account)?;
        let (_, finalized) = self.heights().await?;
        let value = match self.config.asset(asset)? {
            AssetRef::Native => self.rpc.balance(who, finalized).await?,
            AssetRef::Erc20(token) => {
                let input = Erc20::balanceOfCall { account: who }.abi_encode();
                let out = self.token_view(token, who, input, finalized).await?;
                Erc20::balanceOfCall::abi_decode_returns(&out).map_err(|e| {
                    self.rpc
                        .malformed(format!("balanceOf of token {token} for {asset}: {e}"))
                })?
            }
        };
        u128::try_from(value).map(Amount).map_err(|_| {
            self.rpc
                .malformed(format!("balance {value} of {asset} exceeds u128"))
        })
    }

    async fn prepare(&self, action: &Action) -> Result<PreparedTx, AdapterError> {
        self.ensure_chain().await?;
        let key = self.signer_key()?;
        let from = key.address();
        let calls = self.calls_of(from, action).await?;
        let fees = self.fees().await?;
        let mut gas_limits = Vec::with_capacity(calls.len());
        for (call, fixed) in &calls {
            gas_limits.push(match fixed {
                Some(gas) => *gas,
                None => self.estimate(call).await?,
            });
        }
        let mut next = self.next_nonce.lock().await;
        let chain_nonce = self.rpc.pending_nonce(from).await?;
        // The chain's count wins when it is ahead (another process used the key); ours wins
        // while our own earlier transactions are not in its pool yet.
        let first = next.map_or(chain_nonce, |n| n.max(chain_nonce));
        let mut signed = Vec::with_capacity(calls.len());
        for (i, ((call, _), gas)) in calls.iter().zip(&gas_limits).enumerate() {
            signed.push(
                sign(
                    key,
                    self.config.evm_chain_id,
                    first + i as u64,
                    *gas,
                    fees,
                    call,
                )
                .map_err(|e| self.rejected(format!("cannot sign: {e}")))?,
            );
        }
        *next = Some(first + signed.len() as u64);
        let main = signed
            .pop()
            .ok_or_else(|| self.rejected(format!("action {} has no transaction", action.name())))?;
        let raw = RawEvmTx {
            from: address_text(from).to_string(),
            nonce: first,
            prior: signed,
            main,
        };
        Ok(PreparedTx {
            chain_id: self.config.chain.clone(),
            id: raw.main.hash,
            action: action.clone(),
            raw: serde_json::to_value(&raw).map_err(|e| {
                self.rpc
                    .malformed(format!("cannot encode transaction: {e}"))
            })?,
        })
    }

    async fn broadcast(&self, tx: &PreparedTx) -> Result<(), AdapterError> {
        let raw = self.raw_of(tx)?;
        if raw.main.hash != tx.id {
            return Err(self.rpc.malformed(format!(
                "prepared transaction {} carries transaction {}",
                tx.id, raw.main.hash
            )));
        }
        let count = raw.prior.len() as u64 + 1;
        for signed in raw.prior.iter().chain(std::iter::once(&raw.main)) {
            if let Err(err) = self.send_one(signed).await {
                if !err.is_transient() {
                    // A refused transaction did not use its nonce: re-read the chain's count
                    // at the next prepare instead of leaving a gap.
                    *self.next_nonce.lock().await = None;
                }
                return Err(err);
            }
        }
        // A transaction prepared by an earlier process holds its nonces too.
        let mut next = self.next_nonce.lock().await;
        *next = Some(next.map_or(raw.nonce + count, |n| n.max(raw.nonce + count)));
        Ok(())
    }

    async fn tx_status(&self, id: &Hash32) -> Result<TxState, AdapterError> {
        let hash = B256::from(id.0);
        let Some(receipt) = self.rpc.receipt(hash).await? else {
            return Ok(match self.rpc.transaction(hash).await? {
                Some(_) => TxState::Pending,
                None => TxState::Unknown,
            });
        };
        let (_, finalized) = self.heights().await?;
        let height = receipt.block_number;
        if height > finalized {
            return Ok(TxState::Included { height });
        }
        let outcome = if receipt.success {
            TxOutcome::Success
        } else {
            TxOutcome::Failed {
                reason: self.revert_reason(id, height).await?,
            }
        };
        Ok(TxState::Final { height, outcome })
    }

    fn signer(&self) -> Option<Address> {
        self.signer.as_ref().map(|k| address_text(k.address()))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            transfer: true,
            htlc: self.config.htlc_contract.is_some(),
            bridge: self.config.bridge.is_some(),
            bridge_batch: self.config.bridge.is_some(),
            max_batch_bytes: DEFAULT_BATCH_SUBMISSION_BYTES,
        }
    }
}
