//! The relay's TOML configuration, validated with errors that name the key at fault.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use causeway_core::ChainId;
use serde::Deserialize;

/// Adapter kinds this build knows.
pub const ADAPTER_KINDS: &[&str] = &["devchain", "remote", "evm"];

/// Most chains one relay follows; each gets its own follower task.
pub const MAX_CHAINS: usize = 64;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// Where the relay keeps its sled database.
    pub data_dir: PathBuf,
    /// Address of the JSON-RPC status API. Port 0 picks a free port, written to
    /// `<data_dir>/api.addr`.
    #[serde(default = "default_api_listen")]
    pub api_listen: SocketAddr,
    /// Directory of named keys (`causeway keys`); defaults to the user's keystore.
    #[serde(default)]
    pub keystore: Option<PathBuf>,
    #[serde(default)]
    pub log_format: LogFormat,
    /// Keystore key that signs this relay's swap offers; by default a key kept in
    /// `<data_dir>/identity.json`, created on first start.
    #[serde(default)]
    pub identity_key: Option<String>,
    /// Safety assumptions for swap plans (specs/htlc.md §4).
    #[serde(default)]
    pub swap: SwapPolicyConfig,
    #[serde(rename = "chain", default)]
    pub chains: Vec<ChainConfig>,
    /// `[notary]`: this relay's seat in a notary committee (absent: not a notary).
    #[serde(default)]
    pub notary: Option<crate::notary::config::NotaryConfig>,
}

/// `[swap]`: the relay's worst reaction time and the chains' clock skew. Every value is
/// checked against `htlc`'s bounds at start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SwapPolicyConfig {
    pub reaction_delay_ms: u64,
    pub clock_skew_ms: u64,
    pub extra_margin_ms: u64,
}

impl Default for SwapPolicyConfig {
    fn default() -> Self {
        let p = causeway_htlc::SafetyPolicy::default();
        SwapPolicyConfig {
            reaction_delay_ms: p.reaction_delay_ms,
            clock_skew_ms: p.clock_skew_ms,
            extra_margin_ms: p.extra_margin_ms,
        }
    }
}

impl SwapPolicyConfig {
    pub fn policy(&self) -> causeway_htlc::SafetyPolicy {
        causeway_htlc::SafetyPolicy {
            reaction_delay_ms: self.reaction_delay_ms,
            clock_skew_ms: self.clock_skew_ms,
            extra_margin_ms: self.extra_margin_ms,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    pub id: ChainId,
    pub kind: String,
    pub endpoint: String,
    /// Name of the keystore key the relay signs with on this chain.
    #[serde(default)]
    pub key: Option<String>,
    /// How often to look for new finalized events when the chain is idle.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Cursor lag (in blocks) above which the chain is reported unhealthy.
    #[serde(default = "default_max_lag_blocks")]
    pub max_lag_blocks: u64,
    /// `[chain.evm]`, for `kind = "evm"` only.
    #[serde(default)]
    pub evm: Option<crate::evm::EvmChainConfig>,
}

fn default_api_listen() -> SocketAddr {
    "127.0.0.1:7800".parse().expect("valid default")
}

fn default_poll_interval_ms() -> u64 {
    50
}

fn default_max_lag_blocks() -> u64 {
    50
}

impl RelayConfig {
    pub fn load(path: &Path) -> Result<RelayConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read relay config {}", path.display()))?;
        let mut config = Self::parse(&text)
            .with_context(|| format!("relay config {} is invalid", path.display()))?;
        // Relative paths are relative to the config file, not to wherever the daemon started.
        let base = path.parent().unwrap_or(Path::new("."));
        config.data_dir = base.join(&config.data_dir);
        config.keystore = config.keystore.map(|k| base.join(k));
        if let Some(notary) = &mut config.notary {
            notary.resolve_paths(base);
        }
        Ok(config)
    }

    pub fn parse(text: &str) -> Result<RelayConfig> {
        let config: RelayConfig = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        self.swap
            .policy()
            .validate()
            .map_err(|e| anyhow::anyhow!("swap: {e}"))?;
        if self.chains.is_empty() {
            bail!("no chains: add at least one [[chain]] table with id, kind and endpoint");
        }
        if self.chains.len() > MAX_CHAINS {
            bail!(
                "chain: {} chains configured, at most {MAX_CHAINS} are supported",
                self.chains.len()
            );
        }
        let mut seen = BTreeSet::new();
        for (i, chain) in self.chains.iter().enumerate() {
            let at = format!("chain[{i}] (id {:?})", chain.id.as_str());
            if !seen.insert(&chain.id) {
                bail!(
                    "{at}.id: chain id {} appears twice; each chain needs a unique id",
                    chain.id
                );
            }
            if !ADAPTER_KINDS.contains(&chain.kind.as_str()) {
                bail!(
                    "{at}.kind: unknown adapter kind {:?}; expected one of: {}",
                    chain.kind,
                    ADAPTER_KINDS.join(", ")
                );
            }
            let http =
                chain.endpoint.starts_with("http://") || chain.endpoint.starts_with("https://");
            let ws = chain.endpoint.starts_with("ws://") || chain.endpoint.starts_with("wss://");
            if !(http || ws && chain.kind == "remote") {
                bail!(
                    "{at}.endpoint: {:?} is not an http(s) URL, e.g. http://127.0.0.1:8645 \
                     (ws:// and wss:// are for kind \"remote\" adapters)",
                    chain.endpoint
                );
            }
            match (chain.kind.as_str(), &chain.evm) {
                ("evm", Some(evm)) => {
                    evm.adapter_config(chain)?;
                }
                ("evm", None) => {
                    bail!("{at}: kind \"evm\" needs a [chain.evm] table with evm_chain_id")
                }
                (_, Some(_)) => bail!("{at}.evm: only kind \"evm\" takes a [chain.evm] table"),
                _ => {}
            }
            if !(1..=60_000).contains(&chain.poll_interval_ms) {
                bail!(
                    "{at}.poll_interval_ms: {} is outside 1..=60000",
                    chain.poll_interval_ms
                );
            }
        }
        if let Some(notary) = &self.notary {
            notary.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        data_dir = "data"
        api_listen = "127.0.0.1:0"
        [[chain]]
        id = "dev-a"
        kind = "devchain"
        endpoint = "http://127.0.0.1:8645"
    "#;

    fn err_of(text: &str) -> String {
        format!("{:#}", RelayConfig::parse(text).unwrap_err())
    }

    #[test]
    fn good_config_parses_with_defaults() {
        let c = RelayConfig::parse(GOOD).unwrap();
        assert_eq!(c.chains[0].poll_interval_ms, 50);
        assert_eq!(c.log_format, LogFormat::Human);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = err_of(&GOOD.replace("kind =", "knd = \"x\"\nkind ="));
        assert!(e.contains("knd"), "{e}");
    }

    #[test]
    fn unknown_kind_lists_the_known_ones() {
        let e = err_of(&GOOD.replace("\"devchain\"", "\"fabric\""));
        assert!(
            e.contains("chain[0]") && e.contains("fabric") && e.contains("devchain"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_chain_ids_are_refused() {
        let twice = format!(
            "{GOOD}\n[[chain]]\nid = \"dev-a\"\nkind = \"devchain\"\nendpoint = \"http://x:1\"\n"
        );
        assert!(err_of(&twice).contains("appears twice"));
    }

    #[test]
    fn swap_policy_below_the_protocol_minimum_is_refused() {
        let e = err_of(&GOOD.replace("[[chain]]", "[swap]\nreaction_delay_ms = 1\n[[chain]]"));
        assert!(e.contains("swap") && e.contains("reaction"), "{e}");
    }

    #[test]
    fn evm_chains_need_and_check_their_evm_table() {
        let evm = GOOD.replace("\"devchain\"", "\"evm\"");
        assert!(err_of(&evm).contains("[chain.evm]"));
        let ok = format!(
            "{evm}[chain.evm]\nevm_chain_id = 31337\nhtlc_contract = \"0x{}\"\n[chain.evm.assets]\nUSD = \"0x{}\"\nETH = \"native\"\n",
            "11".repeat(20),
            "22".repeat(20)
        );
        let c = RelayConfig::parse(&ok).unwrap();
        assert_eq!(c.chains[0].evm.as_ref().unwrap().confirmations, 1);
        let bad = ok.replace(&format!("0x{}", "22".repeat(20)), "0x12");
        assert!(err_of(&bad).contains("assets.USD"), "{}", err_of(&bad));
        let misplaced = format!("{GOOD}[chain.evm]\nevm_chain_id = 1\n");
        assert!(err_of(&misplaced).contains("only kind"));
    }

    #[test]
    fn notary_section_is_checked() {
        let with = |extra: &str| {
            format!("{GOOD}[notary]\ncommittee = \"c.toml\"\nmember = 1\nkey_dir = \"k\"\n{extra}")
        };
        let c = RelayConfig::parse(&with("")).unwrap();
        assert_eq!(c.notary.as_ref().unwrap().batch_blocks, 1);
        assert!(err_of(&with("batch_blocks = 0\n")).contains("notary.batch_blocks"));
        assert!(err_of(&with("max_batch = 100000\n")).contains("notary.max_batch"));
        assert!(err_of(&with("bogus = 1\n")).contains("bogus"));
        assert!(err_of(&with("").replace("member = 1", "member = 0")).contains("notary.member"));
    }

    #[test]
    fn bad_values_name_their_key() {
        assert!(err_of(&GOOD.replace("127.0.0.1:0", "nowhere")).contains("api_listen"));
        assert!(
            err_of(&GOOD.replace("http://127.0.0.1:8645", "127.0.0.1:8645")).contains("endpoint")
        );
        assert!(err_of(&GOOD.replace("\"dev-a\"", "\"dev a\"")).contains("chain id"));
        assert!(err_of("data_dir = \"d\"").contains("no chains"));
    }
}
