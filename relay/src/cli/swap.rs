use std::time::Duration;

use anyhow::{bail, Context, Result};
use causeway_core::{Amount, AssetId, ChainId, Hash32};
use causeway_htlc::{Deadline, LockState, Phase};
use clap::{Args, Subcommand};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};

use super::devchain::resolve_account;
use super::Output;
use crate::api::{OfferRequest, RelayApiClient, SwapChange, SwapView};
use crate::keystore::Keystore;

/// How long `swap status --follow` follows before giving up.
const FOLLOW_LIMIT: Duration = Duration::from_secs(3600);
/// How often a follow polls a relay it cannot subscribe to (`relay_subscribeSwaps`).
const FOLLOW_POLL: Duration = Duration::from_millis(250);
/// Longest a subscribed follow waits for a pushed change before reading the status anyway.
const FOLLOW_RECHECK: Duration = Duration::from_secs(5);

#[derive(Args, Clone)]
pub struct RelayArg {
    /// The API URL of your relay (the one holding your keys).
    #[arg(long, default_value = "http://127.0.0.1:7800", env = "CAUSEWAY_RELAY")]
    pub relay: String,
}

#[derive(Subcommand)]
pub enum SwapCommand {
    /// Propose a swap: your relay locks what you give and prints a signed offer string
    /// for the counterparty to accept.
    Offer(OfferArgs),
    /// Accept an offer string: your relay checks the terms and the timing against both
    /// chains, then locks your side once the initiator's lock is final.
    Accept {
        /// The offer string (starts with cwoffer1).
        offer: String,
        #[command(flatten)]
        relay: RelayArg,
        /// Keep following the swap until it finishes.
        #[arg(long)]
        follow: bool,
    },
    /// Show a swap: each step, each lock, and the time left before each deadline.
    Status {
        swap_id: String,
        /// Keep following until the swap finishes.
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        relay: RelayArg,
    },
    /// List swaps, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        relay: RelayArg,
    },
    /// Refund an expired lock yourself, without a relay (anyone may; funds go to the
    /// lock's owner).
    Refund {
        #[arg(long)]
        lock_id: Hash32,
        /// Key that pays for the transaction.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        rpc: super::chain::RpcArg,
    },
}

#[derive(Args)]
pub struct OfferArgs {
    /// What you give: CHAIN:ASSET:AMOUNT, e.g. dev-a:USD:100.
    #[arg(long)]
    pub give: String,
    /// What you get: CHAIN:ASSET:AMOUNT, e.g. dev-b:GOLD:50.
    #[arg(long)]
    pub get: String,
    /// The counterparty's account on the give chain (receives what you give).
    #[arg(long)]
    pub to: String,
    /// The counterparty's account on the get chain (locks what you get).
    #[arg(long)]
    pub from: String,
    /// Chain time the counterparty has to accept and lock, in seconds.
    #[arg(long, default_value_t = 60)]
    pub accept_within_secs: u64,
    #[command(flatten)]
    pub relay: RelayArg,
    /// Keep following the swap until it finishes.
    #[arg(long)]
    pub follow: bool,
}

fn client(url: &str) -> Result<HttpClient> {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(30))
        .build(url)
        .with_context(|| format!("invalid relay URL {url:?}"))
}

fn reach(url: &str) -> impl Fn(jsonrpsee::core::ClientError) -> anyhow::Error + '_ {
    move |e| match e {
        jsonrpsee::core::ClientError::Call(obj) => anyhow::anyhow!("{}", obj.message()),
        other => anyhow::anyhow!(
            "cannot reach the relay at {url} (is `causeway relay start` running?): {other}"
        ),
    }
}

fn parse_leg(spec: &str, flag: &str) -> Result<(ChainId, AssetId, Amount)> {
    let parts: Vec<&str> = spec.split(':').collect();
    let [chain, asset, amount] = parts.as_slice() else {
        bail!("{flag} {spec:?}: expected CHAIN:ASSET:AMOUNT, e.g. dev-a:USD:100");
    };
    let amount: Amount = amount
        .parse()
        .map_err(|e: String| anyhow::anyhow!("{flag}: {e}"))?;
    if amount.is_zero() {
        bail!("{flag}: the amount must be greater than zero");
    }
    Ok((
        ChainId::new(*chain).with_context(|| flag.to_string())?,
        AssetId::new(*asset).with_context(|| flag.to_string())?,
        amount,
    ))
}

pub async fn run(cmd: SwapCommand, keystore: &Keystore, out: Output) -> Result<()> {
    match cmd {
        SwapCommand::Offer(args) => {
            let (give_chain, give_asset, give_amount) = parse_leg(&args.give, "--give")?;
            let (get_chain, get_asset, get_amount) = parse_leg(&args.get, "--get")?;
            let api = client(&args.relay.relay)?;
            let view = api
                .swap_offer(OfferRequest {
                    give_chain,
                    give_asset,
                    give_amount,
                    get_chain,
                    get_asset,
                    get_amount,
                    counterparty_on_give_chain: resolve_account(&args.to, keystore)?,
                    counterparty_on_get_chain: resolve_account(&args.from, keystore)?,
                    accept_window_ms: args.accept_within_secs.saturating_mul(1000),
                })
                .await
                .map_err(reach(&args.relay.relay))?;
            out.print(&view, || {
                format!(
                    "swap {} offered; your lock is on its way.\ngive this offer to the counterparty (causeway swap accept OFFER):\n\n{}\n\n{}",
                    view.swap_id,
                    view.offer,
                    render(&view)
                )
            });
            if args.follow {
                follow(&api, &args.relay.relay, &view.swap_id, out).await?;
            }
            Ok(())
        }
        SwapCommand::Accept {
            offer,
            relay,
            follow: keep,
        } => {
            let api = client(&relay.relay)?;
            let view = api.swap_accept(offer).await.map_err(reach(&relay.relay))?;
            out.print(&view, || {
                format!("accepted swap {}\n{}", view.swap_id, render(&view))
            });
            if keep {
                follow(&api, &relay.relay, &view.swap_id, out).await?;
            }
            Ok(())
        }
        SwapCommand::Status {
            swap_id,
            follow: keep,
            relay,
        } => {
            let api = client(&relay.relay)?;
            if keep {
                return follow(&api, &relay.relay, &swap_id, out).await;
            }
            let view = api
                .swap_status(swap_id)
                .await
                .map_err(reach(&relay.relay))?;
            out.print(&view, || render(&view));
            Ok(())
        }
        SwapCommand::List { limit, relay } => {
            let api = client(&relay.relay)?;
            let views = api.swap_list(limit).await.map_err(reach(&relay.relay))?;
            out.print(&views, || {
                if views.is_empty() {
                    return "no swaps yet (start one with `causeway swap offer`)".into();
                }
                views
                    .iter()
                    .map(|v| {
                        format!(
                            "{}  {:<11} {:<30} {} {} {} -> {} {} {}",
                            v.swap_id,
                            format!("{:?}", v.status.role).to_lowercase(),
                            phase_text(&v.status.phase),
                            v.terms.leg_a.amount,
                            v.terms.leg_a.asset,
                            v.terms.leg_a.chain_id,
                            v.terms.leg_b.amount,
                            v.terms.leg_b.asset,
                            v.terms.leg_b.chain_id
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
        SwapCommand::Refund { lock_id, key, rpc } => {
            super::chain::refund(&rpc.rpc, keystore, &key, lock_id, out).await
        }
    }
}

/// Prints each new timeline entry and the deadlines until the swap finishes.
async fn follow(api: &HttpClient, url: &str, swap_id: &str, out: Output) -> Result<()> {
    let started = std::time::Instant::now();
    let mut shown = 0usize;
    // Subscribed before the first read, so no change after that read is missed; a relay
    // that cannot be subscribed to is polled instead.
    let mut changes = subscribe(url).await.ok();
    loop {
        let view = api
            .swap_status(swap_id.to_string())
            .await
            .map_err(reach(url))?;
        if !out.json {
            for entry in view.timeline.iter().skip(shown) {
                println!("  {}  {}", entry.kind, entry.text);
            }
        }
        shown = view.timeline.len();
        if view.status.outcome.is_some() {
            out.print(&view, || render(&view));
            return Ok(());
        }
        if started.elapsed() > FOLLOW_LIMIT {
            bail!("swap {swap_id} still running after {FOLLOW_LIMIT:?}; check later with `causeway swap status {swap_id}`");
        }
        next_change(&mut changes, swap_id).await;
    }
}

type Changes = (
    jsonrpsee::ws_client::WsClient,
    jsonrpsee::core::client::Subscription<SwapChange>,
);

/// The relay's pushed swap changes, over WebSocket on its API address.
async fn subscribe(url: &str) -> Result<Changes> {
    let ws_url = url.replacen("http://", "ws://", 1);
    let client = jsonrpsee::ws_client::WsClientBuilder::default()
        .build(&ws_url)
        .await?;
    let changes = client.subscribe_swaps().await?;
    Ok((client, changes))
}

/// Returns once the relay pushes a change of `swap_id`, or after [`FOLLOW_RECHECK`]; without
/// a subscription (or once it ends), after [`FOLLOW_POLL`].
async fn next_change(changes: &mut Option<Changes>, swap_id: &str) {
    let Some((_, subscription)) = changes else {
        tokio::time::sleep(FOLLOW_POLL).await;
        return;
    };
    let ours = async {
        loop {
            match subscription.next().await {
                Some(Ok(change)) if change.swap_id == swap_id => return true,
                Some(Ok(_)) => {}
                _ => return false,
            }
        }
    };
    if let Ok(false) = tokio::time::timeout(FOLLOW_RECHECK, ours).await {
        *changes = None;
    }
}

fn phase_text(phase: &Phase) -> String {
    match phase {
        Phase::Created => "created".into(),
        Phase::Locking => "locking".into(),
        Phase::AwaitingCounterpartyLock => "awaiting counterparty lock".into(),
        Phase::Claiming => "claiming".into(),
        Phase::AwaitingCounterpartyClaim => "awaiting counterparty claim".into(),
        Phase::Refunding => "refunding after expiry".into(),
        Phase::Finished(o) => format!("finished: {o}"),
    }
}

fn left(d: &Deadline) -> String {
    match d.left_ms {
        Some(ms) if ms >= 0 => format!("{:.1} s left by {} time", ms as f64 / 1000.0, d.chain),
        Some(ms) => format!(
            "passed {:.1} s ago by {} time",
            -ms as f64 / 1000.0,
            d.chain
        ),
        None => format!("at {} ms {} time", d.at_ms, d.chain),
    }
}

fn lock_text(state: &LockState) -> String {
    match state {
        LockState::NotSeen => "not locked yet".into(),
        LockState::Locked(l) => format!("locked (lock {})", short(&l.lock_id.to_string())),
        LockState::Claimed { lock, .. } => {
            format!("claimed (lock {})", short(&lock.lock_id.to_string()))
        }
        LockState::Refunded { lock } => {
            format!("refunded (lock {})", short(&lock.lock_id.to_string()))
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(12).collect()
}

/// A human view of a swap: the phase, both legs with their deadlines, and the timeline.
pub fn render(v: &SwapView) -> String {
    let s = &v.status;
    let t = &v.terms;
    let mut lines = vec![format!(
        "swap {}  (you are the {})  {}",
        v.swap_id,
        format!("{:?}", s.role).to_lowercase(),
        phase_text(&s.phase)
    )];
    for (name, leg, status) in [("A", &t.leg_a, &s.leg_a), ("B", &t.leg_b, &s.leg_b)] {
        lines.push(format!(
            "  leg {name} on {}: {} {} from {} to {}",
            leg.chain_id,
            leg.amount,
            leg.asset,
            short(leg.sender.as_str()),
            short(leg.recipient.as_str())
        ));
        lines.push(format!(
            "         {}; expires: {}",
            lock_text(&status.lock),
            left(&status.expiry)
        ));
    }
    lines.push(format!("  accept by:    {}", left(&s.accept_by)));
    lines.push(format!("  claim window: {}", left(&s.claim_window)));
    if let Some(reason) = &s.aborted {
        lines.push(format!("  aborted: {reason}"));
    }
    if let Some(outcome) = &s.outcome {
        lines.push(format!("  outcome: {outcome}"));
    }
    lines.join("\n")
}
