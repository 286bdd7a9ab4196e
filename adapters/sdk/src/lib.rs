//! Serve any [`ChainAdapter`] over Causeway's out-of-process adapter protocol
//! (`specs/adapter-protocol.md`), so a relay reaches it with `kind = "remote"`.
//!
//! ```no_run
//! # async fn demo(adapter: std::sync::Arc<dyn causeway_adapters::ChainAdapter>) {
//! use causeway_adapter_sdk::{serve, AdapterIdentity};
//! let identity = AdapterIdentity { name: "my-ledger".into(), version: "0.1.0".into() };
//! let server = serve(adapter, "127.0.0.1:8700".parse().unwrap(), identity).await.unwrap();
//! server.stopped().await;
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use causeway_adapters::protocol::{
    codes, error_to_rpc, AdapterRpcServer, Handshake, ProtocolVersion, MAX_EVENTS_PER_PAGE,
    PROTOCOL_VERSION,
};
use causeway_adapters::{Action, ChainAdapter, PreparedTx, TxState};
use causeway_core::{Address, Amount, AssetId, ChainInfo, Cursor, EventPage, Hash32};
use jsonrpsee::core::RpcResult;
use jsonrpsee::server::{Server, ServerConfig};
use jsonrpsee::types::ErrorObjectOwned;

pub use causeway_adapters::protocol::AdapterIdentity;

/// Largest request body accepted (a prepared transaction is far smaller).
pub const MAX_REQUEST_BYTES: u32 = 1 << 20;
/// Largest response body produced.
pub const MAX_RESPONSE_BYTES: u32 = 8 << 20;
/// Most concurrent connections (one relay needs a handful).
pub const MAX_CONNECTIONS: u32 = 64;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("adapter server cannot listen on {addr}: {reason} (is the port in use?)")]
    Bind { addr: SocketAddr, reason: String },
}

/// A running adapter server.
pub struct ServerHandle {
    inner: jsonrpsee::server::ServerHandle,
    addr: SocketAddr,
}

impl ServerHandle {
    /// Where it listens (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Asks the server to stop; see [`ServerHandle::stopped`].
    pub fn stop(&self) {
        let _ = self.inner.stop();
    }

    /// Resolves once the server has stopped.
    pub async fn stopped(self) {
        self.inner.stopped().await
    }
}

/// Serves `adapter` at `addr` until the returned handle is stopped.
pub async fn serve(
    adapter: Arc<dyn ChainAdapter>,
    addr: SocketAddr,
    info: AdapterIdentity,
) -> Result<ServerHandle, ServeError> {
    let bind_err = |e: std::io::Error| ServeError::Bind {
        addr,
        reason: e.to_string(),
    };
    let server = Server::builder()
        .set_config(
            ServerConfig::builder()
                .max_request_body_size(MAX_REQUEST_BYTES)
                .max_response_body_size(MAX_RESPONSE_BYTES)
                .max_connections(MAX_CONNECTIONS)
                .build(),
        )
        .build(addr)
        .await
        .map_err(bind_err)?;
    let addr = server.local_addr().map_err(bind_err)?;
    let inner = server.start(Served { adapter, info }.into_rpc());
    Ok(ServerHandle { inner, addr })
}

struct Served {
    adapter: Arc<dyn ChainAdapter>,
    info: AdapterIdentity,
}

fn wire<T>(result: Result<T, causeway_adapters::AdapterError>) -> RpcResult<T> {
    result.map_err(|e| error_to_rpc(&e))
}

#[async_trait]
impl AdapterRpcServer for Served {
    async fn handshake(&self, protocol_version: String) -> RpcResult<Handshake> {
        let theirs: ProtocolVersion = protocol_version
            .parse()
            .map_err(|e: String| ErrorObjectOwned::owned(codes::INVALID_PARAMS, e, None::<()>))?;
        if !theirs.is_compatible_with(PROTOCOL_VERSION) {
            return Err(ErrorObjectOwned::owned(
                codes::INCOMPATIBLE_VERSION,
                format!(
                    "this adapter speaks adapter protocol {PROTOCOL_VERSION}, the caller {theirs}; \
                     major versions must match"
                ),
                None::<()>,
            ));
        }
        Ok(Handshake {
            protocol_version: PROTOCOL_VERSION.to_string(),
            adapter: self.info.clone(),
            chain_id: self.adapter.chain_id().clone(),
            capabilities: self.adapter.capabilities(),
            signer: self.adapter.signer(),
        })
    }

    async fn info(&self) -> RpcResult<ChainInfo> {
        wire(self.adapter.info().await)
    }

    async fn events(&self, cursor: Cursor, limit: u32) -> RpcResult<EventPage> {
        wire(
            self.adapter
                .events(cursor, limit.min(MAX_EVENTS_PER_PAGE))
                .await,
        )
    }

    async fn balance(&self, account: Address, asset: AssetId) -> RpcResult<Amount> {
        wire(self.adapter.balance(&account, &asset).await)
    }

    async fn prepare(&self, action: Action) -> RpcResult<PreparedTx> {
        wire(self.adapter.prepare(&action).await)
    }

    async fn broadcast(&self, tx: PreparedTx) -> RpcResult<()> {
        wire(self.adapter.broadcast(&tx).await)
    }

    async fn tx_status(&self, id: Hash32) -> RpcResult<TxState> {
        wire(self.adapter.tx_status(&id).await)
    }

    async fn hashlock(&self, preimage: Hash32) -> RpcResult<Hash32> {
        Ok(self.adapter.hashlock(&preimage))
    }
}

#[cfg(test)]
mod tests;
