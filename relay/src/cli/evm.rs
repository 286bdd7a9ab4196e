//! `causeway evm`: deploying Causeway's contracts to an EVM chain.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use causeway_adapters::evm::{
    address_text, bridge_deploy_code, parse_evm_address, BridgeAssetSpec, EvmAdapter,
};
use causeway_core::{AssetId, ChainId, Hash32};
use causeway_notary::GroupKey;
use clap::{Args, Subcommand};
use serde_json::json;

use super::Output;
use crate::keystore::Keystore;

/// The committed artifacts (specs/evm-contracts.md §1.4), so the binary deploys exactly them.
const HTLC_ARTIFACT: &str = include_str!("../../../contracts/artifacts/CausewayHTLC.json");
const TEST_TOKEN_ARTIFACT: &str = include_str!("../../../contracts/artifacts/test/TestToken.json");
const BRIDGE_ARTIFACT: &str = include_str!("../../../contracts/artifacts/CausewayBridge.json");
/// Most assets one bridge lists (the contract's `MAX_ASSETS`).
const MAX_BRIDGE_ASSETS: usize = 64;
/// How long a deployment may take to be mined.
const DEPLOY_TIMEOUT: Duration = Duration::from_secs(60);
/// Most `--mint` entries one call accepts.
const MAX_MINTS: usize = 64;

// The variants are the subcommands users type (`deploy-htlc`, `deploy-bridge`, ...).
#[allow(clippy::enum_variant_names)]
#[derive(Subcommand)]
pub enum EvmCommand {
    /// Deploy CausewayHTLC and print its address (put it in `[chain.evm] htlc_contract`).
    DeployHtlc(DeployArgs),
    /// Deploy CausewayBridge for the notary committee and print its address (put it in
    /// `[chain.evm] bridge`) and each listed asset's token (put it in `[chain.evm.assets]`).
    DeployBridge(DeployBridgeArgs),
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
pub struct DeployBridgeArgs {
    #[command(flatten)]
    pub deploy: DeployArgs,
    /// This EVM chain's Causeway chain id: the destination every batch must name.
    #[arg(long)]
    pub chain_id: ChainId,
    /// The committee's id, from `causeway notary dkg`.
    #[arg(long)]
    pub committee_id: Hash32,
    /// The committee's Ed25519 group key, from `causeway notary dkg`.
    #[arg(long)]
    pub group_key: Hash32,
    #[arg(long, default_value_t = 1)]
    pub key_epoch: u64,
    /// An asset the bridge moves; repeatable. `ASSET=0xTOKEN` holds an existing ERC-20 in the
    /// bridge's vault; `ASSET=wrapped` has the bridge deploy a token that it alone mints.
    #[arg(long = "asset", value_name = "ASSET=0xTOKEN|wrapped", value_parser = parse_bridge_asset)]
    pub assets: Vec<BridgeAssetSpec>,
}

fn parse_bridge_asset(text: &str) -> Result<BridgeAssetSpec, String> {
    let (asset, token) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected ASSET=0xTOKEN or ASSET=wrapped"))?;
    Ok(BridgeAssetSpec {
        asset: AssetId::new(asset).map_err(|e| format!("{text:?}: {e}"))?,
        vault_token: match token {
            "wrapped" => None,
            token => Some(parse_evm_address(token).map_err(|e| format!("{text:?}: {e}"))?),
        },
    })
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
        EvmCommand::DeployBridge(args) => deploy_bridge(args, keystore, out).await?,
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

async fn deploy_bridge(args: DeployBridgeArgs, keystore: &Keystore, out: Output) -> Result<()> {
    if args.assets.is_empty() || args.assets.len() > MAX_BRIDGE_ASSETS {
        bail!(
            "--asset: {} given; list 1..={MAX_BRIDGE_ASSETS} assets (ASSET=0xTOKEN or ASSET=wrapped)",
            args.assets.len()
        );
    }
    GroupKey(args.group_key.0).check().map_err(|e| {
        anyhow!("--group-key: {e}; pass the group_key `causeway notary dkg` printed")
    })?;
    let code = bridge_deploy_code(
        &artifact_code(BRIDGE_ARTIFACT)?,
        args.committee_id,
        &args.chain_id,
        args.group_key.0,
        args.key_epoch,
        &args.assets,
    );
    let (adapter, address, tx) = deploy_code(&args.deploy, keystore, code).await?;
    let bridge = parse_evm_address(address.as_str()).map_err(anyhow::Error::msg)?;
    let mut tokens = serde_json::Map::new();
    for spec in &args.assets {
        let token = adapter
            .bridge_asset_token(bridge, spec.asset.as_str())
            .await?;
        tokens.insert(spec.asset.to_string(), json!(address_text(token)));
    }
    out.print(
        &json!({"contract": "CausewayBridge", "address": address, "tx": tx, "assets": tokens}),
        || {
            let listed: Vec<String> = tokens.iter().map(|(a, t)| format!("{a} = {t}")).collect();
            format!(
                "CausewayBridge deployed at {address} (transaction {tx})\nassets: {}",
                listed.join(", ")
            )
        },
    );
    Ok(())
}

async fn deploy(
    args: &DeployArgs,
    keystore: &Keystore,
    artifact: &str,
) -> Result<(EvmAdapter, causeway_core::Address, causeway_core::Hash32)> {
    deploy_code(args, keystore, artifact_code(artifact)?).await
}

/// The creation bytecode of an embedded artifact.
fn artifact_code(artifact: &str) -> Result<Vec<u8>> {
    let artifact: serde_json::Value =
        serde_json::from_str(artifact).context("the embedded contract artifact is not JSON")?;
    let code = artifact["bytecode"]
        .as_str()
        .context("the embedded contract artifact has no bytecode")?;
    hex::decode(code.trim_start_matches("0x"))
        .context("the embedded contract artifact's bytecode is not hex")
}

async fn deploy_code(
    args: &DeployArgs,
    keystore: &Keystore,
    code: Vec<u8>,
) -> Result<(EvmAdapter, causeway_core::Address, causeway_core::Hash32)> {
    let key = keystore
        .load_secp256k1(&args.key)
        .with_context(|| format!("--key {:?}", args.key))?;
    let chain = ChainId::new("evm-deploy").expect("valid chain id");
    let adapter = EvmAdapter::for_tools(chain, &args.rpc, key.secret).await?;
    let (tx, contract) = adapter.execute(None, code, DEPLOY_TIMEOUT).await?;
    let contract = contract.with_context(|| format!("transaction {tx} created no contract"))?;
    Ok((adapter, address_text(contract), tx))
}
