use anyhow::{bail, Result};
use causeway_adapters::conformance::{self, Fixture};
use causeway_core::{Amount, AssetId};
use clap::{Args, Subcommand};

use super::devchain::resolve_account;
use super::Output;
use crate::config::ChainConfig;
use crate::keystore::Keystore;

#[derive(Subcommand)]
pub enum AdapterCommand {
    /// Run the adapter conformance suite (specs/adapter.md) against a live chain, and print
    /// a pass/fail line per requirement with its spec section. Exits non-zero on any failure.
    Conformance(ConformanceArgs),
}

#[derive(Args)]
pub struct ConformanceArgs {
    /// Adapter kind.
    #[arg(long, default_value = "devchain")]
    pub kind: String,
    /// The chain's endpoint URL.
    #[arg(long)]
    pub url: String,
    /// The chain id the endpoint must serve.
    #[arg(long)]
    pub chain_id: causeway_core::ChainId,
    /// Keystore key of a funded account the suite signs with.
    #[arg(long)]
    pub key: String,
    /// Account (key name or address) that receives the suite's transfers and locks.
    #[arg(long)]
    pub peer: String,
    /// Asset the key holds (at least 10x --amount).
    #[arg(long, default_value = "USD")]
    pub asset: AssetId,
    #[arg(long, default_value = "1")]
    pub amount: String,
}

pub async fn run(cmd: AdapterCommand, keystore: &Keystore, out: Output) -> Result<()> {
    match cmd {
        AdapterCommand::Conformance(args) => {
            let chain = ChainConfig {
                id: args.chain_id.clone(),
                kind: args.kind.clone(),
                endpoint: args.url.clone(),
                key: Some(args.key.clone()),
                poll_interval_ms: 50,
                max_lag_blocks: 50,
            };
            let adapter = crate::daemon::build_adapter(&chain, keystore)?;
            let fixture = Fixture {
                peer: resolve_account(&args.peer, keystore)?,
                asset: args.asset,
                amount: args
                    .amount
                    .parse::<Amount>()
                    .map_err(|e| anyhow::anyhow!("--amount: {e}"))?,
            };
            let checks = conformance::run(adapter.as_ref(), &fixture).await;
            let failed = checks.iter().filter(|c| !c.passed).count();
            out.print(
                &serde_json::json!({"passed": failed == 0, "checks": checks}),
                || {
                    let mut lines: Vec<String> = checks
                        .iter()
                        .map(|c| {
                            format!(
                                "{} {:<6} {} — {}",
                                if c.passed { "PASS" } else { "FAIL" },
                                c.section,
                                c.requirement,
                                c.detail
                            )
                        })
                        .collect();
                    lines.push(format!(
                        "{} of {} requirements passed",
                        checks.len() - failed,
                        checks.len()
                    ));
                    lines.join("\n")
                },
            );
            if failed > 0 {
                bail!("{failed} conformance requirement(s) failed");
            }
            Ok(())
        }
    }
}
