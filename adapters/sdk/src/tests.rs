//! The SDK server and `RemoteAdapter` against each other, with an in-memory adapter that can
//! be told to misbehave: the client must catch every violation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use causeway_adapters::remote::RemoteAdapter;
use causeway_adapters::{AdapterError, Capabilities, TxOutcome, DEFAULT_BATCH_SUBMISSION_BYTES};
use causeway_core::{ChainEvent, EventKind, FinalityRule, Position};

use super::*;

fn chain() -> causeway_core::ChainId {
    causeway_core::ChainId::new("mem-1").unwrap()
}

fn addr(s: &str) -> Address {
    Address::new(s).unwrap()
}

fn event(height: u64, index: u32) -> ChainEvent {
    ChainEvent {
        chain_id: chain(),
        position: Position::new(height, index),
        tx_hash: Hash32([height as u8; 32]),
        time_ms: 1_000 + height,
        kind: EventKind::Transfer {
            from: addr("a"),
            to: addr("b"),
            asset: AssetId::new("USD").unwrap(),
            amount: Amount(1),
        },
    }
}

/// Answers whatever it is told to: `events` verbatim, a finalized height that follows
/// `finalized`, and `prepare` of `prepared_action` when set.
struct Scripted {
    events: Vec<ChainEvent>,
    finalized: AtomicU64,
    prepared_action: Option<Action>,
    /// Hash preimages' hex text, as a non-interoperable chain does.
    hashes_hex_text: bool,
}

impl Scripted {
    fn honest() -> Scripted {
        Scripted {
            events: vec![event(1, 0), event(1, 1), event(3, 0)],
            finalized: AtomicU64::new(5),
            prepared_action: None,
            hashes_hex_text: false,
        }
    }
}

#[async_trait]
impl ChainAdapter for Scripted {
    fn chain_id(&self) -> &causeway_core::ChainId {
        static CHAIN: std::sync::OnceLock<causeway_core::ChainId> = std::sync::OnceLock::new();
        CHAIN.get_or_init(chain)
    }

    async fn info(&self) -> Result<ChainInfo, causeway_adapters::AdapterError> {
        let finalized = self.finalized.load(Ordering::SeqCst);
        Ok(ChainInfo {
            chain_id: chain(),
            kind: "memory".into(),
            height: finalized,
            finalized_height: finalized,
            finalized_time_ms: 1_000 + finalized,
            block_time_ms: 10,
            finality: FinalityRule::Instant,
        })
    }

    async fn events(&self, from: Cursor, _limit: u32) -> Result<EventPage, AdapterError> {
        let events = self.events.clone();
        let finalized = self.finalized.load(Ordering::SeqCst);
        Ok(EventPage {
            next: Position::new(finalized + 1, 0).max(from),
            events,
            finalized_height: finalized,
        })
    }

    async fn balance(&self, account: &Address, _: &AssetId) -> Result<Amount, AdapterError> {
        if account.as_str() == "refused" {
            return Err(AdapterError::Rejected {
                chain: chain(),
                code: Some(42),
                message: "account frozen".into(),
            });
        }
        Ok(Amount(7))
    }

    async fn prepare(&self, action: &Action) -> Result<PreparedTx, AdapterError> {
        Ok(PreparedTx {
            chain_id: chain(),
            id: Hash32([9; 32]),
            action: self
                .prepared_action
                .clone()
                .unwrap_or_else(|| action.clone()),
            raw: serde_json::json!({"opaque": true}),
        })
    }

    async fn broadcast(&self, _: &PreparedTx) -> Result<(), AdapterError> {
        Ok(())
    }

    async fn tx_status(&self, _: &Hash32) -> Result<TxState, AdapterError> {
        Ok(TxState::Final {
            height: 2,
            outcome: TxOutcome::Success,
        })
    }

    fn signer(&self) -> Option<Address> {
        Some(addr("signer"))
    }

    fn hashlock(&self, preimage: &Hash32) -> Hash32 {
        if self.hashes_hex_text {
            causeway_core::sha256(preimage.to_hex().as_bytes())
        } else {
            causeway_core::sha256(preimage.as_bytes())
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            transfer: true,
            htlc: true,
            bridge: false,
            bridge_batch: false,
            max_batch_bytes: DEFAULT_BATCH_SUBMISSION_BYTES,
        }
    }
}

fn identity() -> AdapterIdentity {
    AdapterIdentity {
        name: "scripted".into(),
        version: "0.0.1".into(),
    }
}

async fn served(adapter: Scripted) -> (ServerHandle, RemoteAdapter) {
    let server = serve(
        Arc::new(adapter),
        "127.0.0.1:0".parse().unwrap(),
        identity(),
    )
    .await
    .unwrap();
    let client = RemoteAdapter::new(chain(), &format!("http://{}", server.local_addr())).unwrap();
    (server, client)
}

fn transfer() -> Action {
    Action::Transfer {
        to: addr("b"),
        asset: AssetId::new("USD").unwrap(),
        amount: Amount(3),
    }
}

// specs/adapter-protocol.md §3
#[tokio::test]
async fn every_method_round_trips_through_server_and_client() {
    let (_server, remote) = served(Scripted::honest()).await;
    assert!(!remote.capabilities().htlc, "no session yet");
    let hs = remote.handshake().await.unwrap();
    assert_eq!(hs.adapter, identity());
    assert_eq!(remote.signer(), Some(addr("signer")));
    assert!(remote.capabilities().htlc);
    assert_eq!(remote.info().await.unwrap().finalized_height, 5);
    let page = remote.events(Cursor::default(), 10).await.unwrap();
    assert_eq!(page.events.len(), 3);
    assert_eq!(page.next, Position::new(6, 0));
    assert_eq!(
        remote
            .balance(&addr("x"), &AssetId::new("USD").unwrap())
            .await
            .unwrap(),
        Amount(7)
    );
    let tx = remote.prepare(&transfer()).await.unwrap();
    remote.broadcast(&tx).await.unwrap();
    assert!(matches!(
        remote.tx_status(&tx.id).await.unwrap(),
        TxState::Final { height: 2, .. }
    ));
}

// specs/adapter-protocol.md §5: the chain's own code survives the trip.
#[tokio::test]
async fn a_chain_refusal_arrives_with_its_chain_code() {
    let (_server, remote) = served(Scripted::honest()).await;
    let err = remote
        .balance(&addr("refused"), &AssetId::new("USD").unwrap())
        .await
        .unwrap_err();
    match err {
        AdapterError::Rejected { code, message, .. } => {
            assert_eq!(code, Some(42));
            assert_eq!(message, "account frozen");
        }
        other => panic!("{other:?}"),
    }
}

// specs/adapter.md §6.2, specs/adapter-protocol.md §4
#[tokio::test]
async fn pages_that_break_the_contract_are_malformed() {
    let hostile = [
        vec![event(3, 0), event(1, 0)],
        vec![event(9, 0)],
        vec![ChainEvent {
            chain_id: causeway_core::ChainId::new("other").unwrap(),
            ..event(1, 0)
        }],
    ];
    for events in hostile {
        let (_server, remote) = served(Scripted {
            events: events.clone(),
            ..Scripted::honest()
        })
        .await;
        let err = remote.events(Cursor::default(), 10).await.unwrap_err();
        assert!(
            matches!(err, AdapterError::Malformed { .. }),
            "{events:?}: {err:?}"
        );
    }
}

// specs/adapter-protocol.md §4: a page longer than asked for is refused.
#[tokio::test]
async fn a_page_longer_than_the_limit_is_malformed() {
    let (_server, remote) = served(Scripted::honest()).await;
    let err = remote.events(Cursor::default(), 2).await.unwrap_err();
    assert!(matches!(err, AdapterError::Malformed { .. }), "{err:?}");
}

// specs/adapter-protocol.md §3.5
#[tokio::test]
async fn a_prepared_transaction_for_another_action_is_malformed() {
    let (_server, remote) = served(Scripted {
        prepared_action: Some(Action::HtlcRefund {
            lock_id: Hash32([1; 32]),
        }),
        ..Scripted::honest()
    })
    .await;
    let err = remote.prepare(&transfer()).await.unwrap_err();
    assert!(matches!(err, AdapterError::Malformed { .. }), "{err:?}");
}

// specs/adapter.md §1.3, specs/adapter-protocol.md §3.2
#[tokio::test]
async fn a_finalized_head_that_goes_back_is_malformed() {
    let scripted = Arc::new(Scripted::honest());
    let server = serve(scripted.clone(), "127.0.0.1:0".parse().unwrap(), identity())
        .await
        .unwrap();
    let remote = RemoteAdapter::new(chain(), &format!("http://{}", server.local_addr())).unwrap();
    remote.info().await.unwrap();
    scripted.finalized.store(3, Ordering::SeqCst);
    let err = remote.info().await.unwrap_err();
    assert!(matches!(err, AdapterError::Malformed { .. }), "{err:?}");
}

// specs/adapter-protocol.md §1.2: the session ends with the process; a replacement is
// handshaken (and checked) again.
#[tokio::test]
async fn a_restarted_adapter_is_unreachable_meanwhile_then_checked_again() {
    let (server, remote) = served(Scripted::honest()).await;
    let addr = server.local_addr();
    remote.info().await.unwrap();
    server.stop();
    server.stopped().await;
    let err = remote.info().await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(
        remote.signer(),
        Some(self::addr("signer")),
        "last handshake kept"
    );

    let replacement = Scripted {
        hashes_hex_text: true,
        ..Scripted::honest()
    };
    let bad = serve(Arc::new(replacement), addr, identity())
        .await
        .unwrap();
    let err = remote.info().await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Malformed { detail, .. } if detail.contains("§5.2")),
        "the replacement was not checked: {err:?}"
    );
    bad.stop();
    bad.stopped().await;
    let err = remote.info().await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    let _good = serve(Arc::new(Scripted::honest()), addr, identity())
        .await
        .unwrap();
    remote.info().await.unwrap();
}

// specs/adapter-protocol.md §2.3
#[tokio::test]
async fn the_server_refuses_a_caller_of_another_major_version() {
    let (server, _) = served(Scripted::honest()).await;
    let client = jsonrpsee::http_client::HttpClientBuilder::default()
        .build(format!("http://{}", server.local_addr()))
        .unwrap();
    let err = causeway_adapters::protocol::AdapterRpcClient::handshake(&client, "2.0".into())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("2.0")
            && text.contains("1.0")
            && text.contains(&codes::INCOMPATIBLE_VERSION.to_string()),
        "{text}"
    );
}

// specs/adapter.md §5.2, specs/adapter-protocol.md §3.1: refused before any lock is made.
#[tokio::test]
async fn an_htlc_adapter_hashing_hex_text_is_refused_at_handshake() {
    let (_server, remote) = served(Scripted {
        hashes_hex_text: true,
        ..Scripted::honest()
    })
    .await;
    let err = remote.info().await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Malformed { detail, .. } if detail.contains("§5.2")),
        "{err:?}"
    );
    assert!(!err.is_transient());
}
