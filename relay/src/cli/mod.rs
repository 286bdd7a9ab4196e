//! The `causeway` command line: one binary for operators, integrators and end users.

mod adapter;
mod bench;
mod chain;
mod demo;
mod devchain;
mod evm;
mod keys;
pub mod notary;
mod output;
mod relay;
pub mod signal;
mod swap;
mod transfer;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

pub use output::Output;

#[derive(Parser)]
#[command(
    name = "causeway",
    version,
    about = "Causeway moves assets between consortium blockchains: HTLC atomic swaps and a threshold-signature notary committee.",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Directory of named keys [default: $CAUSEWAY_KEYSTORE or ~/.causeway/keys].
    #[arg(long, global = true, env = "CAUSEWAY_KEYSTORE", value_name = "DIR")]
    pub keystore: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run and set up devchain, the embedded consortium ledger (zero-setup default chain).
    #[command(subcommand)]
    Devchain(devchain::DevchainCommand),
    /// Run the relay daemon, or ask a running one for its status (operators).
    #[command(subcommand)]
    Relay(relay::RelayCommand),
    /// Deploy Causeway's contracts to an EVM chain.
    #[command(subcommand)]
    Evm(evm::EvmCommand),
    /// Manage local keys (Ed25519 for devchain, secp256k1 for EVM chains).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Tools for chain teams integrating an adapter.
    #[command(subcommand)]
    Adapter(adapter::AdapterCommand),
    /// Notary committee members: keys, committee review, key generation, status (operators).
    #[command(subcommand)]
    Notary(notary::NotaryCommand),
    /// Move an asset to another chain through the notary committee's bridge, and follow it
    /// until it is released there.
    Transfer(transfer::TransferArgs),
    /// Atomic swaps between two chains (HTLC): offer, accept, follow, refund.
    #[command(subcommand)]
    Swap(swap::SwapCommand),
    /// Show a chain's identity, heights and finality.
    #[command(subcommand)]
    Chain(chain::ChainCommand),
    /// Show an account's balances on a chain.
    Balance(chain::BalanceArgs),
    /// Send an asset to an account on a chain, and wait until it is final.
    Send(chain::SendArgs),
    /// Load tools: drive real processes on loopback and report throughput and latency.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Run the whole thing locally: two devchain nodes (or a devchain and an anvil with
    /// --evm) and a relay per party as real processes, then a transfer and an atomic swap
    /// followed end to end, as a timeline.
    Demo(demo::DemoArgs),
}

pub async fn run(cli: Cli) -> Result<()> {
    let out = Output { json: cli.json };
    let keystore = crate::keystore::Keystore::open(
        cli.keystore
            .clone()
            .unwrap_or_else(crate::keystore::Keystore::default_dir),
    );
    match cli.command {
        Command::Devchain(cmd) => devchain::run(cmd, &keystore, out).await,
        Command::Relay(cmd) => relay::run(cmd, out).await,
        Command::Keys(cmd) => keys::run(cmd, &keystore, out),
        Command::Evm(cmd) => evm::run(cmd, &keystore, out).await,
        Command::Adapter(cmd) => adapter::run(cmd, &keystore, out).await,
        Command::Notary(cmd) => notary::run(cmd, out).await,
        Command::Transfer(args) => transfer::run(args, &keystore, out).await,
        Command::Swap(cmd) => swap::run(cmd, &keystore, out).await,
        Command::Chain(cmd) => chain::run_chain(cmd, out).await,
        Command::Balance(args) => chain::balance(args, &keystore, out).await,
        Command::Send(args) => chain::send(args, &keystore, out).await,
        Command::Demo(args) => demo::run(args, out).await,
        Command::Bench(cmd) => bench::run(cmd, out).await,
    }
}
