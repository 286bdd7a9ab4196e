//! `causeway transfer`: lock on the source chain through its bridge, then follow the
//! transfer through the committee until the destination chain releases it.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_adapters::{Action, ChainAdapter, TxOutcome, TxState};
use causeway_core::{Address, Amount, AssetId, ChainEvent, ChainId, EventKind, Hash32, Position};
use clap::Args;
use serde::Serialize;
use serde_json::json;

use std::sync::Arc;

use super::chain::connect;
use super::devchain::resolve_account;
use super::notary::relay_client;
use super::Output;
use crate::api::RelayApiClient;
use crate::keystore::Keystore;

/// How often progress is polled.
const POLL: Duration = Duration::from_millis(100);
/// Events read per destination page.
const PAGE: u32 = 500;

#[derive(Args)]
pub struct TransferArgs {
    /// Key that locks (and pays) on the source chain (not for remote adapters, which sign
    /// with their own account).
    #[arg(long)]
    pub key: Option<String>,
    /// Source devchain node's JSON-RPC URL.
    #[arg(long, env = "CAUSEWAY_RPC", required_unless_present = "chains")]
    pub rpc: Option<String>,
    /// Destination devchain node's JSON-RPC URL.
    #[arg(long, required_unless_present = "chains")]
    pub to_rpc: Option<String>,
    /// Any chain kind: a TOML file with `[[chain]]` tables as in relay.toml (a relay config
    /// works); pick the two with --from-chain and --to-chain.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["rpc", "to_rpc"], requires_all = ["from_chain", "to_chain"])]
    pub chains: Option<std::path::PathBuf>,
    #[arg(long)]
    pub from_chain: Option<ChainId>,
    #[arg(long)]
    pub to_chain: Option<ChainId>,
    /// Recipient on the destination chain: key name or hex address.
    #[arg(long)]
    pub to: String,
    #[arg(long)]
    pub asset: AssetId,
    /// Amount in base units.
    #[arg(long)]
    pub amount: String,
    /// A notary relay's API URL, to show attestation progress; repeat for each member.
    #[arg(long = "relay", value_name = "URL")]
    pub relays: Vec<String>,
    /// Give up following after this long (the transfer itself continues).
    #[arg(long, default_value_t = 120)]
    pub timeout_secs: u64,
}

#[derive(Serialize)]
struct Step {
    stage: &'static str,
    at_ms: u64,
    detail: String,
}

pub async fn run(args: TransferArgs, keystore: &Keystore, out: Output) -> Result<()> {
    let amount: Amount = args
        .amount
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--amount: {e}"))?;
    if amount.is_zero() {
        bail!("--amount must be greater than zero");
    }
    let (source, dest, recipient) = endpoints(&args, keystore).await?;
    let dest_info = dest
        .info()
        .await
        .context("cannot reach the destination chain")?;
    let started = Instant::now();
    let mut steps: Vec<Step> = Vec::new();
    let step = |stage: &'static str, detail: String, steps: &mut Vec<Step>| {
        let at_ms = started.elapsed().as_millis() as u64;
        if !out.json {
            println!("{:>7} ms  {stage:<9} {detail}", at_ms);
        }
        steps.push(Step {
            stage,
            at_ms,
            detail,
        });
    };

    let tx = source
        .submit(&Action::BridgeSend {
            dest_chain: dest_info.chain_id.clone(),
            recipient: recipient.clone(),
            asset: args.asset.clone(),
            amount,
        })
        .await
        .context("the source chain refused the lock")?;
    step(
        "locked",
        format!(
            "{amount} {} on {} (tx {})",
            args.asset,
            source.chain_id(),
            tx.id
        ),
        &mut steps,
    );
    let deadline = Duration::from_secs(args.timeout_secs);
    match source.wait_final(&tx, deadline).await? {
        TxState::Final {
            height,
            outcome: TxOutcome::Success,
        } => step("final", format!("at height {height}"), &mut steps),
        TxState::Final { outcome, .. } => {
            bail!("the lock failed on {}: {outcome:?}", source.chain_id())
        }
        other => bail!(
            "the lock is not final after {}s: {other:?}",
            args.timeout_secs
        ),
    }

    let clients: Vec<_> = args
        .relays
        .iter()
        .map(|r| relay_client(r))
        .collect::<Result<_>>()?;
    let mut threshold = None;
    for c in &clients {
        if let Ok(s) = c.notary_status().await {
            threshold = Some(s.threshold);
            break;
        }
    }
    let mut cursor = Position::new(dest_info.finalized_height, 0);
    let mut best_vouched = 0;
    let mut seen_stage = "";
    let released = loop {
        if started.elapsed() > deadline {
            bail!(
                "not released on {} after {}s; the transfer continues: check `causeway notary status` on the members",
                dest_info.chain_id, args.timeout_secs
            );
        }
        if let Some(event) = find_release(dest.as_ref(), &mut cursor, &tx.id).await? {
            break event;
        }
        let (vouched, stage) = progress(&clients, &tx.id).await;
        if vouched > best_vouched {
            best_vouched = vouched;
            let of = threshold
                .map(|t| format!(" ({t} needed)"))
                .unwrap_or_default();
            step(
                "attested",
                format!("{vouched} notaries vouched{of}"),
                &mut steps,
            );
        }
        if stage_rank(stage) > stage_rank(seen_stage) {
            seen_stage = stage;
            match stage {
                "signed" => step("signed", "threshold signature complete".into(), &mut steps),
                "accepted" => step(
                    "submitted",
                    format!("{} accepted the batch", dest_info.chain_id),
                    &mut steps,
                ),
                "held" => step(
                    "held",
                    "over a governor ceiling: waiting for operator review".into(),
                    &mut steps,
                ),
                _ => {}
            }
        }
        tokio::time::sleep(POLL).await;
    };
    step(
        "released",
        format!(
            "on {} at height {} (tx {})",
            dest_info.chain_id, released.position.height, released.tx_hash
        ),
        &mut steps,
    );
    if out.json {
        out.print(
            &json!({
                "source_chain": source.chain_id(), "dest_chain": dest_info.chain_id,
                "tx_hash": tx.id, "release_tx_hash": released.tx_hash,
                "release_height": released.position.height, "recipient": recipient,
                "asset": args.asset, "amount": amount, "elapsed_ms": started.elapsed().as_millis() as u64,
                "steps": steps,
            }),
            String::new,
        );
    }
    Ok(())
}

/// The `[[chain]]` tables of a chains file (any other key, e.g. a whole relay.toml, is ignored).
#[derive(serde::Deserialize)]
struct ChainsFile {
    #[serde(rename = "chain", default)]
    chains: Vec<crate::config::ChainConfig>,
}

/// Source adapter (signing with the user's key), destination adapter, and the recipient in
/// the destination chain's address form.
async fn endpoints(
    args: &TransferArgs,
    keystore: &Keystore,
) -> Result<(Arc<dyn ChainAdapter>, Arc<dyn ChainAdapter>, Address)> {
    let (Some(file), Some(from), Some(to)) = (&args.chains, &args.from_chain, &args.to_chain)
    else {
        let key_name = args
            .key
            .as_deref()
            .context("--key is required with --rpc")?;
        let key = keystore.load(key_name)?;
        let recipient = resolve_account(&args.to, keystore)?;
        let (source, _) = connect(args.rpc.as_deref().unwrap_or_default(), Some(key.key)).await?;
        let (dest, _) = connect(args.to_rpc.as_deref().unwrap_or_default(), None)
            .await
            .context("--to-rpc")?;
        return Ok((
            Arc::new(source) as Arc<dyn ChainAdapter>,
            Arc::new(dest) as Arc<dyn ChainAdapter>,
            recipient,
        ));
    };
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read --chains {}", file.display()))?;
    let parsed: ChainsFile = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("--chains {} is invalid: {e}", file.display()))?;
    let find = |id: &ChainId| {
        parsed
            .chains
            .iter()
            .find(|c| &c.id == id)
            .cloned()
            .with_context(|| {
                let known: Vec<&str> = parsed.chains.iter().map(|c| c.id.as_str()).collect();
                format!(
                    "--chains {} has no chain {id}; it lists: {}",
                    file.display(),
                    known.join(", ")
                )
            })
    };
    let mut source = find(from)?;
    if args.key.is_some() {
        source.key = args.key.clone();
    }
    let mut dest = find(to)?;
    if dest.kind != "remote" {
        dest.key = None;
    }
    let recipient = match dest.kind.as_str() {
        "remote" => Address::new(args.to.clone()).context("--to")?,
        _ => resolve_account(&args.to, keystore)?,
    };
    let source = crate::daemon::build_adapter(&source, keystore)?;
    let dest = crate::daemon::build_adapter(&dest, keystore)?;
    Ok((source, dest, recipient))
}

fn stage_rank(stage: &str) -> u8 {
    match stage {
        "held" => 1,
        "signed" => 2,
        "accepted" | "released" => 3,
        _ => 0,
    }
}

/// How many members vouched for the transfer's batch, and the furthest stage any reports.
async fn progress(
    clients: &[jsonrpsee::http_client::HttpClient],
    tx: &Hash32,
) -> (usize, &'static str) {
    let mut vouched = 0;
    let mut stage = "";
    for c in clients {
        let Ok(views) = c.notary_transfer(*tx).await else {
            continue;
        };
        for v in views {
            if v.vouched {
                vouched += 1;
            }
            let s = match v.stage.as_str() {
                "held" => "held",
                "signed" => "signed",
                "accepted" | "released" => "accepted",
                _ => "",
            };
            if stage_rank(s) > stage_rank(stage) {
                stage = s;
            }
        }
    }
    (vouched, stage)
}

/// The destination's release of `tx`, reading final events from `cursor` on.
async fn find_release(
    dest: &dyn ChainAdapter,
    cursor: &mut Position,
    tx: &Hash32,
) -> Result<Option<ChainEvent>> {
    loop {
        let page = dest.events(*cursor, PAGE).await?;
        let found = page.events.iter().find(|e| {
            matches!(&e.kind, EventKind::BridgeReceived { source_tx_hash, .. } if source_tx_hash == tx)
        });
        if let Some(e) = found {
            return Ok(Some(e.clone()));
        }
        let more = page.events.len() == PAGE as usize;
        *cursor = page.next;
        if !more {
            return Ok(None);
        }
    }
}
