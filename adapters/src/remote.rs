//! An adapter in another process, reached over `specs/adapter-protocol.md`.
//!
//! The remote is never trusted: every answer is checked against the contract before the
//! relay sees it, so a buggy or hostile adapter can stall its chain but never corrupt the
//! relay's cursors or swap state. The session (handshake) is dropped on transport trouble
//! and renewed on the next call, so an adapter process may be restarted or replaced at any
//! time, and a replacement is checked again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use causeway_core::{
    sha256, Address, Amount, AssetId, ChainId, ChainInfo, Cursor, EventPage, Hash32,
};
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::HttpClient;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};

use crate::page::check_page;
use crate::protocol::{
    bounded, codes, error_from_rpc, AdapterRpcClient, Handshake, ProtocolVersion,
    MAX_EVENTS_PER_PAGE, MAX_IDENTITY_CHARS, PROTOCOL_VERSION,
};
use crate::{
    Action, AdapterError, Capabilities, ChainAdapter, PreparedTx, TxState,
    DEFAULT_BATCH_SUBMISSION_BYTES,
};

/// How long one call may take by default; the relay retries timeouts with backoff.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest response accepted from an adapter (a full page of events fits many times over).
pub const MAX_RESPONSE_BYTES: u32 = 8 << 20;

/// The preimage whose hashlock the handshake asks for (`specs/adapter.md` §5.2).
const HASHLOCK_PROBE: [u8; 32] = [0x01; 32];

/// The protocol's two transports (specs/adapter-protocol.md §1): one HTTP request per call,
/// or one WebSocket connection, opened lazily and again after it drops.
enum Transport {
    Http(HttpClient),
    Ws(tokio::sync::Mutex<Option<std::sync::Arc<WsClient>>>),
}

/// Calls one protocol method over whichever transport the adapter uses.
macro_rules! rpc {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        async {
            match &$self.transport {
                Transport::Http(c) => c.$method($($arg),*).await,
                Transport::Ws(_) => $self.ws_client().await?.$method($($arg),*).await,
            }
        }
    };
}

pub struct RemoteAdapter {
    chain: ChainId,
    endpoint: String,
    transport: Transport,
    timeout: Duration,
    /// The last accepted handshake, kept across sessions for the synchronous `signer()` and
    /// `capabilities()` (hence a std lock).
    last_handshake: RwLock<Option<Handshake>>,
    /// Whether a session is open; cleared on transport trouble, so the next call handshakes
    /// again and a restarted or replaced adapter is checked anew.
    session_open: AtomicBool,
    /// The highest finalized (height, time) seen, to catch a chain going backwards (§1.3).
    /// An answer is held only against what was seen before its request went out: answers
    /// to concurrent requests may arrive in any order.
    finalized_seen: Mutex<(u64, u64)>,
}

impl RemoteAdapter {
    /// An adapter for `chain` served at `endpoint` (`http://host:port` or `ws://host:port`).
    /// Connection is lazy: the handshake happens on the first call.
    pub fn new(chain: ChainId, endpoint: &str) -> Result<Self, AdapterError> {
        Self::with_timeout(chain, endpoint, DEFAULT_REQUEST_TIMEOUT)
    }

    pub fn with_timeout(
        chain: ChainId,
        endpoint: &str,
        timeout: Duration,
    ) -> Result<Self, AdapterError> {
        let transport = if endpoint.starts_with("ws://") || endpoint.starts_with("wss://") {
            Transport::Ws(tokio::sync::Mutex::new(None))
        } else {
            Transport::Http(crate::http::client(
                &chain,
                endpoint,
                timeout,
                MAX_RESPONSE_BYTES,
            )?)
        };
        Ok(RemoteAdapter {
            chain,
            endpoint: endpoint.to_string(),
            transport,
            timeout,
            last_handshake: RwLock::new(None),
            session_open: AtomicBool::new(false),
            finalized_seen: Mutex::new((0, 0)),
        })
    }

    /// The current session's handshake, performing (and checking) one if no session is open.
    pub async fn handshake(&self) -> Result<Handshake, AdapterError> {
        if self.session_open.load(Ordering::SeqCst) {
            if let Some(hs) = self.last_known() {
                return Ok(hs);
            }
        }
        // Not through `call`: no session is open to end, and a refusal of our version
        // deserves its own words.
        let hs = rpc!(self.handshake(PROTOCOL_VERSION.to_string()))
            .await
            .map_err(|e| match e {
                ClientError::Call(obj) if obj.code() == codes::INCOMPATIBLE_VERSION => {
                    self.malformed(format!(
                        "adapter at {} refuses this relay's adapter protocol {PROTOCOL_VERSION}: {}",
                        self.endpoint,
                        bounded(obj.message())
                    ))
                }
                other => self.map_err(other),
            })?;
        self.check_handshake(&hs)?;
        if hs.capabilities.htlc {
            self.check_hashlock().await?;
        }
        if let Ok(mut last) = self.last_handshake.write() {
            *last = Some(hs.clone());
        }
        self.session_open.store(true, Ordering::SeqCst);
        Ok(hs)
    }

    /// The open WebSocket connection, or a new one when there is none or it dropped.
    async fn ws_client(&self) -> Result<std::sync::Arc<WsClient>, ClientError> {
        let Transport::Ws(slot) = &self.transport else {
            return Err(ClientError::Custom("not a WebSocket adapter".into()));
        };
        let mut slot = slot.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| c.is_connected()) {
            return Ok(client.clone());
        }
        let client = std::sync::Arc::new(
            WsClientBuilder::default()
                .request_timeout(self.timeout)
                .connection_timeout(self.timeout)
                .max_response_size(MAX_RESPONSE_BYTES)
                .build(&self.endpoint)
                .await?,
        );
        *slot = Some(client.clone());
        Ok(client)
    }

    fn last_known(&self) -> Option<Handshake> {
        self.last_handshake.read().ok().and_then(|s| s.clone())
    }

    fn malformed(&self, detail: String) -> AdapterError {
        AdapterError::Malformed {
            chain: self.chain.clone(),
            detail,
        }
    }

    fn check_handshake(&self, hs: &Handshake) -> Result<(), AdapterError> {
        let theirs: ProtocolVersion = hs.protocol_version.parse().map_err(|e: String| {
            self.malformed(format!("adapter at {}: {}", self.endpoint, bounded(&e)))
        })?;
        if !theirs.is_compatible_with(PROTOCOL_VERSION) {
            return Err(self.malformed(format!(
                "adapter at {} speaks adapter protocol {theirs}, but this relay speaks {PROTOCOL_VERSION}; \
                 major versions must match: run an adapter built for protocol {}.x",
                self.endpoint, PROTOCOL_VERSION.major
            )));
        }
        if hs.chain_id != self.chain {
            return Err(AdapterError::WrongChain {
                chain: self.chain.clone(),
                expected: self.chain.clone(),
                found: hs.chain_id.to_string(),
            });
        }
        for (field, value) in [
            ("adapter.name", &hs.adapter.name),
            ("adapter.version", &hs.adapter.version),
        ] {
            if value.is_empty() || value.chars().count() > MAX_IDENTITY_CHARS {
                return Err(self.malformed(format!(
                    "handshake field {field} must be 1-{MAX_IDENTITY_CHARS} characters"
                )));
            }
        }
        Ok(())
    }

    /// An HTLC chain must hash preimages as every other chain does, or swaps with it lock
    /// funds nobody can claim: refuse it before any lock is made.
    async fn check_hashlock(&self) -> Result<(), AdapterError> {
        let probe = Hash32(HASHLOCK_PROBE);
        let expected = sha256(&HASHLOCK_PROBE);
        match self.call(rpc!(self.hashlock(probe))).await {
            Ok(got) if got == expected => Ok(()),
            Ok(got) => Err(self.malformed(format!(
                "adapter hashes the preimage {probe} to {got}, but specs/adapter.md §5.2 requires \
                 SHA-256 over the 32 raw bytes ({expected}): its HTLCs cannot interoperate"
            ))),
            // The method is optional; the conformance suite still checks hashing on-chain.
            Err(AdapterError::Unsupported { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Runs one request, mapping its failure; transport trouble ends the session.
    async fn call<T>(
        &self,
        request: impl std::future::Future<Output = Result<T, ClientError>>,
    ) -> Result<T, AdapterError> {
        request.await.map_err(|e| {
            let err = self.map_err(e);
            if err.is_transient() {
                self.session_open.store(false, Ordering::SeqCst);
            }
            err
        })
    }

    /// A request made within a session (handshaking first if needed).
    async fn in_session<T>(
        &self,
        request: impl std::future::Future<Output = Result<T, ClientError>>,
    ) -> Result<T, AdapterError> {
        self.handshake().await?;
        self.call(request).await
    }

    fn map_err(&self, err: ClientError) -> AdapterError {
        match err {
            ClientError::Call(obj) => error_from_rpc(&self.chain, &self.endpoint, &obj),
            ClientError::ParseError(e) => self.malformed(format!(
                "adapter at {} answered JSON that does not fit the protocol: {}",
                self.endpoint,
                bounded(&e.to_string())
            )),
            ClientError::RequestTimeout => AdapterError::Timeout {
                chain: self.chain.clone(),
                what: format!("the adapter at {}", self.endpoint),
                after_ms: self.timeout.as_millis() as u64,
            },
            ClientError::InvalidRequestId(e) => self.malformed(format!(
                "adapter at {} answered another request: {e}",
                self.endpoint
            )),
            other => AdapterError::Unreachable {
                chain: self.chain.clone(),
                endpoint: self.endpoint.clone(),
                reason: bounded(&other.to_string()),
            },
        }
    }

    fn finalized_seen(&self) -> (u64, u64) {
        *self
            .finalized_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Checks an answer to `info` against `before`, the finalized head seen when it was asked.
    fn check_info(&self, info: &ChainInfo, before: (u64, u64)) -> Result<(), AdapterError> {
        if info.chain_id != self.chain {
            return Err(AdapterError::WrongChain {
                chain: self.chain.clone(),
                expected: self.chain.clone(),
                found: info.chain_id.to_string(),
            });
        }
        if info.finalized_height > info.height {
            return Err(self.malformed(format!(
                "finalized height {} is above the head {} (specs/adapter.md §1.3)",
                info.finalized_height, info.height
            )));
        }
        let (height, time) = before;
        if info.finalized_height < height || info.finalized_time_ms < time {
            return Err(self.malformed(format!(
                "finalized head went back from {height}@{time} ms to {}@{} ms (specs/adapter.md §1.3)",
                info.finalized_height, info.finalized_time_ms
            )));
        }
        let mut seen = self
            .finalized_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *seen = (
            seen.0.max(info.finalized_height),
            seen.1.max(info.finalized_time_ms),
        );
        Ok(())
    }
}

#[async_trait]
impl ChainAdapter for RemoteAdapter {
    fn chain_id(&self) -> &ChainId {
        &self.chain
    }

    async fn info(&self) -> Result<ChainInfo, AdapterError> {
        let before = self.finalized_seen();
        let info = self.in_session(rpc!(self.info())).await?;
        self.check_info(&info, before)?;
        Ok(info)
    }

    async fn events(&self, from: Cursor, limit: u32) -> Result<EventPage, AdapterError> {
        let limit = limit.min(MAX_EVENTS_PER_PAGE);
        let page = self.in_session(rpc!(self.events(from, limit))).await?;
        if page.events.len() > limit as usize {
            return Err(self.malformed(format!(
                "asked for at most {limit} events, got {} (specs/adapter.md §2.2)",
                page.events.len()
            )));
        }
        check_page(&self.chain, from, &page)?;
        Ok(page)
    }

    async fn balance(&self, account: &Address, asset: &AssetId) -> Result<Amount, AdapterError> {
        self.in_session(rpc!(self.balance(account.clone(), asset.clone())))
            .await
    }

    async fn prepare(&self, action: &Action) -> Result<PreparedTx, AdapterError> {
        let tx = self.in_session(rpc!(self.prepare(action.clone()))).await?;
        if tx.chain_id != self.chain {
            return Err(self.malformed(format!("prepared a transaction for chain {}", tx.chain_id)));
        }
        if &tx.action != action {
            return Err(self.malformed(format!(
                "asked to prepare {}, prepared {} instead",
                action.name(),
                tx.action.name()
            )));
        }
        Ok(tx)
    }

    async fn broadcast(&self, tx: &PreparedTx) -> Result<(), AdapterError> {
        if tx.chain_id != self.chain {
            return Err(AdapterError::WrongChain {
                chain: self.chain.clone(),
                expected: self.chain.clone(),
                found: format!("a transaction prepared for {}", tx.chain_id),
            });
        }
        self.in_session(rpc!(self.broadcast(tx.clone()))).await
    }

    async fn tx_status(&self, id: &Hash32) -> Result<TxState, AdapterError> {
        self.in_session(rpc!(self.tx_status(*id))).await
    }

    /// The signer announced by the last accepted handshake.
    fn signer(&self) -> Option<Address> {
        self.last_known().and_then(|hs| hs.signer)
    }

    /// The capabilities announced by the last accepted handshake; none before the first
    /// successful call.
    fn capabilities(&self) -> Capabilities {
        self.last_known()
            .map(|hs| hs.capabilities)
            .unwrap_or(Capabilities {
                transfer: false,
                htlc: false,
                bridge: false,
                bridge_batch: false,
                max_batch_bytes: DEFAULT_BATCH_SUBMISSION_BYTES,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::AdapterIdentity;

    fn handshake(version: &str, chain: &str) -> Handshake {
        Handshake {
            protocol_version: version.into(),
            adapter: AdapterIdentity {
                name: "x".into(),
                version: "1".into(),
            },
            chain_id: ChainId::new(chain).unwrap(),
            capabilities: Capabilities {
                transfer: true,
                htlc: false,
                bridge: false,
                bridge_batch: false,
                max_batch_bytes: DEFAULT_BATCH_SUBMISSION_BYTES,
            },
            signer: None,
        }
    }

    // specs/adapter-protocol.md §2.3, §3.1
    #[test]
    fn handshakes_of_another_major_version_or_chain_are_refused_naming_both() {
        let remote =
            RemoteAdapter::new(ChainId::new("c-1").unwrap(), "http://127.0.0.1:1").unwrap();
        assert!(remote.check_handshake(&handshake("1.9", "c-1")).is_ok());
        let err = remote
            .check_handshake(&handshake("2.0", "c-1"))
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("protocol 2.0") && text.contains("speaks 1.0") && !err.is_transient(),
            "{text}"
        );
        assert!(matches!(
            remote.check_handshake(&handshake("1.0", "c-2")),
            Err(AdapterError::WrongChain { .. })
        ));
        assert!(remote.check_handshake(&handshake("one", "c-1")).is_err());
        let mut long_name = handshake("1.0", "c-1");
        long_name.adapter.name = "n".repeat(MAX_IDENTITY_CHARS + 1);
        assert!(remote.check_handshake(&long_name).is_err());
    }

    fn info_at(height: u64, time_ms: u64) -> ChainInfo {
        ChainInfo {
            chain_id: ChainId::new("c-1").unwrap(),
            kind: "remote".into(),
            height,
            finalized_height: height,
            finalized_time_ms: time_ms,
            block_time_ms: 100,
            finality: causeway_core::FinalityRule::Instant,
        }
    }

    // Regression (specs/adapter.md §1.3): two `info` calls in flight at once were answered
    // 16 then 17, the answers were read 17 then 16, and a healthy chain was called broken.
    #[test]
    fn concurrent_info_answers_read_out_of_order_are_not_a_chain_going_back() {
        let remote =
            RemoteAdapter::new(ChainId::new("c-1").unwrap(), "http://127.0.0.1:1").unwrap();
        let before_both = remote.finalized_seen();
        assert!(remote.check_info(&info_at(17, 1_700), before_both).is_ok());
        assert!(remote.check_info(&info_at(16, 1_600), before_both).is_ok());
        assert_eq!(remote.finalized_seen(), (17, 1_700));
        // Asked after 17 was seen, 16 is a chain going back.
        let err = remote
            .check_info(&info_at(16, 1_600), remote.finalized_seen())
            .unwrap_err();
        assert!(err.to_string().contains("went back"), "{err}");
    }
}
