//! The JSON-RPC-over-HTTP client every HTTP adapter uses, with its bounds.

use std::time::Duration;

use causeway_core::ChainId;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};

use crate::AdapterError;

/// A client for `endpoint` with a per-request timeout and a response size bound. A bad URL
/// is reported as `Unreachable` naming the chain, so the operator fixes the config.
pub(crate) fn client(
    chain: &ChainId,
    endpoint: &str,
    timeout: Duration,
    max_response_bytes: u32,
) -> Result<HttpClient, AdapterError> {
    HttpClientBuilder::default()
        .request_timeout(timeout)
        .max_response_size(max_response_bytes)
        .build(endpoint)
        .map_err(|e| AdapterError::Unreachable {
            chain: chain.clone(),
            endpoint: endpoint.to_string(),
            reason: format!("invalid endpoint URL: {e}"),
        })
}
