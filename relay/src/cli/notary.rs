//! `causeway notary`: set up a member, review the committee, run the DKG, and watch a
//! running member (operators).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use causeway_core::{ChainId, Hash32};
use clap::Subcommand;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde_json::json;

use super::Output;
use crate::api::RelayApiClient;
use crate::config::RelayConfig;
use crate::notary::config::load_committee;
use crate::notary::controls::ControlRequest;
use crate::notary::keys::MemberKeys;

#[derive(Subcommand)]
pub enum NotaryCommand {
    /// Create this member's identity (Ed25519) and channel (X25519) keys, and print the
    /// committee entry to share with the other operators.
    Init {
        /// Directory for the keys (becomes `notary.key_dir`).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Your organisation, as the committee file names it.
        #[arg(long)]
        operator: String,
        /// host:port where the other members reach this member's committee channel.
        #[arg(long)]
        endpoint: String,
    },
    /// Check a committee file and show who holds which shares (review before a DKG).
    Committee {
        #[arg(long, value_name = "FILE")]
        committee: PathBuf,
    },
    /// Run the distributed key generation with every other member (all run it at once).
    /// The share is stored encrypted under $CAUSEWAY_NOTARY_PASSPHRASE or
    /// notary.passphrase_file.
    Dkg {
        /// The relay config with a [notary] section.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Key epoch of the new key [default: notary.key_epoch].
        #[arg(long)]
        epoch: Option<u64>,
        /// The committee of the new key, when it differs from notary.committee (a
        /// membership or threshold change); its endpoints are used for the ceremony.
        #[arg(long, value_name = "FILE")]
        committee: Option<PathBuf>,
        /// Give up when the ceremony has not finished after this long.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
    /// A running member's committee view: peers, key epoch, sessions, cheaters, held transfers.
    Status {
        #[arg(long, default_value = "http://127.0.0.1:7800", env = "CAUSEWAY_RELAY")]
        api: String,
    },
    /// Ask this member to sign a key rotation handing a chain's bridge to a new group key
    /// (after `notary dkg --epoch N+1`). Every operator asks its own member with the same
    /// terms; once t have, the committee signs and submits it.
    Rotate {
        #[arg(long, default_value = "http://127.0.0.1:7800", env = "CAUSEWAY_RELAY")]
        api: String,
        #[arg(long)]
        chain: ChainId,
        #[arg(long)]
        new_epoch: u64,
        #[arg(long)]
        new_group_key: String,
        /// When the new key takes over, by the chain's block time (agree it among operators).
        #[arg(long)]
        activate_at_ms: u64,
        #[arg(long, default_value_t = 0)]
        overlap_ms: u64,
    },
    /// Ask this member to sign pausing (or, with --resume, resuming) a chain's bridge.
    Pause {
        #[arg(long, default_value = "http://127.0.0.1:7800", env = "CAUSEWAY_RELAY")]
        api: String,
        #[arg(long)]
        chain: ChainId,
        /// Strictly increasing per chain, from 1 (agree it among operators).
        #[arg(long)]
        control_sequence: u64,
        #[arg(long)]
        resume: bool,
    },
    /// Release or reject the held transfers of a source transaction (governor review).
    Review {
        #[arg(long, default_value = "http://127.0.0.1:7800", env = "CAUSEWAY_RELAY")]
        api: String,
        /// The source chain transaction that made the transfer.
        #[arg(long)]
        tx: Hash32,
        /// Sign it in the next batch.
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        release: bool,
        /// Never sign it.
        #[arg(long)]
        reject: bool,
    },
}

pub fn relay_client(api: &str) -> Result<HttpClient> {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(10))
        .build(api)
        .with_context(|| format!("invalid relay API URL {api:?}"))
}

pub async fn run(cmd: NotaryCommand, out: Output) -> Result<()> {
    match cmd {
        NotaryCommand::Init {
            dir,
            operator,
            endpoint,
        } => {
            let keys = MemberKeys::create(&dir)?;
            let identity = hex::encode(keys.identity.verifying_key().to_bytes());
            let noise = hex::encode(keys.noise_public);
            out.print(
                &json!({"operator": operator, "identity_key": identity, "noise_key": noise, "endpoint": endpoint, "key_dir": dir}),
                || {
                    format!(
                        "keys written to {} (keep them private; back them up)\n\
                         add this entry to the shared committee file:\n\n\
                         [[members]]\noperator = {operator:?}\nidentity_key = \"{identity}\"\nnoise_key = \"{noise}\"\nendpoint = {endpoint:?}",
                        dir.display()
                    )
                },
            );
            Ok(())
        }
        NotaryCommand::Committee { committee } => {
            let c = load_committee(&committee)?;
            let warnings: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
            out.print(
                &json!({
                    "name": c.config.name, "committee_id": c.committee_id,
                    "threshold": c.threshold(), "members": c.config.members.len(),
                    "shares_by_operator": c.config.shares_by_operator(), "warnings": warnings,
                }),
                || {
                    let mut text = c.render_table();
                    for w in &warnings {
                        text.push_str(&format!("\nWARNING: {w}"));
                    }
                    text
                },
            );
            Ok(())
        }
        NotaryCommand::Dkg {
            config,
            epoch,
            committee,
            timeout_secs,
        } => {
            let mut relay = RelayConfig::load(&config)?;
            let notary = relay
                .notary
                .as_mut()
                .with_context(|| format!("{} has no [notary] section", config.display()))?;
            if let Some(committee) = committee {
                notary.committee = committee;
                notary.listen = None;
            }
            let notary = &*notary;
            crate::logging::init(relay.log_format);
            let passphrase = notary.passphrase()?;
            let epoch = epoch.unwrap_or(notary.key_epoch);
            let summary = crate::notary::dkg::run_ceremony(
                notary,
                epoch,
                &passphrase,
                Duration::from_secs(timeout_secs),
            )
            .await?;
            out.print(&summary, || {
                format!(
                    "key generation complete: committee {:?} ({}), epoch {}, threshold {} of {}\n\
                     group key   {}\ntranscript  {}\nshare       {} (encrypted)\n\
                     every member must print the same group key and transcript",
                    summary.committee,
                    summary.committee_id,
                    summary.key_epoch,
                    summary.threshold,
                    summary.members,
                    summary.group_key,
                    summary.transcript_hash,
                    summary.share_file.display()
                )
            });
            Ok(())
        }
        NotaryCommand::Status { api } => {
            let s = relay_client(&api)?
                .notary_status()
                .await
                .with_context(|| format!("cannot get notary status from the relay at {api}"))?;
            out.print(&s, || {
                let mut lines = vec![
                    format!(
                        "member #{} ({}) of committee {:?}: {} of {} online, threshold {}, key epoch {}, {}",
                        s.member, s.operator, s.committee, s.members_online, s.members,
                        s.threshold, s.key_epoch,
                        if s.healthy { "healthy: can sign".to_string() } else { format!("UNHEALTHY: {}", s.problems.join("; ")) }
                    ),
                    format!("group key {}", s.group_key),
                ];
                for p in &s.peers {
                    lines.push(format!(
                        "  peer #{:<3} {:<16} {}",
                        p.member,
                        p.operator,
                        if p.connected { "connected" } else { "unreachable" }
                    ));
                }
                lines.push(format!(
                    "sessions: {} open, {} completed, {} failed; {} batches, {} unfinished",
                    s.signer.open_sessions, s.signer.sessions_completed, s.signer.sessions_failed,
                    s.batches_total, s.open_batches.len()
                ));
                for (member, count) in &s.signer.cheaters {
                    lines.push(format!("  CHEATER member #{member}: {count} invalid signature share(s)"));
                }
                for h in &s.held {
                    lines.push(format!(
                        "  HELD {} {} {} → {} (tx {}): {}",
                        h.amount, h.asset, h.source_chain, h.dest_chain, h.source_tx_hash,
                        h.hold_reason.as_deref().unwrap_or("")
                    ));
                }
                lines.join("\n")
            });
            Ok(())
        }
        NotaryCommand::Rotate {
            api,
            chain,
            new_epoch,
            new_group_key,
            activate_at_ms,
            overlap_ms,
        } => {
            control(
                &api,
                ControlRequest::Rotate {
                    chain,
                    new_epoch,
                    new_group_key,
                    activate_at_ms,
                    overlap_ms,
                },
                out,
            )
            .await
        }
        NotaryCommand::Pause {
            api,
            chain,
            control_sequence,
            resume,
        } => {
            control(
                &api,
                ControlRequest::Pause {
                    chain,
                    control_sequence,
                    paused: !resume,
                },
                out,
            )
            .await
        }
        NotaryCommand::Review {
            api,
            tx,
            release,
            reject: _,
        } => {
            let changed = relay_client(&api)?
                .notary_review(tx, release)
                .await
                .with_context(|| format!("the relay at {api} refused the review"))?;
            let verb = if release { "released" } else { "rejected" };
            out.print(&json!({"changed": changed, "action": verb}), || {
                if changed == 0 {
                    format!("no held transfer of tx {tx} on this member")
                } else {
                    format!("{verb} {changed} transfer(s) of tx {tx}")
                }
            });
            Ok(())
        }
    }
}

async fn control(api: &str, request: ControlRequest, out: Output) -> Result<()> {
    let view = relay_client(api)?
        .notary_control(request)
        .await
        .with_context(|| format!("the member at {api} refused the control"))?;
    out.print(&view, || {
        format!(
            "vouched for control {} on {}; it is signed once the threshold of members asked for the same terms",
            view.session, view.chain
        )
    });
    Ok(())
}
