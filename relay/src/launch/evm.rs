//! A real anvil (the npm-installed one from `scripts/setup-evm.sh`) with Causeway's HTLC and a
//! test ERC-20 deployed: shared by `causeway demo --evm`, the load tool and the e2e tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_core::Address;

use super::{run_cli_json, Process, STARTUP_TIMEOUT};
use crate::keystore::{EvmKey, Keystore};

/// Overrides where anvil is looked for (a path to the binary).
pub const ANVIL_ENV: &str = "CAUSEWAY_ANVIL";
/// Where `npm ci` puts anvil's launcher, relative to the repository root.
const ANVIL_LAUNCHER: &str = "node_modules/.bin/anvil";
/// How often to look at anvil's log for its port while it starts.
const STARTUP_POLL: Duration = Duration::from_millis(20);

/// anvil's well-known dev accounts (mnemonic "test test … junk"), each funded with
/// 10,000 ETH on a fresh anvil: index 0 deploys, the others are the parties' EVM accounts.
pub const ANVIL_DEV_KEYS: [&str; 3] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
];

/// Finds anvil: `explicit` (e.g. `--anvil PATH`), else `$CAUSEWAY_ANVIL`, else
/// `node_modules/.bin/anvil` in the current directory, the executable's directory, or any
/// directory above either.
pub fn find_anvil(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(ANVIL_ENV).map(PathBuf::from))
    {
        if !path.is_file() {
            bail!(
                "anvil {} does not exist; run `bash scripts/setup-evm.sh` in the Causeway \
                 repository to install it",
                path.display()
            );
        }
        return Ok(path);
    }
    let starts = [
        std::env::current_dir().ok(),
        std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf)),
    ];
    starts
        .iter()
        .flatten()
        .flat_map(|start| start.ancestors())
        .find(|root| root.join(ANVIL_LAUNCHER).is_file())
        .map(installed_anvil)
        .with_context(|| {
            format!(
                "anvil is not installed: run `bash scripts/setup-evm.sh` in the Causeway \
                 repository (it puts anvil in {ANVIL_LAUNCHER}), or pass its path with --anvil \
                 or ${ANVIL_ENV}"
            )
        })
}

/// The platform's anvil binary beside the npm launcher, if present: the launcher is a Node
/// script that forwards SIGTERM but not SIGKILL, so killing it on drop would orphan anvil.
fn installed_anvil(root: &Path) -> PathBuf {
    let binary = platform_binary(root);
    if binary.is_file() {
        binary
    } else {
        root.join(ANVIL_LAUNCHER)
    }
}

/// Where `@foundry-rs/anvil` installs the binary for this OS and CPU.
fn platform_binary(root: &Path) -> PathBuf {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    root.join(format!(
        "node_modules/@foundry-rs/anvil-{os}-{arch}/bin/anvil"
    ))
}

/// A throwaway anvil on a free loopback port, killed when dropped.
pub struct AnvilProcess {
    pub process: Process,
    pub rpc_url: String,
    pub evm_chain_id: u64,
}

impl AnvilProcess {
    /// Starts the anvil [`find_anvil`] finds; see [`AnvilProcess::start_with`].
    pub async fn start(dir: &Path, evm_chain_id: u64, block_time_s: Option<u64>) -> Result<Self> {
        Self::start_with(&find_anvil(None)?, dir, evm_chain_id, block_time_s).await
    }

    /// Starts `anvil` with `evm_chain_id`, logging to `dir`; `block_time_s: None` mines one
    /// block per transaction (automine), `Some(n)` a block every n seconds.
    pub async fn start_with(
        anvil: &Path,
        dir: &Path,
        evm_chain_id: u64,
        block_time_s: Option<u64>,
    ) -> Result<Self> {
        let log = dir.join(format!("anvil-{evm_chain_id}.log"));
        let mut cmd = Command::new(anvil);
        cmd.args(["--host", "127.0.0.1", "--port", "0", "--chain-id"])
            .arg(evm_chain_id.to_string());
        if let Some(s) = block_time_s {
            cmd.args(["--block-time", &s.to_string()]);
        }
        let mut process = Process::spawn(&format!("anvil (chain id {evm_chain_id})"), cmd, &log)?;
        let started = Instant::now();
        loop {
            let text = process.log_text();
            if let Some(port) = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("Listening on 127.0.0.1:"))
            {
                return Ok(AnvilProcess {
                    rpc_url: format!("http://127.0.0.1:{}", port.trim()),
                    process,
                    evm_chain_id,
                });
            }
            if !process.is_running() || started.elapsed() > STARTUP_TIMEOUT {
                bail!("anvil {} did not start; its log:\n{text}", anvil.display());
            }
            tokio::time::sleep(STARTUP_POLL).await;
        }
    }

    /// Calls an anvil/`evm_*` JSON-RPC method (snapshots, mining, time travel).
    pub async fn rpc(
        &self,
        method: &str,
        params: Vec<serde_json::Value>,
    ) -> Result<serde_json::Value> {
        use jsonrpsee::core::client::ClientT;
        let client = jsonrpsee::http_client::HttpClientBuilder::default().build(&self.rpc_url)?;
        let mut array = jsonrpsee::core::params::ArrayParams::new();
        for p in params {
            array.insert(p)?;
        }
        client
            .request(method, array)
            .await
            .with_context(|| format!("anvil at {}: {method}", self.rpc_url))
    }
}

/// Stores anvil dev key `index` of [`ANVIL_DEV_KEYS`] in `keystore` as `name`.
pub fn import_anvil_key(keystore: &Keystore, name: &str, index: usize) -> Result<EvmKey> {
    let text = ANVIL_DEV_KEYS.get(index).with_context(|| {
        format!(
            "anvil dev key {index}: there are only {}",
            ANVIL_DEV_KEYS.len()
        )
    })?;
    let secret: [u8; 32] = hex::decode(text)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("anvil dev key {index} is not 32 bytes"))?;
    keystore.insert_secp256k1(name, secret)
}

/// What [`deploy_evm`] deployed.
#[derive(Debug, Clone)]
pub struct EvmDeployment {
    pub htlc: String,
    pub token: String,
}

/// Deploys CausewayHTLC and OpenZeppelin's test ERC-20 with `causeway evm deploy-htlc` and
/// `deploy-token` (keystore key `deployer` pays), minting `mint` (address, amount) of the token.
pub fn deploy_evm(
    bin: &Path,
    keystore: &Path,
    rpc_url: &str,
    deployer: &str,
    mint: &[(&Address, u128)],
) -> Result<EvmDeployment> {
    let common = ["--rpc", rpc_url, "--key", deployer];
    let htlc = run_cli_json(
        bin,
        keystore,
        &[&["evm", "deploy-htlc"][..], &common].concat(),
    )?;
    let mints: Vec<String> = mint.iter().map(|(who, n)| format!("{who}={n}")).collect();
    let mut args = [&["evm", "deploy-token"][..], &common].concat();
    for m in &mints {
        args.extend(["--mint", m.as_str()]);
    }
    let token = run_cli_json(bin, keystore, &args)?;
    let address = |v: &serde_json::Value, what: &str| {
        v["address"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("`causeway evm {what}` printed no address: {v}"))
    };
    Ok(EvmDeployment {
        htlc: address(&htlc, "deploy-htlc")?,
        token: address(&token, "deploy-token")?,
    })
}

/// The `[[chain]]` table of an anvil with Causeway deployed, `asset` being the test token.
pub fn evm_table(
    id: &str,
    anvil: &AnvilProcess,
    key: &str,
    confirmations: u64,
    deployed: &EvmDeployment,
    asset: &str,
) -> String {
    EvmTable {
        htlc: Some(deployed.htlc.clone()),
        assets: vec![(asset.to_string(), deployed.token.clone())],
        ..EvmTable::new(id, anvil, key, confirmations)
    }
    .toml()
}

/// Any `[[chain]]` table of an anvil: HTLC, bridge with its routes, assets.
pub struct EvmTable {
    pub id: String,
    pub rpc_url: String,
    pub evm_chain_id: u64,
    pub key: String,
    pub confirmations: u64,
    pub htlc: Option<String>,
    pub bridge: Option<String>,
    /// (asset, destination chain, destination asset)
    pub routes: Vec<(String, String, String)>,
    /// (asset, token address or "native")
    pub assets: Vec<(String, String)>,
}

impl EvmTable {
    pub fn new(id: &str, anvil: &AnvilProcess, key: &str, confirmations: u64) -> EvmTable {
        EvmTable {
            id: id.to_string(),
            rpc_url: anvil.rpc_url.clone(),
            evm_chain_id: anvil.evm_chain_id,
            key: key.to_string(),
            confirmations,
            htlc: None,
            bridge: None,
            routes: Vec::new(),
            assets: Vec::new(),
        }
    }

    pub fn toml(&self) -> String {
        let mut text = format!(
            "\n[[chain]]\nid = \"{}\"\nkind = \"evm\"\nendpoint = \"{}\"\npoll_interval_ms = 50\nkey = \"{}\"\n\
             [chain.evm]\nevm_chain_id = {}\nconfirmations = {}\nblock_time_ms = 1000\n",
            self.id, self.rpc_url, self.key, self.evm_chain_id, self.confirmations
        );
        if let Some(htlc) = &self.htlc {
            text.push_str(&format!("htlc_contract = \"{htlc}\"\n"));
        }
        if let Some(bridge) = &self.bridge {
            text.push_str(&format!("bridge = \"{bridge}\"\n"));
        }
        for (asset, dest_chain, dest_asset) in &self.routes {
            text.push_str(&format!(
                "[[chain.evm.bridge_routes]]\nasset = \"{asset}\"\ndest_chain = \"{dest_chain}\"\ndest_asset = \"{dest_asset}\"\n"
            ));
        }
        if !self.assets.is_empty() {
            text.push_str("[chain.evm.assets]\n");
            for (asset, token) in &self.assets {
                text.push_str(&format!("{asset} = \"{token}\"\n"));
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_explicit_anvil_says_how_to_install_it() {
        let err = find_anvil(Some(Path::new("/nonexistent/anvil")))
            .expect_err("a missing file is refused");
        let text = format!("{err:#}");
        assert!(text.contains("/nonexistent/anvil"), "{text}");
        assert!(text.contains("scripts/setup-evm.sh"), "{text}");
    }

    #[test]
    fn the_platform_binary_is_preferred_to_the_node_launcher() {
        let root = tempfile::tempdir().expect("temp dir");
        let write = |path: &Path| {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "anvil").expect("write");
        };
        let launcher = root.path().join(ANVIL_LAUNCHER);
        write(&launcher);
        assert_eq!(installed_anvil(root.path()), launcher);
        let binary = platform_binary(root.path());
        write(&binary);
        assert_eq!(installed_anvil(root.path()), binary);
    }

    #[test]
    fn dev_keys_import_as_their_well_known_addresses() {
        let dir = tempfile::tempdir().expect("temp dir");
        let keystore = Keystore::open(dir.path());
        let key = import_anvil_key(&keystore, "dev0", 0).expect("import");
        assert_eq!(
            key.address.as_str().to_lowercase(),
            "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        );
        assert!(import_anvil_key(&keystore, "dev9", 9).is_err());
    }

    #[test]
    fn evm_table_is_a_valid_relay_chain() {
        let deployed = EvmDeployment {
            htlc: "0x5fbdb2315678afecb367f032d93f642f64180aa3".into(),
            token: "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512".into(),
        };
        let table = EvmTable {
            id: "anvil-a".into(),
            rpc_url: "http://127.0.0.1:8545".into(),
            evm_chain_id: 31337,
            key: "alice-evm".into(),
            confirmations: 1,
            htlc: Some(deployed.htlc.clone()),
            bridge: Some(deployed.token.clone()),
            routes: vec![("WUSD".into(), "dev-a".into(), "USD".into())],
            assets: vec![("USD".into(), deployed.token.clone())],
        };
        let text = format!("data_dir = \"d\"\n{}", table.toml());
        let config = crate::config::RelayConfig::parse(&text).expect("valid config");
        let evm = config.chains[0].evm.as_ref().expect("[chain.evm]");
        assert_eq!(evm.evm_chain_id, 31337);
        assert_eq!(evm.htlc_contract.as_deref(), Some(deployed.htlc.as_str()));
        assert_eq!(evm.bridge_routes.len(), 1);
        assert_eq!(evm.assets.len(), 1);
    }
}
