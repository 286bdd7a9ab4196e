//! Ethereum JSON-RPC over HTTP: the handful of calls the adapter makes, with answers parsed
//! strictly and every failure mapped to an [`AdapterError`] that names the chain.

use std::str::FromStr;
use std::time::Duration;

use alloy::hex;
use alloy::primitives::{Address as EvmAddress, Bytes, B256, U256};
use causeway_core::ChainId;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::HttpClient;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::abi::decode_revert;
use crate::AdapterError;

/// Requests to a node time out after this long; the relay retries with backoff.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer accepted (a page of logs is the biggest).
const MAX_RESPONSE_BYTES: u32 = 32 << 20;

/// A block's header fields the adapter uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHead {
    pub number: u64,
    pub hash: B256,
    pub timestamp_s: u64,
    /// Present on chains with EIP-1559 fees.
    pub base_fee: Option<u128>,
}

/// One log, as `eth_getLogs` returns it.
#[derive(Clone, Debug)]
pub struct RpcLog {
    pub address: EvmAddress,
    pub topics: Vec<B256>,
    pub data: Bytes,
    pub block_number: u64,
    pub block_hash: B256,
    pub tx_hash: B256,
    pub log_index: u32,
}

/// The receipt fields the adapter uses.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub block_number: u64,
    pub success: bool,
    pub contract_address: Option<EvmAddress>,
}

/// A call, for `eth_call` and `eth_estimateGas`.
#[derive(Clone, Debug)]
pub struct CallRequest {
    pub from: EvmAddress,
    /// `None` creates a contract.
    pub to: Option<EvmAddress>,
    pub input: Bytes,
    pub value: U256,
}

impl CallRequest {
    fn to_json(&self) -> Value {
        let mut v = json!({
            "from": self.from.to_string(),
            "data": self.input.to_string(),
            "value": format!("{:#x}", self.value),
        });
        if let Some(to) = self.to {
            v["to"] = json!(to.to_string());
        }
        v
    }
}

pub struct Rpc {
    pub chain: ChainId,
    pub endpoint: String,
    client: HttpClient,
}

impl Rpc {
    pub fn new(chain: ChainId, endpoint: &str) -> Result<Rpc, AdapterError> {
        let client = crate::http::client(&chain, endpoint, REQUEST_TIMEOUT, MAX_RESPONSE_BYTES)?;
        Ok(Rpc {
            chain,
            endpoint: endpoint.to_string(),
            client,
        })
    }

    pub fn malformed(&self, detail: impl Into<String>) -> AdapterError {
        AdapterError::Malformed {
            chain: self.chain.clone(),
            detail: detail.into(),
        }
    }

    pub async fn request<R: DeserializeOwned>(
        &self,
        method: &str,
        params: Vec<Value>,
    ) -> Result<R, AdapterError> {
        let mut array = ArrayParams::new();
        for p in params {
            array
                .insert(p)
                .map_err(|e| self.malformed(format!("cannot encode {method} params: {e}")))?;
        }
        self.client
            .request(method, array)
            .await
            .map_err(|e| self.map_err(method, e))
    }

    fn map_err(&self, method: &str, err: ClientError) -> AdapterError {
        match err {
            ClientError::Call(obj) => {
                let revert = obj
                    .data()
                    .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
                    .and_then(|text| hex::decode(text).ok())
                    .and_then(|bytes| decode_revert(&bytes));
                let mut message = match revert {
                    Some(reason) => format!("{method}: {}: {reason}", obj.message()),
                    None => format!("{method}: {}", obj.message()),
                };
                if obj
                    .message()
                    .to_ascii_lowercase()
                    .contains("insufficient funds")
                {
                    message.push_str(
                        " (the signing account cannot pay value + gas: fund it with the chain's native coin)",
                    );
                }
                AdapterError::Rejected {
                    chain: self.chain.clone(),
                    code: Some(obj.code()),
                    message,
                }
            }
            ClientError::ParseError(e) => self.malformed(format!("{method}: {e}")),
            ClientError::RequestTimeout => AdapterError::Timeout {
                chain: self.chain.clone(),
                what: format!("an answer to {method}"),
                after_ms: REQUEST_TIMEOUT.as_millis() as u64,
            },
            other => AdapterError::Unreachable {
                chain: self.chain.clone(),
                endpoint: self.endpoint.clone(),
                reason: other.to_string(),
            },
        }
    }

    pub async fn chain_id(&self) -> Result<u64, AdapterError> {
        let v: String = self.request("eth_chainId", vec![]).await?;
        self.u64_of("eth_chainId", &v)
    }

    pub async fn block_number(&self) -> Result<u64, AdapterError> {
        let v: String = self.request("eth_blockNumber", vec![]).await?;
        self.u64_of("eth_blockNumber", &v)
    }

    /// The header of block `number`, or `None` if the chain has no such block (any more).
    pub async fn block(&self, number: u64) -> Result<Option<BlockHead>, AdapterError> {
        let v: Option<RawBlock> = self
            .request("eth_getBlockByNumber", vec![quantity(number), json!(false)])
            .await?;
        v.map(|b| self.block_of(b)).transpose()
    }

    pub async fn latest_block(&self) -> Result<BlockHead, AdapterError> {
        let v: Option<RawBlock> = self
            .request("eth_getBlockByNumber", vec![json!("latest"), json!(false)])
            .await?;
        let raw = v.ok_or_else(|| self.malformed("the node has no latest block"))?;
        self.block_of(raw)
    }

    fn block_of(&self, raw: RawBlock) -> Result<BlockHead, AdapterError> {
        Ok(BlockHead {
            number: self.u64_of("block number", &raw.number)?,
            hash: self.b256_of("block hash", &raw.hash)?,
            timestamp_s: self.u64_of("block timestamp", &raw.timestamp)?,
            base_fee: raw
                .base_fee_per_gas
                .map(|f| self.u128_of("baseFeePerGas", &f))
                .transpose()?,
        })
    }

    pub async fn logs(
        &self,
        from_block: u64,
        to_block: u64,
        addresses: &[EvmAddress],
        topics: Value,
    ) -> Result<Vec<RpcLog>, AdapterError> {
        let filter = json!({
            "fromBlock": quantity(from_block),
            "toBlock": quantity(to_block),
            "address": addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "topics": topics,
        });
        let raw: Vec<RawLog> = self.request("eth_getLogs", vec![filter]).await?;
        raw.into_iter().map(|l| self.log_of(l)).collect()
    }

    fn log_of(&self, raw: RawLog) -> Result<RpcLog, AdapterError> {
        let missing = |field: &str| self.malformed(format!("a log has no {field}"));
        let index = self.u64_of(
            "logIndex",
            raw.log_index
                .as_deref()
                .ok_or_else(|| missing("logIndex"))?,
        )?;
        Ok(RpcLog {
            address: EvmAddress::from_str(&raw.address)
                .map_err(|e| self.malformed(format!("log address {:?}: {e}", raw.address)))?,
            topics: raw
                .topics
                .iter()
                .map(|t| self.b256_of("log topic", t))
                .collect::<Result<_, _>>()?,
            data: self.bytes_of("log data", &raw.data)?,
            block_number: self.u64_of(
                "log blockNumber",
                raw.block_number
                    .as_deref()
                    .ok_or_else(|| missing("blockNumber"))?,
            )?,
            block_hash: self.b256_of(
                "log blockHash",
                raw.block_hash
                    .as_deref()
                    .ok_or_else(|| missing("blockHash"))?,
            )?,
            tx_hash: self.b256_of(
                "log transactionHash",
                raw.transaction_hash
                    .as_deref()
                    .ok_or_else(|| missing("transactionHash"))?,
            )?,
            log_index: u32::try_from(index)
                .map_err(|_| self.malformed(format!("log index {index} exceeds u32")))?,
        })
    }

    pub async fn receipt(&self, tx: B256) -> Result<Option<Receipt>, AdapterError> {
        let v: Option<RawReceipt> = self
            .request("eth_getTransactionReceipt", vec![json!(tx.to_string())])
            .await?;
        let Some(raw) = v else { return Ok(None) };
        let Some(block) = raw.block_number else {
            return Ok(None);
        };
        Ok(Some(Receipt {
            block_number: self.u64_of("receipt blockNumber", &block)?,
            // Pre-Byzantium receipts have no status; every chain Causeway targets has it.
            success: raw.status.as_deref() == Some("0x1"),
            contract_address: raw
                .contract_address
                .map(|a| {
                    EvmAddress::from_str(&a)
                        .map_err(|e| self.malformed(format!("contractAddress {a:?}: {e}")))
                })
                .transpose()?,
        }))
    }

    /// The transaction as the node knows it (pending or mined), for replaying a revert.
    pub async fn transaction(&self, tx: B256) -> Result<Option<CallRequest>, AdapterError> {
        let v: Option<RawTransaction> = self
            .request("eth_getTransactionByHash", vec![json!(tx.to_string())])
            .await?;
        v.map(|raw| {
            Ok(CallRequest {
                from: EvmAddress::from_str(&raw.from)
                    .map_err(|e| self.malformed(format!("transaction from: {e}")))?,
                to: raw
                    .to
                    .map(|t| EvmAddress::from_str(&t))
                    .transpose()
                    .map_err(|e| self.malformed(format!("transaction to: {e}")))?,
                input: self.bytes_of("transaction input", &raw.input)?,
                value: self.u256_of("transaction value", &raw.value)?,
            })
        })
        .transpose()
    }

    pub async fn call(&self, call: &CallRequest, block: u64) -> Result<Bytes, AdapterError> {
        let v: String = self
            .request("eth_call", vec![call.to_json(), quantity(block)])
            .await?;
        self.bytes_of("eth_call result", &v)
    }

    pub async fn estimate_gas(&self, call: &CallRequest) -> Result<u64, AdapterError> {
        let v: String = self
            .request("eth_estimateGas", vec![call.to_json()])
            .await?;
        self.u64_of("eth_estimateGas", &v)
    }

    pub async fn balance(&self, account: EvmAddress, block: u64) -> Result<U256, AdapterError> {
        let v: String = self
            .request(
                "eth_getBalance",
                vec![json!(account.to_string()), quantity(block)],
            )
            .await?;
        self.u256_of("eth_getBalance", &v)
    }

    pub async fn pending_nonce(&self, account: EvmAddress) -> Result<u64, AdapterError> {
        let v: String = self
            .request(
                "eth_getTransactionCount",
                vec![json!(account.to_string()), json!("pending")],
            )
            .await?;
        self.u64_of("eth_getTransactionCount", &v)
    }

    pub async fn gas_price(&self) -> Result<u128, AdapterError> {
        let v: String = self.request("eth_gasPrice", vec![]).await?;
        self.u128_of("eth_gasPrice", &v)
    }

    /// `eth_maxPriorityFeePerGas`, or `None` on nodes that lack it.
    pub async fn max_priority_fee(&self) -> Result<Option<u128>, AdapterError> {
        match self
            .request::<String>("eth_maxPriorityFeePerGas", vec![])
            .await
        {
            Ok(v) => Ok(Some(self.u128_of("eth_maxPriorityFeePerGas", &v)?)),
            Err(AdapterError::Rejected { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn send_raw(&self, raw: &str) -> Result<B256, AdapterError> {
        let v: String = self
            .request("eth_sendRawTransaction", vec![json!(raw)])
            .await?;
        self.b256_of("eth_sendRawTransaction", &v)
    }

    pub fn u64_of(&self, what: &str, text: &str) -> Result<u64, AdapterError> {
        let digits = strip_0x(text);
        u64::from_str_radix(digits, 16)
            .map_err(|_| self.malformed(format!("{what} {text:?} is not a hex quantity")))
    }

    fn u128_of(&self, what: &str, text: &str) -> Result<u128, AdapterError> {
        u128::from_str_radix(strip_0x(text), 16)
            .map_err(|_| self.malformed(format!("{what} {text:?} is not a hex quantity")))
    }

    fn u256_of(&self, what: &str, text: &str) -> Result<U256, AdapterError> {
        U256::from_str_radix(strip_0x(text), 16)
            .map_err(|_| self.malformed(format!("{what} {text:?} is not a hex quantity")))
    }

    fn b256_of(&self, what: &str, text: &str) -> Result<B256, AdapterError> {
        B256::from_str(text).map_err(|_| self.malformed(format!("{what} {text:?} is not 32 bytes")))
    }

    fn bytes_of(&self, what: &str, text: &str) -> Result<Bytes, AdapterError> {
        hex::decode(text)
            .map(Bytes::from)
            .map_err(|_| self.malformed(format!("{what} {text:?} is not hex")))
    }
}

fn strip_0x(text: &str) -> &str {
    text.strip_prefix("0x").unwrap_or(text)
}

pub fn quantity(n: u64) -> Value {
    json!(format!("{n:#x}"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBlock {
    number: String,
    hash: String,
    timestamp: String,
    #[serde(default)]
    base_fee_per_gas: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog {
    address: String,
    topics: Vec<String>,
    data: String,
    block_number: Option<String>,
    block_hash: Option<String>,
    transaction_hash: Option<String>,
    log_index: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReceipt {
    block_number: Option<String>,
    status: Option<String>,
    contract_address: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTransaction {
    from: String,
    to: Option<String>,
    input: String,
    value: String,
}
