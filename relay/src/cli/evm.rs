//! `causeway evm`: deploying Causeway's contracts to an EVM chain.

use std::time::Duration;

use anyhow::{Context, Result};
use causeway_adapters::evm::{address_text, parse_evm_address, EvmAdapter};
use causeway_core::ChainId;
use clap::{Args, Subcommand};
use serde_json::json;

use super::Output;
use crate::keystore::Keystore;

/// The committed artifacts (specs/evm-contracts.md §1.4), so the binary deploys exactly them.
const HTLC_ARTIFACT: &str = include_str!("../../../contracts/artifacts/CausewayHTLC.json");
const TEST_TOKEN_ARTIFACT: &str = include_str!("../../../contracts/artifacts/test/TestToken.json");
/// How long a deployment may take to be mined.
const DEPLOY_TIMEOUT: Duration = Duration::from_secs(60);
/// Most `--mint` entries one call accepts.
const MAX_MINTS: usize = 64;

#[derive(Subcommand)]
pub enum EvmCommand {
    /// Deploy CausewayHTLC and print its address (put it in `[chain.evm] htlc_contract`).
    DeployHtlc(DeployArgs),
    /// Deploy OpenZeppelin's test ERC-20 (`TestToken`, anyone may mint) and mint to accounts:
    /// for tests and demos, never for real assets.
    DeployToken {
        #[command(flatten)]
        deploy: DeployArgs,
        /// Mint AMOUNT base units to ADDRESS; repeatable.
        #[arg(long = "mint", value_name = "0xADDRESS=AMOUNT")]
        mint: Vec<String>,
    },
}

#[derive(Args)]
pub struct DeployArgs {
    /// The node's JSON-RPC URL.
    #[arg(long)]
    pub rpc: String,
    /// Keystore secp256k1 key that pays for the deployment.
    #[arg(long)]
    pub key: String,
}

pub async fn run(cmd: EvmCommand, keystore: &Keystore, out: Output) -> Result<()> {
    match cmd {
        EvmCommand::DeployHtlc(args) => {
            let (adapter, address, tx) = deploy(&args, keystore, HTLC_ARTIFACT).await?;
            drop(adapter);
            out.print(
                &json!({"contract": "CausewayHTLC", "address": address, "tx": tx}),
                || format!("CausewayHTLC deployed at {address} (transaction {tx})"),
            );
        }
        EvmCommand::DeployToken { deploy: args, mint } => {
            if mint.len() > MAX_MINTS {
                anyhow::bail!("--mint: {} entries, at most {MAX_MINTS}", mint.len());
            }
            let (adapter, address, tx) = deploy(&args, keystore, TEST_TOKEN_ARTIFACT).await?;
            let token = parse_evm_address(address.as_str()).map_err(anyhow::Error::msg)?;
            for entry in &mint {
                let (to, amount) = entry
                    .split_once('=')
                    .with_context(|| format!("--mint {entry:?}: expected 0xADDRESS=AMOUNT"))?;
                let to = parse_evm_address(to).map_err(|e| anyhow::anyhow!("--mint: {e}"))?;
                let amount: u128 = amount
                    .parse()
                    .with_context(|| format!("--mint {entry:?}: amount is not a whole number"))?;
                adapter
                    .execute(
                        Some(token),
                        EvmAdapter::mint_calldata(to, amount),
                        DEPLOY_TIMEOUT,
                    )
                    .await?;
            }
            out.print(
                &json!({"contract": "TestToken", "address": address, "tx": tx}),
                || {
                    format!(
                        "TestToken deployed at {address} (transaction {tx}), {} mint(s)",
                        mint.len()
                    )
                },
            );
        }
    }
    Ok(())
}

async fn deploy(
    args: &DeployArgs,
    keystore: &Keystore,
    artifact: &str,
) -> Result<(EvmAdapter, causeway_core::Address, causeway_core::Hash32)> {
    let key = keystore
        .load_secp256k1(&args.key)
        .with_context(|| format!("--key {:?}", args.key))?;
    let artifact: serde_json::Value =
        serde_json::from_str(artifact).context("the embedded contract artifact is not JSON")?;
    let code = artifact["bytecode"]
        .as_str()
        .context("the embedded contract artifact has no bytecode")?;
    let code = hex::decode(code.trim_start_matches("0x"))
        .context("the embedded contract artifact's bytecode is not hex")?;
    let chain = ChainId::new("evm-deploy").expect("valid chain id");
    let adapter = EvmAdapter::for_tools(chain, &args.rpc, key.secret).await?;
    let (tx, contract) = adapter.execute(None, code, DEPLOY_TIMEOUT).await?;
    let contract = contract.with_context(|| format!("transaction {tx} created no contract"))?;
    Ok((adapter, address_text(contract), tx))
}
