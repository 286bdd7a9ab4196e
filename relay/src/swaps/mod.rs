//! Runs HTLC swaps for this relay's accounts: feeds the pure `htlc` state machines with
//! finalized events, chain time and transaction outcomes, persists each swap after every
//! step, and hands the actions it returns to the [`Executor`].

mod record;
mod storage;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use causeway_adapters::{Action, ChainAdapter};
use causeway_core::{Amount, AssetId, ChainEvent, ChainId, Hash32, UnixMillis};
use causeway_htlc::{
    plan, ActionKind, ActionResult, ChainParams, ChainTimes, Input, Leg, Offer, SafetyPolicy,
    Secret, SignedOffer, Swap, SwapId,
};
use ed25519_dalek::SigningKey;
use tokio::sync::Mutex;

pub use record::{SwapChange, SwapRecord, TimelineEntry, MAX_TIMELINE};
pub use storage::{progress_value, SwapStore};

use crate::daemon::follower::{EventConsumer, IngestGates};
use crate::executor::{now_ms, ActionDone, ActionStatus, Executor};
use crate::store::Store;

/// Prefix of the executor ids of swap actions.
const ACTION_PREFIX: &str = "swap:";
/// Most swaps one relay runs at once.
pub const MAX_ACTIVE_SWAPS: usize = 100_000;
/// Changes queued for each `relay_subscribeSwaps` subscriber; one that falls further
/// behind is dropped with an error rather than silently missing changes.
pub const MAX_QUEUED_SWAP_CHANGES: usize = 8_192;

/// What `swap offer` asks for: give `give` on `give_chain`, get `get` on `get_chain`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct OfferRequest {
    pub give_chain: ChainId,
    pub give_asset: AssetId,
    pub give_amount: Amount,
    pub get_chain: ChainId,
    pub get_asset: AssetId,
    pub get_amount: Amount,
    /// The counterparty's account on `give_chain` (receives what we give).
    pub counterparty_on_give_chain: causeway_core::Address,
    /// The counterparty's account on `get_chain` (locks what we get).
    pub counterparty_on_get_chain: causeway_core::Address,
    /// Chain time the counterparty has to accept and lock.
    pub accept_window_ms: u64,
}

pub struct SwapEngine {
    swaps: SwapStore,
    store: Arc<Store>,
    gates: Arc<IngestGates>,
    adapters: BTreeMap<ChainId, Arc<dyn ChainAdapter>>,
    executor: Executor,
    policy: SafetyPolicy,
    identity: SigningKey,
    /// Unfinished swaps. One lock: swaps are small and steps are short.
    active: Mutex<Active>,
    /// The last finalized head (height, time) each follower reported.
    heads: std::sync::Mutex<BTreeMap<ChainId, (u64, u64)>>,
    /// Every change a step made, for subscribers (sent only while there are some).
    changes: tokio::sync::broadcast::Sender<SwapChange>,
}

/// Unfinished swaps by id, and their ids by hashlock so an event finds its swaps at once.
#[derive(Default)]
struct Active {
    swaps: BTreeMap<SwapId, SwapRecord>,
    by_hashlock: BTreeMap<Hash32, Vec<SwapId>>,
}

impl Active {
    fn insert(&mut self, record: SwapRecord) {
        let id = record.swap.swap_id().clone();
        let ids = self
            .by_hashlock
            .entry(record.swap.offer().hashlock)
            .or_default();
        if !ids.contains(&id) {
            ids.push(id.clone());
        }
        self.swaps.insert(id, record);
    }

    fn remove(&mut self, id: &SwapId) {
        if let Some(record) = self.swaps.remove(id) {
            let hashlock = record.swap.offer().hashlock;
            if let Some(ids) = self.by_hashlock.get_mut(&hashlock) {
                ids.retain(|i| i != id);
                if ids.is_empty() {
                    self.by_hashlock.remove(&hashlock);
                }
            }
        }
    }
}

impl SwapEngine {
    #[allow(clippy::too_many_arguments)]
    pub async fn open(
        store: Arc<Store>,
        gates: Arc<IngestGates>,
        adapters: BTreeMap<ChainId, Arc<dyn ChainAdapter>>,
        executor: Executor,
        policy: SafetyPolicy,
        identity: SigningKey,
    ) -> Result<Arc<SwapEngine>> {
        policy
            .validate()
            .map_err(|e| anyhow::anyhow!("[swap] policy: {e}"))?;
        let swaps = SwapStore::open(store.db())?;
        let mut active = Active::default();
        for record in swaps.unfinished()? {
            active.insert(record);
        }
        let engine = Arc::new(SwapEngine {
            swaps,
            store,
            gates,
            adapters,
            executor,
            policy,
            identity,
            active: Mutex::new(active),
            heads: Default::default(),
            changes: tokio::sync::broadcast::channel(MAX_QUEUED_SWAP_CHANGES).0,
        });
        // Re-issue whatever was outstanding: the executor ignores ids it already has and
        // re-sends their recorded transactions (specs/htlc.md §8).
        let pending: Vec<_> = engine
            .active
            .lock()
            .await
            .swaps
            .values()
            .flat_map(|r| r.swap.pending_actions())
            .collect();
        for action in &pending {
            tracing::info!(swap_action = %action.id, "resuming swap action");
        }
        engine.submit_all(pending).await?;
        // An initiator that crashed before its start was recorded starts again.
        engine
            .feed(|swap| {
                (swap.role() == causeway_htlc::Role::Initiator && !swap.started())
                    .then_some(Input::Start)
            })
            .await?;
        Ok(engine)
    }

    fn adapter(&self, chain: &ChainId) -> Result<&Arc<dyn ChainAdapter>> {
        self.adapters.get(chain).with_context(|| {
            format!(
                "chain {chain} is not configured in this relay (configured: {})",
                self.adapters
                    .keys()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }

    fn signer(&self, chain: &ChainId) -> Result<causeway_core::Address> {
        self.adapter(chain)?
            .signer()
            .with_context(|| format!("chain {chain} has no `key` in this relay's config; the relay needs one to lock and claim there"))
    }

    async fn params(&self, chain: &ChainId) -> Result<(ChainParams, UnixMillis)> {
        let adapter = self.adapter(chain)?;
        // First: a remote adapter learns its capabilities and signer from this handshake.
        let info = adapter.info().await?;
        if !adapter.capabilities().htlc {
            bail!("chain {chain} does not support HTLC swaps");
        }
        Ok((ChainParams::from_info(&info), info.finalized_time_ms))
    }

    /// Creates a swap as initiator: plans deadlines from both chains' finality, signs the
    /// offer, persists the swap, and starts it (our lock goes out).
    pub async fn offer(&self, req: OfferRequest) -> Result<(SwapRecord, String)> {
        if req.give_chain == req.get_chain {
            bail!(
                "give and get chains are both {}; a swap needs two chains",
                req.give_chain
            );
        }
        if req.give_amount.is_zero() || req.get_amount.is_zero() {
            bail!("amounts must be greater than zero");
        }
        let (a, a_now) = self.params(&req.give_chain).await?;
        let (b, b_now) = self.params(&req.get_chain).await?;
        let now = ChainTimes {
            a_ms: a_now,
            b_ms: b_now,
        };
        let plan = plan(&a, &b, &self.policy, now, req.accept_window_ms)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let (leg_a_expiry_ms, leg_b_expiry_ms) = whole_seconds(
            plan.deadlines.leg_a_expiry_ms,
            plan.deadlines.leg_b_expiry_ms,
        );
        let secret = Secret::generate();
        let offer = Offer::new(
            SwapId::random(),
            secret.hashlock(),
            Leg {
                chain_id: req.give_chain.clone(),
                asset: req.give_asset,
                amount: req.give_amount,
                sender: self.signer(&req.give_chain)?,
                recipient: req.counterparty_on_give_chain,
                expiry_ms: leg_a_expiry_ms,
            },
            Leg {
                chain_id: req.get_chain.clone(),
                asset: req.get_asset,
                amount: req.get_amount,
                sender: req.counterparty_on_get_chain,
                recipient: self.signer(&req.get_chain)?,
                expiry_ms: leg_b_expiry_ms,
            },
            plan.deadlines.accept_by_ms,
            self.identity.verifying_key().into(),
        );
        let signed =
            SignedOffer::sign(offer.clone(), &self.identity).map_err(|e| anyhow::anyhow!("{e}"))?;
        let encoded = signed.encode();
        let swap = Swap::initiator(offer, secret, &a, &b, &self.policy, now)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let record = self.register(swap, encoded.clone(), true).await?;
        Ok((record, encoded))
    }

    /// Accepts an offer as participant: verifies it, checks it is for this relay's
    /// accounts, re-checks the plan against both chains now, and persists the swap.
    pub async fn accept(&self, offer_text: &str) -> Result<SwapRecord> {
        let signed = SignedOffer::decode(offer_text.trim()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let offer = signed.into_offer();
        if let Some(existing) = self.get(offer.swap_id.as_str()).await? {
            if existing.swap.role() == causeway_htlc::Role::Initiator {
                bail!(
                    "this relay made offer {} itself; give the offer string to the counterparty, whose relay accepts it",
                    offer.swap_id
                );
            }
            return Ok(existing);
        }
        let (a, a_now) = self.params(&offer.leg_a.chain_id).await?;
        let (b, b_now) = self.params(&offer.leg_b.chain_id).await?;
        for (leg, ours, what) in [
            (&offer.leg_a, &offer.leg_a.recipient, "receive on"),
            (&offer.leg_b, &offer.leg_b.sender, "lock on"),
        ] {
            let mine = self.signer(&leg.chain_id)?;
            if &mine != ours {
                bail!(
                    "the offer expects account {ours} to {what} {}, but this relay signs there as {mine}; accept it with the relay that holds that key",
                    leg.chain_id
                );
            }
        }
        let swap = Swap::participant(
            offer,
            &a,
            &b,
            &self.policy,
            ChainTimes {
                a_ms: a_now,
                b_ms: b_now,
            },
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        self.register(swap, offer_text.trim().to_string(), false)
            .await
    }

    /// Persists a new swap, back-fills events the relay already ingested, and starts it.
    async fn register(&self, swap: Swap, offer: String, start: bool) -> Result<SwapRecord> {
        let chains = vec![
            swap.offer().leg_a.chain_id.clone(),
            swap.offer().leg_b.chain_id.clone(),
        ];
        // No page may be ingested between our back-fill and our registration.
        // The gates (not the engine's lock) are held until the swap is durable and its
        // actions queued: no event of its chains can reach it in between, and other swaps
        // share the flush instead of queueing behind it.
        let _gates = self.gates.enter_all(&chains).await;
        let mut record = SwapRecord::new(swap, offer, now_ms());
        let mut outputs = Vec::new();
        for event in self.store.htlc_events(&record.swap.offer().hashlock)? {
            outputs.extend(record.swap.handle(Input::Observed {
                chain: event.chain_id.clone(),
                event,
            }));
        }
        if start {
            outputs.extend(record.swap.handle(Input::Start));
        }
        // Its first ticks now, from the heads the followers last reported, rather than at
        // each chain's next block: an initiator locks only once it has heard from both.
        for chain in &chains {
            if let Some(tick) = self.last_tick(chain) {
                outputs.extend(record.swap.handle(tick));
            }
        }
        let submits = record.note_all(outputs, now_ms());
        {
            let mut active = self.active.lock().await;
            if active.swaps.len() >= MAX_ACTIVE_SWAPS {
                bail!(
                    "this relay already runs {MAX_ACTIVE_SWAPS} swaps; try again when some finish"
                );
            }
            self.swaps.insert_new(&record)?;
            active.insert(record.clone());
        }
        // Durable before its actions are: after a crash no action runs for a swap the relay
        // has forgotten.
        self.store.durable().flush().await?;
        self.submit_all(submits).await?;
        Ok(record)
    }

    /// Records every action with one flush (the executor's), then queues them in order.
    async fn submit_all(&self, actions: Vec<causeway_htlc::SwapAction>) -> Result<()> {
        if actions.is_empty() {
            return Ok(());
        }
        let actions = actions
            .into_iter()
            .map(|a| {
                let id = format!("{ACTION_PREFIX}{}", a.id);
                (id, a.chain.clone(), adapter_action(a.kind))
            })
            .collect();
        self.executor.submit_many(actions).await?;
        Ok(())
    }

    /// Feeds `input` to every active swap `wants` selects.
    async fn feed(&self, wants: impl Fn(&Swap) -> Option<Input>) -> Result<()> {
        let mut active = self.active.lock().await;
        let inputs: Vec<(SwapId, Input)> = active
            .swaps
            .iter()
            .filter_map(|(id, r)| wants(&r.swap).map(|input| (id.clone(), input)))
            .collect();
        self.step(&mut active, inputs).await
    }

    /// Feeds each input to its swap, then persists every swap that changed with one flush,
    /// then submits what they asked for.
    async fn step(&self, active: &mut Active, inputs: Vec<(SwapId, Input)>) -> Result<()> {
        let mut changed = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut submits = Vec::new();
        for (id, input) in inputs {
            let Some(record) = active.swaps.get_mut(&id) else {
                continue;
            };
            // A tick that changes nothing but the swap's view of chain time is not worth a
            // write: after a restart the next tick brings the view back.
            let is_tick = matches!(input, Input::Tick { .. });
            let observed_ms = match &input {
                Input::Observed { event, .. } => Some(event.time_ms),
                _ => None,
            };
            let outputs = record.swap.handle(input);
            if outputs.is_empty() && is_tick {
                continue;
            }
            let claims = outputs.iter().any(|o| {
                matches!(o, causeway_htlc::Output::Submit(a) if matches!(a.kind, ActionKind::Claim { .. }))
            });
            if claims && observed_ms.is_some() {
                record.claim_trigger_ms = observed_ms;
            }
            submits.extend(record.note_all(outputs, now_ms()));
            if seen.insert(id.clone()) {
                changed.push(id);
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        // Durable, with one flush for all, before anything they asked for is submitted.
        let records: Vec<&SwapRecord> = changed
            .iter()
            .filter_map(|id| active.swaps.get(id))
            .collect();
        for record in &records {
            self.swaps.write(record)?;
        }
        self.store.durable().flush().await?;
        self.announce(&records);
        self.submit_all(submits).await?;
        for id in &changed {
            if active.swaps.get(id).is_some_and(|r| r.swap.is_finished()) {
                active.remove(id);
            }
        }
        Ok(())
    }

    /// A tick repeating the last head the follower of `chain` reported, if any.
    fn last_tick(&self, chain: &ChainId) -> Option<Input> {
        let heads = self.heads.lock().unwrap_or_else(|p| p.into_inner());
        let &(finalized_height, time_ms) = heads.get(chain)?;
        Some(Input::Tick {
            chain: chain.clone(),
            finalized_height,
            time_ms,
        })
    }

    /// Whether `done` is the outcome of a swap action.
    pub fn owns(done: &ActionDone) -> bool {
        done.id.starts_with(ACTION_PREFIX)
    }

    /// Feeds executor outcomes of swap actions to their swaps, all in one step (one flush);
    /// outcomes of other actions are skipped.
    pub async fn on_actions_done(&self, outcomes: &[ActionDone]) -> Result<()> {
        let mut active = self.active.lock().await;
        let mut inputs = Vec::with_capacity(outcomes.len());
        for done in outcomes {
            let Some(action_id) = done.id.strip_prefix(ACTION_PREFIX) else {
                continue;
            };
            let result = match &done.status {
                ActionStatus::Final {
                    outcome: causeway_adapters::TxOutcome::Success,
                    ..
                } => ActionResult::Ok,
                ActionStatus::Final {
                    outcome: causeway_adapters::TxOutcome::Failed { reason },
                    ..
                } => ActionResult::Failed(reason.clone()),
                ActionStatus::Refused { reason } => ActionResult::Failed(reason.clone()),
                ActionStatus::Queued | ActionStatus::Sent => continue,
            };
            let swap_id = action_id.split('/').next().unwrap_or_default();
            let Ok(swap_id) = SwapId::new(swap_id) else {
                continue;
            };
            if action_id.contains("/claim-") {
                self.note_reaction(&mut active, &swap_id, done.first_broadcast_ms)?;
            }
            let input = Input::ActionOutcome {
                action_id: action_id.to_string(),
                result,
            };
            inputs.push((swap_id, input));
        }
        self.step(&mut active, inputs).await
    }

    /// Records the relay's reaction time on the swap whose claim was broadcast at
    /// `broadcast_ms`. The swap may have finished already (its claim's event can arrive
    /// before the executor reports the outcome); then its stored record is updated, with no
    /// flush of its own: it is a figure, not state the protocol needs.
    fn note_reaction(
        &self,
        active: &mut Active,
        swap_id: &SwapId,
        broadcast_ms: Option<u64>,
    ) -> Result<()> {
        let reaction = |record: &SwapRecord| {
            record
                .claim_trigger_ms
                .zip(broadcast_ms)
                .map(|(trigger, sent)| sent.saturating_sub(trigger))
        };
        if let Some(record) = active.swaps.get_mut(swap_id) {
            record.claim_reaction_ms = reaction(record);
            return Ok(());
        }
        let Some(mut record) = self.swaps.get(swap_id.as_str())? else {
            return Ok(());
        };
        if record.claim_reaction_ms.is_none() {
            record.claim_reaction_ms = reaction(&record);
            self.swaps.write(&record)?;
            self.announce(&[&record]);
        }
        Ok(())
    }

    /// Every change from now on, as steps make them (`relay_subscribeSwaps`).
    pub fn subscribe_changes(&self) -> tokio::sync::broadcast::Receiver<SwapChange> {
        self.changes.subscribe()
    }

    /// Tells subscribers, if any, that these swaps changed.
    fn announce(&self, records: &[&SwapRecord]) {
        if self.changes.receiver_count() == 0 {
            return;
        }
        for record in records {
            // Fails only when the last subscriber just left: nobody is missing anything.
            let _ = self.changes.send(SwapChange::of(record));
        }
    }

    pub async fn get(&self, id: &str) -> Result<Option<SwapRecord>> {
        if let Ok(swap_id) = SwapId::new(id) {
            if let Some(r) = self.active.lock().await.swaps.get(&swap_id) {
                return Ok(Some(r.clone()));
            }
        }
        self.swaps.get(id)
    }

    /// Every swap this relay knows, newest first, at most `limit`.
    pub fn list(&self, limit: usize) -> Result<Vec<SwapRecord>> {
        self.swaps.newest(limit)
    }

    pub async fn active_count(&self) -> usize {
        self.active.lock().await.swaps.len()
    }
}

fn adapter_action(kind: ActionKind) -> Action {
    match kind {
        ActionKind::Lock {
            recipient,
            asset,
            amount,
            hashlock,
            expiry_ms,
        } => Action::HtlcLock {
            recipient,
            asset,
            amount,
            hashlock,
            expiry_ms,
        },
        ActionKind::Claim { lock_id, preimage } => Action::HtlcClaim { lock_id, preimage },
        ActionKind::Refund { lock_id } => Action::HtlcRefund { lock_id },
    }
}

/// Rounds both expiries up to whole seconds (EVM HTLCs count seconds), keeping the margin
/// between them at least what the plan asked: T2 only moves later (more claim room), and
/// T1 moves by at least as much.
fn whole_seconds(t1_ms: UnixMillis, t2_ms: UnixMillis) -> (UnixMillis, UnixMillis) {
    let up = |ms: u64| ms.div_ceil(1000).saturating_mul(1000);
    let t2 = up(t2_ms);
    let t1 = up(t1_ms.max(t2 + (t1_ms - t2_ms.min(t1_ms))));
    (t1, t2)
}

fn involves(swap: &Swap, chain: &ChainId) -> bool {
    &swap.offer().leg_a.chain_id == chain || &swap.offer().leg_b.chain_id == chain
}

#[async_trait]
impl EventConsumer for SwapEngine {
    async fn on_events(&self, chain: &ChainId, events: &[ChainEvent]) -> Result<()> {
        let mut active = self.active.lock().await;
        let mut inputs = Vec::new();
        for event in events {
            let Some(hashlock) = event.kind.hashlock() else {
                continue;
            };
            for id in active.by_hashlock.get(&hashlock).into_iter().flatten() {
                if active
                    .swaps
                    .get(id)
                    .is_some_and(|r| involves(&r.swap, chain))
                {
                    inputs.push((
                        id.clone(),
                        Input::Observed {
                            chain: chain.clone(),
                            event: event.clone(),
                        },
                    ));
                }
            }
        }
        // A swap that just saw an event on this chain may next need a fresh tick of its other
        // chain (to judge a deadline there). Followers wait for new blocks rather than poll,
        // so repeat the last head seen there instead of waiting up to a block for it.
        let mut ticks: Vec<(SwapId, Input)> = Vec::new();
        let mut ticked = std::collections::BTreeSet::new();
        for (id, _) in &inputs {
            let Some(record) = active.swaps.get(id) else {
                continue;
            };
            if !ticked.insert(id) {
                continue;
            }
            let offer = record.swap.offer();
            for other in [&offer.leg_a.chain_id, &offer.leg_b.chain_id] {
                if let Some(tick) = (other != chain).then(|| self.last_tick(other)).flatten() {
                    ticks.push((id.clone(), tick));
                }
            }
        }
        inputs.extend(ticks);
        self.step(&mut active, inputs).await
    }

    async fn on_head(&self, chain: &ChainId, finalized_height: u64, time_ms: u64) -> Result<()> {
        self.heads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(chain.clone(), (finalized_height, time_ms));
        self.feed(|swap| {
            involves(swap, chain).then(|| Input::Tick {
                chain: chain.clone(),
                finalized_height,
                time_ms,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::whole_seconds;

    #[test]
    fn rounding_to_seconds_never_shrinks_the_margin_or_the_claim_room() {
        for (t1, t2) in [
            (20_001, 10_999),
            (20_000, 10_000),
            (15_500, 9_400),
            (10_001, 10_000),
        ] {
            let (r1, r2) = whole_seconds(t1, t2);
            assert_eq!(r1 % 1000, 0);
            assert_eq!(r2 % 1000, 0);
            assert!(r2 >= t2, "T2 moved earlier");
            assert!(r1 - r2 >= t1 - t2, "margin shrank for {t1},{t2}: {r1},{r2}");
        }
    }
}
