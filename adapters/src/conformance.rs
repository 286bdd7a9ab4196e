//! The conformance suite: every rule of `specs/adapter.md` checked against a live chain
//! through nothing but the [`ChainAdapter`] trait, so the same suite runs against every
//! adapter (devchain, EVM, remote).

use std::time::Duration;

use causeway_core::{sha256, Address, Amount, AssetId, ChainEvent, Cursor, EventKind, Hash32};

use crate::{Action, ChainAdapter, PreparedTx, TxOutcome, TxState};

/// How long a check waits for a transaction or an event.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// What the suite needs besides the adapter.
pub struct Fixture {
    /// An account that is *not* the adapter's signer, to receive transfers and locks.
    pub peer: Address,
    /// An asset the adapter's signer holds at least `10 * amount` of.
    pub asset: AssetId,
    pub amount: Amount,
}

/// One requirement's verdict.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Check {
    /// The section of `specs/adapter.md` checked.
    pub section: &'static str,
    pub requirement: &'static str,
    pub passed: bool,
    pub detail: String,
}

struct Suite<'a, A: ChainAdapter + ?Sized> {
    adapter: &'a A,
    fx: &'a Fixture,
    checks: Vec<Check>,
}

impl<A: ChainAdapter + ?Sized> Suite<'_, A> {
    fn record(
        &mut self,
        section: &'static str,
        requirement: &'static str,
        result: Result<String, String>,
    ) {
        let (passed, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.checks.push(Check {
            section,
            requirement,
            passed,
            detail,
        });
    }

    /// The fixture's amount to the peer: what the transfer checks send.
    fn peer_transfer(&self) -> Action {
        Action::Transfer {
            to: self.fx.peer.clone(),
            asset: self.fx.asset.clone(),
            amount: self.fx.amount,
        }
    }

    async fn final_outcome(&self, tx: &PreparedTx) -> Result<(u64, TxOutcome), String> {
        match self.adapter.wait_final(tx, CHECK_TIMEOUT).await {
            Ok(TxState::Final { height, outcome }) => Ok((height, outcome)),
            Ok(other) => Err(format!("transaction {} ended {other:?}", tx.id)),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn all_events(&self) -> Result<Vec<ChainEvent>, String> {
        read_all_events(self.adapter).await
    }

    async fn event_of(&self, tx: &Hash32, kind: &str) -> Result<ChainEvent, String> {
        let started = std::time::Instant::now();
        loop {
            let events = self.all_events().await?;
            if let Some(e) = events
                .into_iter()
                .find(|e| &e.tx_hash == tx && e.kind.name() == kind)
            {
                return Ok(e);
            }
            if started.elapsed() > CHECK_TIMEOUT {
                return Err(format!(
                    "no {kind} event for transaction {tx} among finalized events"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Every finalized event from genesis, page by page, as a relay would read them.
async fn read_all_events<A: ChainAdapter + ?Sized>(adapter: &A) -> Result<Vec<ChainEvent>, String> {
    crate::finalized_events(adapter, Cursor::default())
        .await
        .map_err(|e| e.to_string())
}

/// Runs every check, then checks that `fresh` (a second client of the same chain, as after
/// a relay or adapter restart) sees exactly the events the first one saw (§2.5).
pub async fn run_with_fresh_client<A: ChainAdapter + ?Sized>(
    adapter: &A,
    fresh: &A,
    fx: &Fixture,
) -> Vec<Check> {
    let mut checks = run(adapter, fx).await;
    if checks.iter().any(|c| c.section == "§1.1" && !c.passed) {
        return checks;
    }
    let result = async {
        let seen = read_all_events(adapter).await?;
        let Some(mid) = seen.get(seen.len() / 2) else {
            return Err("no events to compare".to_string());
        };
        let again = read_all_events(fresh).await?;
        let n = seen.len().min(again.len());
        if seen[..n] != again[..n] || n < seen.len() {
            return Err(format!(
                "first client saw {} events, a fresh client {} that differ",
                seen.len(),
                again.len()
            ));
        }
        let resumed = fresh
            .events(mid.position, 200)
            .await
            .map_err(|e| format!("fresh client resuming at {}: {e}", mid.position))?;
        if resumed.events.first() != Some(mid) {
            return Err(format!(
                "a fresh client resuming at {} starts at {:?}",
                mid.position,
                resumed.events.first().map(|e| e.position)
            ));
        }
        Ok(format!(
            "{n} events identical; resumed at {} identically",
            mid.position
        ))
    }
    .await;
    checks.push(Check {
        section: "§2.5",
        requirement: "a reconnecting client sees the same events and resumes from a cursor",
        passed: result.is_ok(),
        detail: result.unwrap_or_else(|e| e),
    });
    checks
}

/// Runs every check; never panics on a misbehaving chain.
pub async fn run<A: ChainAdapter + ?Sized>(adapter: &A, fx: &Fixture) -> Vec<Check> {
    let mut s = Suite {
        adapter,
        fx,
        checks: Vec::new(),
    };

    // §1: identity, finality, time.
    let info = adapter.info().await;
    let info_ok = info.is_ok();
    s.record(
        "§1.1",
        "info() answers with the configured chain id",
        match &info {
            Ok(i) if &i.chain_id == adapter.chain_id() => {
                Ok(format!("chain {} at height {}", i.chain_id, i.height))
            }
            Ok(i) => Err(format!("answered as chain {}", i.chain_id)),
            Err(e) => Err(e.to_string()),
        },
    );
    if !info_ok {
        return s.checks;
    }
    let first = info.expect("checked");
    s.record(
        "§1.3",
        "finalized height and time never decrease",
        async {
            tokio::time::sleep(Duration::from_millis(
                2 * first.block_time_ms.clamp(10, 2_000),
            ))
            .await;
            let later = adapter.info().await.map_err(|e| e.to_string())?;
            if later.finalized_height < first.finalized_height
                || later.finalized_time_ms < first.finalized_time_ms
            {
                return Err(format!(
                    "went from {}@{} to {}@{}",
                    first.finalized_height,
                    first.finalized_time_ms,
                    later.finalized_height,
                    later.finalized_time_ms
                ));
            }
            if first.finalized_height > first.height {
                return Err(format!(
                    "finalized {} above head {}",
                    first.finalized_height, first.height
                ));
            }
            Ok(format!(
                "{} -> {}",
                first.finalized_height, later.finalized_height
            ))
        }
        .await,
    );

    // §3, §4: a transfer, broadcast twice, with one effect.
    let before = adapter.balance(&fx.peer, &fx.asset).await;
    let transfer = adapter.prepare(&s.peer_transfer()).await;
    let mut transfer_tx = None;
    s.record(
        "§3.2",
        "broadcasting the same transaction twice has one effect",
        async {
            let before = before.map_err(|e| format!("balance: {e}"))?;
            let tx = transfer.map_err(|e| format!("prepare: {e}"))?;
            adapter
                .broadcast(&tx)
                .await
                .map_err(|e| format!("first broadcast: {e}"))?;
            adapter
                .broadcast(&tx)
                .await
                .map_err(|e| format!("second broadcast: {e}"))?;
            let (_, outcome) = s.final_outcome(&tx).await?;
            if outcome != TxOutcome::Success {
                return Err(format!("transfer failed: {outcome:?}"));
            }
            adapter
                .broadcast(&tx)
                .await
                .map_err(|e| format!("broadcast after final: {e}"))?;
            let after = adapter
                .balance(&fx.peer, &fx.asset)
                .await
                .map_err(|e| e.to_string())?;
            transfer_tx = Some(tx);
            if after.checked_sub(before) == Some(fx.amount) {
                Ok(format!("balance {before} -> {after}"))
            } else {
                Err(format!(
                    "balance went {before} -> {after} for one transfer of {}",
                    fx.amount
                ))
            }
        }
        .await,
    );

    refusal_checks(&mut s).await;
    if let Some(tx) = &transfer_tx {
        statuses_check(&mut s, tx).await;
    }
    prepare_many_check(&mut s).await;

    // §2: events of that transfer, ordering, determinism.
    if let Some(tx) = &transfer_tx {
        let event = s.event_of(&tx.id, "transfer").await;
        s.record(
            "§2.6",
            "a final transfer appears as a transfer event with its tx hash",
            match &event {
                Ok(e) => match &e.kind {
                    EventKind::Transfer { to, amount, .. }
                        if to == &fx.peer && *amount == fx.amount =>
                    {
                        Ok(format!("at {}", e.position))
                    }
                    other => Err(format!("event is {other:?}")),
                },
                Err(e) => Err(e.clone()),
            },
        );
    }
    let first_read = s.all_events().await;
    let second_read = s.all_events().await;
    s.record(
        "§2.2",
        "events are in strictly increasing position order, all of this chain",
        match &first_read {
            Ok(events) => {
                let ordered = events.windows(2).all(|w| w[0].position < w[1].position);
                let ours = events.iter().all(|e| &e.chain_id == adapter.chain_id());
                if ordered && ours {
                    Ok(format!("{} events", events.len()))
                } else {
                    Err(format!("ordered: {ordered}, all of this chain: {ours}"))
                }
            }
            Err(e) => Err(e.clone()),
        },
    );
    s.record(
        "§2.3",
        "the same cursor yields the same events",
        match (&first_read, &second_read) {
            (Ok(a), Ok(b)) => {
                let n = a.len().min(b.len());
                if a[..n] == b[..n] {
                    Ok(format!("{n} events read twice"))
                } else {
                    Err("two reads from genesis differ".into())
                }
            }
            _ => Err("could not read events".into()),
        },
    );
    if let Ok(events) = &first_read {
        if let Some(mid) = events.get(events.len() / 2) {
            let page = adapter.events(mid.position, 5).await;
            s.record(
                "§2.4",
                "reading from an event's position starts at that event; next is past the page",
                match page {
                    Ok(p)
                        if p.events.first() == Some(mid)
                            && p.events.last().is_some_and(|l| p.next > l.position) =>
                    {
                        Ok(format!("next {}", p.next))
                    }
                    Ok(p) => Err(format!(
                        "page starts at {:?}, next {}",
                        p.events.first().map(|e| e.position),
                        p.next
                    )),
                    Err(e) => Err(e.to_string()),
                },
            );
        }
    }

    // §5: HTLC hashing and rules.
    if adapter.capabilities().htlc {
        htlc_checks(&mut s, first.finalized_time_ms).await;
    }
    s.checks
}

/// §3.3: many statuses at once agree, in order, with one status at a time.
async fn statuses_check<A: ChainAdapter + ?Sized>(s: &mut Suite<'_, A>, final_tx: &PreparedTx) {
    let never_sent = sha256(b"causeway conformance: another transaction nobody sent");
    let ids = [final_tx.id, never_sent, final_tx.id];
    let result = async {
        let many = s
            .adapter
            .tx_statuses(&ids)
            .await
            .map_err(|e| e.to_string())?;
        let mut one_by_one = Vec::new();
        for id in &ids {
            one_by_one.push(s.adapter.tx_status(id).await.map_err(|e| e.to_string())?);
        }
        match (&many[..], many == one_by_one) {
            ([TxState::Final { .. }, TxState::Unknown, TxState::Final { .. }], true) => {
                Ok("final, unknown, final".to_string())
            }
            _ => Err(format!(
                "tx_statuses answered {many:?}, tx_status {one_by_one:?}"
            )),
        }
    }
    .await;
    s.record(
        "§3.3",
        "tx_statuses answers each id in order, as tx_status does",
        result,
    );
}

/// §3.1: several actions prepared at once become distinct transactions that all take
/// effect when broadcast in order, as one `prepare` after another would.
async fn prepare_many_check<A: ChainAdapter + ?Sized>(s: &mut Suite<'_, A>) {
    let transfer = s.peer_transfer();
    let result = async {
        let prepared = s
            .adapter
            .prepare_many(&[transfer.clone(), transfer])
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("prepare_many: {e}"))?;
        let [first, second] = &prepared[..] else {
            return Err(format!("{} transactions for 2 actions", prepared.len()));
        };
        if first.id == second.id {
            return Err("both actions got the same transaction".into());
        }
        for tx in [first, second] {
            s.adapter
                .broadcast(tx)
                .await
                .map_err(|e| format!("broadcast: {e}"))?;
        }
        for tx in [first, second] {
            let (_, outcome) = s.final_outcome(tx).await?;
            if outcome != TxOutcome::Success {
                return Err(format!("transaction {} failed: {outcome:?}", tx.id));
            }
        }
        Ok("two transactions, both final with success".to_string())
    }
    .await;
    s.record(
        "§3.1",
        "prepare_many prepares each action, in order, as prepare would",
        result,
    );
}

/// §3.3, §3.4: unknown transactions and refused input.
async fn refusal_checks<A: ChainAdapter + ?Sized>(s: &mut Suite<'_, A>) {
    let never_sent = sha256(b"causeway conformance: a transaction nobody sent");
    s.record(
        "§3.3",
        "tx_status of a transaction the chain never saw is unknown",
        match s.adapter.tx_status(&never_sent).await {
            Ok(TxState::Unknown) => Ok("unknown".into()),
            Ok(other) => Err(format!("answered {other:?}")),
            Err(e) => Err(e.to_string()),
        },
    );
    let before = s.adapter.balance(&s.fx.peer, &s.fx.asset).await;
    let overdraft = s
        .adapter
        .submit(&Action::Transfer {
            to: s.fx.peer.clone(),
            asset: s.fx.asset.clone(),
            amount: Amount(u128::MAX),
        })
        .await;
    let refused = async {
        let verdict = match overdraft {
            Err(e) if !e.is_transient() => format!("refused at submission: {e}"),
            Err(e) => return Err(format!("transport trouble, not a refusal: {e}")),
            Ok(tx) => match s.final_outcome(&tx).await? {
                (_, TxOutcome::Failed { reason }) => format!("failed: {reason}"),
                (_, TxOutcome::Success) => {
                    return Err("a transfer of u128::MAX succeeded".to_string())
                }
            },
        };
        let before = before.map_err(|e| format!("balance: {e}"))?;
        let after = s
            .adapter
            .balance(&s.fx.peer, &s.fx.asset)
            .await
            .map_err(|e| format!("balance: {e}"))?;
        if before == after {
            Ok(verdict)
        } else {
            Err(format!("refused transfer moved funds: {before} -> {after}"))
        }
    }
    .await;
    s.record(
        "§3.4",
        "a transfer beyond the signer's balance is refused and moves nothing",
        refused,
    );
}

async fn htlc_checks<A: ChainAdapter + ?Sized>(s: &mut Suite<'_, A>, now_ms: u64) {
    // A fixed, published preimage: every chain must agree on its hashlock.
    let preimage = Hash32([0x01; 32]);
    let nonce = Hash32(now_ms.to_be_bytes().repeat(4).try_into().expect("32 bytes"));
    let fresh = sha256(&[preimage.as_bytes().as_slice(), nonce.as_bytes()].concat());
    let hashlock = s.adapter.hashlock(&fresh);
    s.record(
        "§5.2",
        "hashlock of the known preimage 0x01*32 is SHA-256 of the raw bytes",
        {
            let expected: Hash32 =
                "72cd6e8422c407fb6d098690f1130b7ded7ec2f7f5e1d30bd9d521f015363793"
                    .parse()
                    .expect("hex");
            let got = s.adapter.hashlock(&preimage);
            if got == expected {
                Ok(format!("{got}"))
            } else {
                Err(format!("adapter computes {got}, SHA-256 gives {expected}"))
            }
        },
    );
    let lock = s
        .adapter
        .submit(&Action::HtlcLock {
            recipient: s.fx.peer.clone(),
            asset: s.fx.asset.clone(),
            amount: s.fx.amount,
            hashlock,
            expiry_ms: now_ms + 600_000,
        })
        .await;
    let lock_id = async {
        let tx = lock.map_err(|e| format!("lock: {e}"))?;
        let (_, outcome) = s.final_outcome(&tx).await?;
        if outcome != TxOutcome::Success {
            return Err(format!("lock failed: {outcome:?}"));
        }
        match s.event_of(&tx.id, "htlc_locked").await?.kind {
            EventKind::HtlcLocked {
                lock_id,
                hashlock: h,
                ..
            } if h == hashlock => Ok(lock_id),
            other => Err(format!("lock event is {other:?}")),
        }
    }
    .await;
    let Ok(lock_id) = lock_id else {
        s.record(
            "§5.1",
            "an HTLC lock is final and emits htlc_locked",
            lock_id.map(|_| String::new()),
        );
        return;
    };
    let wrong = s
        .adapter
        .submit(&Action::HtlcClaim {
            lock_id,
            preimage: Hash32([0x02; 32]),
        })
        .await;
    let wrong_refused = match wrong {
        Err(_) => Ok("refused at submission".to_string()),
        Ok(tx) => match s.final_outcome(&tx).await {
            Ok((_, TxOutcome::Failed { reason })) => Ok(format!("failed: {reason}")),
            Ok((_, TxOutcome::Success)) => Err("a wrong preimage claimed the lock".to_string()),
            Err(e) => Err(e),
        },
    };
    s.record(
        "§5.1",
        "a claim with the wrong preimage is refused",
        wrong_refused,
    );
    let early = s.adapter.submit(&Action::HtlcRefund { lock_id }).await;
    let early_refused = match early {
        Err(_) => Ok("refused at submission".to_string()),
        Ok(tx) => match s.final_outcome(&tx).await {
            Ok((_, TxOutcome::Failed { reason })) => Ok(format!("failed: {reason}")),
            Ok((_, TxOutcome::Success)) => Err("refunded before expiry".to_string()),
            Err(e) => Err(e),
        },
    };
    s.record("§5.1", "a refund before expiry is refused", early_refused);
    let claim = async {
        let tx = s
            .adapter
            .submit(&Action::HtlcClaim {
                lock_id,
                preimage: fresh,
            })
            .await
            .map_err(|e| format!("claim: {e}"))?;
        let (_, outcome) = s.final_outcome(&tx).await?;
        if outcome != TxOutcome::Success {
            return Err(format!("claim with the right preimage failed: {outcome:?}"));
        }
        match s.event_of(&tx.id, "htlc_claimed").await?.kind {
            EventKind::HtlcClaimed {
                preimage: p,
                recipient,
                ..
            } if p == fresh && recipient == s.fx.peer => {
                Ok("claimed; event carries the preimage".to_string())
            }
            other => Err(format!("claim event is {other:?}")),
        }
    }
    .await;
    s.record(
        "§5.2",
        "the chain accepts SHA-256(raw preimage) and the claim event carries the preimage",
        claim,
    );
}
