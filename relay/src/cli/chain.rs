use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_adapters::devchain::DevchainAdapter;
use causeway_adapters::{Action, ChainAdapter, TxOutcome, TxState};
use causeway_core::{Amount, AssetId, ChainInfo};
use causeway_devchain::api::DevchainApiClient;
use clap::{Args, Subcommand};
use ed25519_dalek::SigningKey;
use jsonrpsee::http_client::HttpClientBuilder;
use serde_json::json;

use super::devchain::resolve_account;
use super::Output;
use crate::keystore::Keystore;

/// How long `send` waits for finality before giving up (the transaction may still land).
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Args, Clone)]
pub struct RpcArg {
    /// The chain node's JSON-RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:8645", env = "CAUSEWAY_RPC")]
    pub rpc: String,
}

#[derive(Subcommand)]
pub enum ChainCommand {
    /// Chain id, heights, finality rule and block time.
    Status(RpcArg),
}

#[derive(Args)]
pub struct BalanceArgs {
    /// Key name or hex address.
    pub account: String,
    /// Only this asset.
    #[arg(long)]
    pub asset: Option<AssetId>,
    #[command(flatten)]
    pub rpc: RpcArg,
}

#[derive(Args)]
pub struct SendArgs {
    /// Key that signs and pays.
    #[arg(long)]
    pub key: String,
    /// Recipient: key name or hex address.
    #[arg(long)]
    pub to: String,
    #[arg(long)]
    pub asset: AssetId,
    /// Amount in base units.
    #[arg(long)]
    pub amount: String,
    /// Return once the node accepts the transaction instead of waiting for finality.
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub rpc: RpcArg,
}

/// Connects to a devchain node, learning its chain id from the node itself.
pub(super) async fn connect(
    rpc: &str,
    key: Option<SigningKey>,
) -> Result<(DevchainAdapter, ChainInfo)> {
    let client = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(10))
        .build(rpc)
        .with_context(|| format!("invalid --rpc URL {rpc:?}"))?;
    let info = client.chain_info().await.with_context(|| {
        format!("cannot reach a devchain node at {rpc} (is `causeway devchain start` running?)")
    })?;
    let adapter = DevchainAdapter::new(info.chain_id.clone(), rpc, key)?;
    Ok((adapter, info))
}

pub async fn run_chain(cmd: ChainCommand, out: Output) -> Result<()> {
    match cmd {
        ChainCommand::Status(rpc) => {
            let (_, info) = connect(&rpc.rpc, None).await?;
            out.print(&info, || {
                format!(
                    "chain:      {}\nkind:       {}\nheight:     {}\nfinalized:  {}\nblock time: {} ms\nfinality:  {}",
                    info.chain_id,
                    info.kind,
                    info.height,
                    info.finalized_height,
                    info.block_time_ms,
                    match info.finality {
                        causeway_core::FinalityRule::Instant => " instant (final once committed)".to_string(),
                        causeway_core::FinalityRule::Confirmations { depth } => format!(" after {depth} confirmations"),
                    }
                )
            });
            Ok(())
        }
    }
}

pub async fn balance(args: BalanceArgs, keystore: &Keystore, out: Output) -> Result<()> {
    let account = resolve_account(&args.account, keystore)?;
    let client = HttpClientBuilder::default()
        .build(&args.rpc.rpc)
        .with_context(|| format!("invalid --rpc URL {:?}", args.rpc.rpc))?;
    let state = client
        .account(account.clone())
        .await
        .with_context(|| format!("cannot reach a devchain node at {}", args.rpc.rpc))?;
    let balances: Vec<(AssetId, Amount)> = state
        .balances
        .into_iter()
        .filter(|(a, _)| args.asset.as_ref().is_none_or(|want| want == a))
        .collect();
    let map: serde_json::Map<String, serde_json::Value> = balances
        .iter()
        .map(|(a, v)| (a.to_string(), json!(v)))
        .collect();
    out.print(
        &json!({"account": account, "nonce": state.nonce, "balances": map}),
        || {
            let mut lines = vec![format!("account {account}")];
            if balances.is_empty() {
                lines.push("  (no balances)".into());
            }
            for (asset, amount) in &balances {
                lines.push(format!("  {amount:>24} {asset}"));
            }
            lines.join("\n")
        },
    );
    Ok(())
}

pub async fn send(args: SendArgs, keystore: &Keystore, out: Output) -> Result<()> {
    let key = keystore.load(&args.key)?;
    let to = resolve_account(&args.to, keystore)?;
    let amount: Amount = args
        .amount
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--amount: {e}"))?;
    if amount.is_zero() {
        bail!("--amount must be greater than zero");
    }
    let (adapter, _) = connect(&args.rpc.rpc, Some(key.key)).await?;
    let action = Action::Transfer {
        to: to.clone(),
        asset: args.asset.clone(),
        amount,
    };
    let started = Instant::now();
    let tx = adapter.submit(&action).await?;
    if args.no_wait {
        out.print(&json!({"tx_hash": tx.id, "state": "pending"}), || {
            format!("submitted {} (not waiting for finality)", tx.id)
        });
        return Ok(());
    }
    let state = adapter.wait_final(&tx, SEND_TIMEOUT).await?;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match &state {
        TxState::Final {
            height,
            outcome: TxOutcome::Success,
        } => {
            out.print(
                &json!({"tx_hash": tx.id, "state": state, "elapsed_ms": elapsed_ms}),
                || {
                    format!(
                    "sent {amount} {} to {to}\ntx {} final at height {height} ({elapsed_ms} ms)",
                    args.asset, tx.id
                )
                },
            );
            Ok(())
        }
        TxState::Final {
            outcome: TxOutcome::Failed { reason },
            ..
        } => {
            bail!("transaction {} was included but failed: {reason}", tx.id)
        }
        other => bail!("transaction {} is {other:?}", tx.id),
    }
}

/// Submits a refund of an HTLC lock with `key` paying, and waits for finality.
pub async fn refund(
    rpc: &str,
    keystore: &Keystore,
    key: &str,
    lock_id: causeway_core::Hash32,
    out: Output,
) -> Result<()> {
    let key = keystore.load(key)?;
    let (adapter, _) = connect(rpc, Some(key.key)).await?;
    let tx = adapter.submit(&Action::HtlcRefund { lock_id }).await?;
    match adapter.wait_final(&tx, SEND_TIMEOUT).await? {
        TxState::Final {
            height,
            outcome: TxOutcome::Success,
        } => {
            out.print(&json!({"tx_hash": tx.id, "height": height}), || {
                format!(
                    "lock {lock_id} refunded to its owner (tx {} at height {height})",
                    tx.id
                )
            });
            Ok(())
        }
        TxState::Final {
            outcome: TxOutcome::Failed { reason },
            ..
        } => bail!("refund of {lock_id} failed: {reason}"),
        other => bail!("refund transaction {} is {other:?}", tx.id),
    }
}
