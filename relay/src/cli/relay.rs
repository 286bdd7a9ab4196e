use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use jsonrpsee::http_client::HttpClientBuilder;

use super::Output;
use crate::api::RelayApiClient;
use crate::config::{LogFormat, RelayConfig};

#[derive(Subcommand)]
pub enum RelayCommand {
    /// Start the relay daemon: follow every configured chain and serve the JSON-RPC API.
    /// Stops cleanly on SIGTERM or Ctrl-C.
    Start {
        /// The relay's TOML config (chains, data_dir, api_listen, keystore).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Log format; overrides `log_format` in the config.
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
    },
    /// Check a relay config without starting anything.
    CheckConfig {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Ask a running relay for its status: chains, heights, cursor lag, health.
    Status {
        /// The relay's API URL.
        #[arg(long, default_value = "http://127.0.0.1:7800", env = "CAUSEWAY_RELAY")]
        api: String,
    },
}

pub async fn run(cmd: RelayCommand, out: Output) -> Result<()> {
    match cmd {
        RelayCommand::Start { config, log_format } => {
            let config = RelayConfig::load(&config)?;
            crate::logging::init(log_format.unwrap_or(config.log_format));
            crate::daemon::run(config, super::signal::terminate()).await
        }
        RelayCommand::CheckConfig { config } => {
            let c = RelayConfig::load(&config)?;
            out.print(
                &serde_json::json!({"ok": true, "chains": c.chains.len()}),
                || format!("{} is valid: {} chain(s)", config.display(), c.chains.len()),
            );
            Ok(())
        }
        RelayCommand::Status { api } => {
            let client = HttpClientBuilder::default()
                .build(&api)
                .with_context(|| format!("invalid relay API URL {api:?}"))?;
            let status = client.status().await.with_context(|| {
                format!("cannot reach the relay at {api} (is `causeway relay start` running?)")
            })?;
            out.print(&status, || {
                let mut lines = vec![format!(
                    "relay {} up {}s, {}",
                    status.version,
                    status.uptime_ms / 1000,
                    if status.healthy {
                        "healthy"
                    } else {
                        "UNHEALTHY"
                    }
                )];
                lines.push(format!(
                    "{:<16} {:<9} {:>8} {:>10} {:>10} {:>6} {:>8}  {}",
                    "CHAIN", "KIND", "HEIGHT", "FINALIZED", "CURSOR", "LAG", "EVENTS", "STATE"
                ));
                for c in &status.chains {
                    lines.push(format!(
                        "{:<16} {:<9} {:>8} {:>10} {:>10} {:>6} {:>8}  {}",
                        c.chain_id.as_str(),
                        c.kind,
                        c.height,
                        c.finalized_height,
                        c.cursor.to_string(),
                        c.lag_blocks,
                        c.events_ingested,
                        match (&c.last_error, c.connected) {
                            (_, true) => "following".to_string(),
                            (Some(e), false) =>
                                format!("retrying ({} failures): {e}", c.consecutive_failures),
                            (None, false) => "connecting".to_string(),
                        }
                    ));
                }
                let storage = &status.storage;
                lines.push(format!(
                    "storage: {} flushes for {} requests, {} batches applied, {} writes queued",
                    storage.flushes, storage.requested, storage.applied, storage.queued_writes
                ));
                lines.join("\n")
            });
            Ok(())
        }
    }
}
