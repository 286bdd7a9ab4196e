//! What every in-process node test needs: deterministic keys, and a node started on a
//! free port from a home, found through the `rpc.addr` file it writes.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use causeway_core::{Address, AssetId};
use causeway_devchain::tx::address_of;
use causeway_devchain::{Node, NodeOverrides};
use ed25519_dalek::SigningKey;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Upper bound on polling for something the node does every block; never a timing assertion.
pub const MAX_POLLS: usize = 2_000;
pub const POLL_EVERY: Duration = Duration::from_millis(10);

pub fn usd() -> AssetId {
    AssetId::new("USD").unwrap()
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn addr(seed: u8) -> Address {
    address_of(&key(seed).verifying_key())
}

/// A node running in this process until `shutdown`.
pub struct RunningNode {
    pub rpc: HttpClient,
    pub url: String,
    pub addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), causeway_devchain::DevchainError>>,
}

impl RunningNode {
    /// Opens `home` (already initialised) and serves it on the port the node picks.
    pub async fn start(home: &Path) -> RunningNode {
        let addr_file = home.join("rpc.addr");
        let _ = std::fs::remove_file(&addr_file);
        let node = Node::open(home, NodeOverrides::default()).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(node.run(async move {
            let _ = stopped.await;
        }));
        let mut text = String::new();
        for _ in 0..MAX_POLLS {
            if let Ok(t) = std::fs::read_to_string(&addr_file) {
                text = t;
                break;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        let addr: std::net::SocketAddr = text.trim().parse().expect("node wrote rpc.addr");
        let url = format!("http://{addr}");
        RunningNode {
            rpc: HttpClientBuilder::default().build(&url).unwrap(),
            url,
            addr,
            stop,
            task,
        }
    }

    /// Stops the node cleanly and insists it stopped without error.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}
