//! `[notary]`: this relay's seat in a notary committee (specs/notary.md §2, §9).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use causeway_core::{Amount, AssetId, ChainId};
use causeway_notary::committee::{Committee, CommitteeConfig};
use causeway_notary::governor::{FlowLimit, Route};
use serde::Deserialize;

/// Environment variable holding the key share's passphrase.
pub const PASSPHRASE_ENV: &str = "CAUSEWAY_NOTARY_PASSPHRASE";
/// Largest batch of transfers one attestation covers.
pub const MAX_BATCH_LIMIT: u32 = 4096;
/// Largest committee file read.
const MAX_COMMITTEE_FILE_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotaryConfig {
    /// The committee file every member shares (TOML: name, threshold, `[[members]]`).
    pub committee: PathBuf,
    /// This relay's member number in that file (1-based; = its FROST identifier).
    pub member: u16,
    /// Directory with this member's keys: `identity.json`, `noise.json` (from
    /// `causeway notary init`) and `share-epoch-<N>.json` (from `causeway notary dkg`).
    pub key_dir: PathBuf,
    /// Address the committee channel listens on; defaults to this member's endpoint.
    #[serde(default)]
    pub listen: Option<String>,
    /// File holding the key share's passphrase; otherwise `$CAUSEWAY_NOTARY_PASSPHRASE`.
    #[serde(default)]
    pub passphrase_file: Option<PathBuf>,
    /// Key epoch whose share this relay signs with.
    #[serde(default = "default_key_epoch")]
    pub key_epoch: u64,
    /// A batch closes at every source height that is a multiple of this.
    #[serde(default = "default_batch_blocks")]
    pub batch_blocks: u64,
    /// Most transfers in one batch; more at one boundary go into the next sequence.
    #[serde(default = "default_max_batch")]
    pub max_batch: u32,
    /// How long one signing attempt may take before the next coordinator takes over.
    #[serde(default = "default_attempt_timeout_ms")]
    pub attempt_timeout_ms: u64,
    /// A member of rank r in a batch's coordinator order submits it r × this after the
    /// first-ranked one would have, if the chain has not accepted it by then.
    #[serde(default = "default_fallback_ms")]
    pub fallback_ms: u64,
    /// Value ceilings per route and asset; a route without one holds every transfer.
    #[serde(default, rename = "limit")]
    pub limits: Vec<LimitConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    pub source_chain: ChainId,
    pub dest_chain: ChainId,
    pub asset: AssetId,
    pub ceiling: Amount,
    pub window_ms: u64,
}

fn default_key_epoch() -> u64 {
    1
}
/// Every final block closes a batch: the least added latency; load fills batches anyway.
fn default_batch_blocks() -> u64 {
    1
}
/// Small enough that a whole batch fits one devchain transaction (`bridge_submit_batch`).
fn default_max_batch() -> u32 {
    32
}
fn default_attempt_timeout_ms() -> u64 {
    causeway_notary::signing::SUGGESTED_ATTEMPT_TIMEOUT_MS
}
fn default_fallback_ms() -> u64 {
    3_000
}

impl NotaryConfig {
    /// Makes relative paths relative to the config file's directory.
    pub fn resolve_paths(&mut self, base: &Path) {
        self.committee = base.join(&self.committee);
        self.key_dir = base.join(&self.key_dir);
        self.passphrase_file = self.passphrase_file.as_ref().map(|p| base.join(p));
    }

    pub fn validate(&self) -> Result<()> {
        if self.member == 0 {
            bail!(
                "notary.member is 0; members are numbered from 1 as listed in the committee file"
            );
        }
        if self.key_epoch == 0 {
            bail!("notary.key_epoch is 0; epochs start at 1");
        }
        if self.batch_blocks == 0 {
            bail!("notary.batch_blocks is 0; set how many source blocks one batch spans (e.g. 5)");
        }
        if self.max_batch == 0 || self.max_batch > MAX_BATCH_LIMIT {
            bail!(
                "notary.max_batch is {}; it must be in 1..={MAX_BATCH_LIMIT}",
                self.max_batch
            );
        }
        if !(100..=600_000).contains(&self.attempt_timeout_ms) {
            bail!(
                "notary.attempt_timeout_ms is {}; it must be in 100..=600000",
                self.attempt_timeout_ms
            );
        }
        if self.fallback_ms > 600_000 {
            bail!("notary.fallback_ms is {}; at most 600000", self.fallback_ms);
        }
        for (i, l) in self.limits.iter().enumerate() {
            if l.window_ms == 0 || l.ceiling.is_zero() {
                bail!(
                    "notary.limit #{} ({} → {} {}): ceiling and window_ms must be positive",
                    i + 1,
                    l.source_chain,
                    l.dest_chain,
                    l.asset
                );
            }
        }
        Ok(())
    }

    pub fn flow_limits(&self) -> Vec<FlowLimit> {
        self.limits
            .iter()
            .map(|l| FlowLimit {
                route: Route {
                    source_chain: l.source_chain.clone(),
                    dest_chain: l.dest_chain.clone(),
                    asset: l.asset.clone(),
                },
                ceiling: l.ceiling,
                window_ms: l.window_ms,
            })
            .collect()
    }

    /// The committee file, validated; warnings are the caller's to show.
    pub fn load_committee(&self) -> Result<Committee> {
        load_committee(&self.committee)
    }

    pub fn passphrase(&self) -> Result<String> {
        if let Some(path) = &self.passphrase_file {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read notary.passphrase_file {}", path.display())
            })?;
            return Ok(text.trim_end_matches(['\n', '\r']).to_string());
        }
        std::env::var(PASSPHRASE_ENV).map_err(|_| {
            anyhow::anyhow!(
                "no passphrase for the key share: set {PASSPHRASE_ENV} or notary.passphrase_file"
            )
        })
    }

    pub fn share_path(&self, epoch: u64) -> PathBuf {
        self.key_dir.join(format!("share-epoch-{epoch}.json"))
    }
}

pub fn load_committee(path: &Path) -> Result<Committee> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read committee file {}", path.display()))?
        .len();
    if len > MAX_COMMITTEE_FILE_BYTES {
        bail!(
            "committee file {} is {len} bytes; at most {MAX_COMMITTEE_FILE_BYTES}",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read committee file {}", path.display()))?;
    let config: CommitteeConfig = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("committee file {} is invalid: {e}", path.display()))?;
    config
        .validate()
        .with_context(|| format!("committee file {} is refused", path.display()))
}
