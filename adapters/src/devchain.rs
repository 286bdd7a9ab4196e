//! The built-in adapter for devchain nodes, over the node's JSON-RPC API.

use std::time::Duration;

use async_trait::async_trait;
use causeway_core::{Address, Amount, AssetId, ChainId, ChainInfo, Cursor, EventPage, Hash32};
use causeway_devchain::api::{
    DevchainApiClient, DevchainEventsClient, ErrorCode, TxOutcome as NodeOutcome, TxStatus,
};
use causeway_devchain::tx::{address_of, Payload, SignedTransaction, Transaction};
use ed25519_dalek::SigningKey;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::HttpClient;
use jsonrpsee::rpc_params;
use tokio::sync::Mutex;

pub use crate::page::check_page;
use crate::{Action, AdapterError, Capabilities, ChainAdapter, PreparedTx, TxOutcome, TxState};

/// Requests to a node time out after this long; the relay retries with backoff.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a caught-up follower's request waits at the node for the next final block.
/// A whole batch in one transaction, leaving the signature and envelope room under the
/// node's default `max_tx_bytes`. A node configured smaller refuses it; the relay then
/// submits the attestation alone and executes each transfer.
const WHOLE_BATCH_BYTES: u32 = causeway_devchain::config::DEFAULT_MAX_TX_BYTES as u32 - 8 * 1024;
const LONG_POLL: Duration = Duration::from_secs(1);

/// Largest answer accepted from a node (a full page of events fits many times over).
const MAX_RESPONSE_BYTES: u32 = 10 << 20;

pub struct DevchainAdapter {
    chain: ChainId,
    endpoint: String,
    client: HttpClient,
    signer: Option<SigningKey>,
    /// Next nonce to sign with. Held across prepare so concurrent prepares never share one.
    next_nonce: Mutex<Option<u64>>,
    /// The node refused a batch of [`STATUS_BATCH`] calls (its `limits.max_batch_calls` is
    /// lower): statuses are asked one by one from then on.
    status_batches_refused: std::sync::atomic::AtomicBool,
}

impl DevchainAdapter {
    /// Signs each action with consecutive nonces after one read of the account's: the
    /// chain's count wins when it is ahead (another process used the key), ours while our
    /// own earlier transactions are still pending. An action that cannot be encoded takes
    /// no nonce, so it leaves no gap.
    async fn sign_all(
        &self,
        actions: &[Action],
    ) -> Result<Vec<Result<PreparedTx, AdapterError>>, AdapterError> {
        let key = self.signer.as_ref().ok_or_else(|| AdapterError::NoSigner {
            chain: self.chain.clone(),
        })?;
        let from = address_of(&key.verifying_key());
        let mut next = self.next_nonce.lock().await;
        let chain_nonce = self
            .client
            .account(from.clone())
            .await
            .map_err(|e| self.map_err(e))?
            .nonce;
        let mut nonce = next.map_or(chain_nonce, |n| n.max(chain_nonce));
        let mut prepared = Vec::with_capacity(actions.len());
        for action in actions {
            let payload = match self.payload_of(action) {
                Ok(payload) => payload,
                Err(e) => {
                    prepared.push(Err(e));
                    continue;
                }
            };
            let signed = Transaction {
                chain_id: self.chain.clone(),
                from: from.clone(),
                nonce,
                payload,
            }
            .sign(key);
            nonce += 1;
            *next = Some(nonce);
            prepared.push(Ok(PreparedTx {
                chain_id: self.chain.clone(),
                id: signed.hash(),
                action: action.clone(),
                raw: serde_json::to_value(&signed).expect("transaction serialises"),
            }));
        }
        Ok(prepared)
    }

    /// An adapter for `chain` at `endpoint` (`http://host:port`). Connection is lazy: an
    /// unreachable node is reported by the first call, not here.
    pub fn new(
        chain: ChainId,
        endpoint: &str,
        signer: Option<SigningKey>,
    ) -> Result<Self, AdapterError> {
        let client = crate::http::client(&chain, endpoint, REQUEST_TIMEOUT, MAX_RESPONSE_BYTES)?;
        Ok(DevchainAdapter {
            chain,
            endpoint: endpoint.to_string(),
            client,
            signer,
            next_nonce: Mutex::new(None),
            status_batches_refused: Default::default(),
        })
    }

    fn map_err(&self, err: ClientError) -> AdapterError {
        match err {
            ClientError::Call(obj) => AdapterError::Rejected {
                chain: self.chain.clone(),
                code: Some(obj.code()),
                message: obj.message().to_string(),
            },
            ClientError::ParseError(e) => AdapterError::Malformed {
                chain: self.chain.clone(),
                detail: e.to_string(),
            },
            ClientError::RequestTimeout => AdapterError::Timeout {
                chain: self.chain.clone(),
                what: "a JSON-RPC answer".into(),
                after_ms: REQUEST_TIMEOUT.as_millis() as u64,
            },
            other => AdapterError::Unreachable {
                chain: self.chain.clone(),
                endpoint: self.endpoint.clone(),
                reason: other.to_string(),
            },
        }
    }

    fn payload_of(&self, action: &Action) -> Result<Payload, AdapterError> {
        Ok(match action.clone() {
            Action::Transfer { to, asset, amount } => Payload::Transfer { to, asset, amount },
            Action::HtlcLock {
                recipient,
                asset,
                amount,
                hashlock,
                expiry_ms,
            } => Payload::HtlcLock {
                recipient,
                asset,
                amount,
                hashlock,
                expiry_ms,
            },
            Action::HtlcClaim { lock_id, preimage } => Payload::HtlcClaim { lock_id, preimage },
            Action::HtlcRefund { lock_id } => Payload::HtlcRefund { lock_id },
            Action::BridgeSend {
                dest_chain,
                recipient,
                asset,
                amount,
            } => Payload::BridgeSend {
                dest_chain,
                recipient,
                asset,
                amount,
            },
            Action::BridgeSubmitAttestation {
                attestation,
                signature,
            } => Payload::BridgeSubmitAttestation {
                attestation,
                signature,
            },
            Action::BridgeExecute { transfer, proof } => Payload::BridgeExecute { transfer, proof },
            Action::BridgeSubmitBatch {
                attestation,
                signature,
                transfers,
            } => Payload::BridgeSubmitBatch {
                attestation,
                signature,
                transfers,
            },
        })
    }

    fn raw_tx(&self, tx: &PreparedTx) -> Result<SignedTransaction, AdapterError> {
        serde_json::from_value(tx.raw.clone()).map_err(|e| AdapterError::Malformed {
            chain: self.chain.clone(),
            detail: format!(
                "prepared transaction {} is not a devchain transaction: {e}",
                tx.id
            ),
        })
    }
}

/// Statuses asked in one JSON-RPC batch: a devchain node's default `limits.max_batch_calls`.
pub const STATUS_BATCH: usize = 64;

fn tx_state(status: TxStatus) -> TxState {
    match status {
        TxStatus::Unknown => TxState::Unknown,
        TxStatus::Pending => TxState::Pending,
        TxStatus::Committed { receipt } => TxState::Final {
            height: receipt.height,
            outcome: match receipt.outcome {
                NodeOutcome::Success => TxOutcome::Success,
                NodeOutcome::Failed { code, message } => TxOutcome::Failed {
                    reason: format!("{message} (code {code})"),
                },
            },
        },
    }
}

#[async_trait]
impl ChainAdapter for DevchainAdapter {
    fn chain_id(&self) -> &ChainId {
        &self.chain
    }

    async fn wait_for_finalized(&self, height: u64, poll: Duration) -> Result<(), AdapterError> {
        // The node holds the request until the block is final: no poll interval to wait out.
        let hold = LONG_POLL.max(poll).as_millis() as u64;
        self.client
            .wait_for_height(height, hold)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(())
    }

    async fn info(&self) -> Result<ChainInfo, AdapterError> {
        let info = self
            .client
            .chain_info()
            .await
            .map_err(|e| self.map_err(e))?;
        if info.chain_id != self.chain {
            return Err(AdapterError::WrongChain {
                chain: self.chain.clone(),
                expected: self.chain.clone(),
                found: info.chain_id.to_string(),
            });
        }
        Ok(info)
    }

    async fn events(&self, from: Cursor, limit: u32) -> Result<EventPage, AdapterError> {
        let page = self
            .client
            .events(from, limit)
            .await
            .map_err(|e| self.map_err(e))?;
        check_page(&self.chain, from, &page)?;
        Ok(page)
    }

    async fn balance(&self, account: &Address, asset: &AssetId) -> Result<Amount, AdapterError> {
        self.client
            .balance(account.clone(), asset.clone())
            .await
            .map_err(|e| self.map_err(e))
    }

    async fn prepare(&self, action: &Action) -> Result<PreparedTx, AdapterError> {
        match self.sign_all(std::slice::from_ref(action)).await?.pop() {
            Some(prepared) => prepared,
            None => Err(AdapterError::Malformed {
                chain: self.chain.clone(),
                detail: "no transaction was prepared for the action".into(),
            }),
        }
    }

    /// One read of the account's nonce for the whole batch: that read was a node round trip
    /// per action, about a fifth of a swapping relay's CPU and of its node's.
    async fn prepare_many(&self, actions: &[Action]) -> Vec<Result<PreparedTx, AdapterError>> {
        match self.sign_all(actions).await {
            Ok(prepared) => prepared,
            Err(e) => actions.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    async fn broadcast(&self, tx: &PreparedTx) -> Result<(), AdapterError> {
        let signed = self.raw_tx(tx)?;
        let nonce = signed.tx.nonce;
        match self.client.submit_transaction(signed).await {
            Ok(hash) if hash == tx.id => {
                // A transaction prepared by an earlier process (re-sent after a restart) holds
                // its nonce too: never sign another one with it.
                let mut next = self.next_nonce.lock().await;
                *next = Some(next.map_or(nonce + 1, |n| n.max(nonce + 1)));
                Ok(())
            }
            Ok(hash) => Err(AdapterError::Malformed {
                chain: self.chain.clone(),
                detail: format!("node hashed transaction {} as {hash}", tx.id),
            }),
            Err(e) => {
                // A nonce the chain already used by this very transaction means it is in.
                let err = self.map_err(e);
                if let AdapterError::Rejected { .. } = err {
                    if let Ok(TxState::Final { .. }) = self.tx_status(&tx.id).await {
                        return Ok(());
                    }
                }
                // The refused transaction did not use its nonce: hand it to the next prepare
                // (or re-read the chain when the nonce itself was the problem).
                let nonce_problem = matches!(
                    &err,
                    AdapterError::Rejected { code: Some(c), .. }
                        if *c == ErrorCode::NonceTooLow.code() || *c == ErrorCode::NonceTooHigh.code()
                );
                let mut next = self.next_nonce.lock().await;
                if nonce_problem {
                    *next = None;
                } else if !err.is_transient() {
                    // Only valid while one caller prepares and broadcasts at a time, which the
                    // relay's per-chain executor guarantees.
                    *next = Some(nonce);
                }
                Err(err)
            }
        }
    }

    async fn tx_status(&self, id: &Hash32) -> Result<TxState, AdapterError> {
        let status = self
            .client
            .transaction_status(*id)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(tx_state(status))
    }

    /// One JSON-RPC batch per [`STATUS_BATCH`] ids (the node's default batch bound); one
    /// call per id on a node that refuses batches that large.
    async fn tx_statuses(&self, ids: &[Hash32]) -> Result<Vec<TxState>, AdapterError> {
        use std::sync::atomic::Ordering;
        if self.status_batches_refused.load(Ordering::Relaxed) {
            return crate::traits::statuses_one_by_one(self, ids).await;
        }
        let mut statuses = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(STATUS_BATCH) {
            let mut batch = BatchRequestBuilder::new();
            for id in chunk {
                batch
                    .insert("devchain_getTransactionStatus", rpc_params![id])
                    .map_err(|e| AdapterError::Malformed {
                        chain: self.chain.clone(),
                        detail: e.to_string(),
                    })?;
            }
            let answers = match self.client.batch_request::<TxStatus>(batch).await {
                Ok(answers) => answers,
                Err(e) => {
                    let err = self.map_err(e);
                    if err.is_transient() {
                        return Err(err);
                    }
                    tracing::warn!(chain = %self.chain, "the node refused a batch of {STATUS_BATCH} status calls ({err}); asking one by one from now on: raise its limits.max_batch_calls to {STATUS_BATCH}");
                    self.status_batches_refused.store(true, Ordering::Relaxed);
                    return crate::traits::statuses_one_by_one(self, ids).await;
                }
            };
            for answer in answers {
                let status = answer.map_err(|e| AdapterError::Rejected {
                    chain: self.chain.clone(),
                    code: Some(e.code()),
                    message: e.message().to_string(),
                })?;
                statuses.push(tx_state(status));
            }
        }
        if statuses.len() != ids.len() {
            return Err(AdapterError::Malformed {
                chain: self.chain.clone(),
                detail: format!(
                    "asked the status of {} transactions, got {}",
                    ids.len(),
                    statuses.len()
                ),
            });
        }
        Ok(statuses)
    }

    fn signer(&self) -> Option<Address> {
        self.signer.as_ref().map(|k| address_of(&k.verifying_key()))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            transfer: true,
            htlc: true,
            bridge: true,
            bridge_batch: true,
            max_batch_bytes: WHOLE_BATCH_BYTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter() -> DevchainAdapter {
        DevchainAdapter::new(ChainId::new("dev-a").unwrap(), "http://127.0.0.1:1", None).unwrap()
    }

    // specs/devchain.md §13: every bridge action becomes its devchain payload, field for field.
    #[test]
    fn bridge_actions_map_to_bridge_payloads() {
        let adapter = adapter();
        assert!(adapter.capabilities().bridge);
        let send = Action::BridgeSend {
            dest_chain: ChainId::new("dev-b").unwrap(),
            recipient: Address::new("ab").unwrap(),
            asset: AssetId::new("USD").unwrap(),
            amount: Amount(5),
        };
        assert_eq!(
            adapter.payload_of(&send).unwrap(),
            Payload::BridgeSend {
                dest_chain: ChainId::new("dev-b").unwrap(),
                recipient: Address::new("ab").unwrap(),
                asset: AssetId::new("USD").unwrap(),
                amount: Amount(5),
            }
        );
        let submit = Action::BridgeSubmitAttestation {
            attestation: "01ff".into(),
            signature: "aa".into(),
        };
        assert_eq!(
            adapter.payload_of(&submit).unwrap(),
            Payload::BridgeSubmitAttestation {
                attestation: "01ff".into(),
                signature: "aa".into(),
            }
        );
        let proof = causeway_notary::MerkleProof {
            leaf_index: 0,
            leaf_count: 1,
            siblings: vec![],
        };
        let transfer = causeway_notary::Transfer {
            source_chain: ChainId::new("dev-b").unwrap(),
            source_position: causeway_core::Position::new(1, 0),
            source_tx_hash: Hash32([1; 32]),
            asset: AssetId::new("USD").unwrap(),
            amount: Amount(5),
            sender: Address::new("ab").unwrap(),
            recipient: Address::new("cd").unwrap(),
            dest_asset: AssetId::new("WUSD").unwrap(),
        };
        let execute = Action::BridgeExecute {
            transfer: transfer.clone(),
            proof: proof.clone(),
        };
        assert_eq!(
            adapter.payload_of(&execute).unwrap(),
            Payload::BridgeExecute { transfer, proof }
        );
    }
}
