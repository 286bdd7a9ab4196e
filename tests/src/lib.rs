//! Harness for end-to-end tests: a throwaway directory holding keys, node homes and relay
//! data, and helpers that run the real `causeway` binary.
//!
//! The binary is `$CAUSEWAY_BIN`, else `target/debug/causeway` of this workspace; build it
//! first (`cargo build --bin causeway`; `scripts/test.sh` does).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use causeway_core::{Address, ChainId};
pub use causeway_relay::launch::{DevchainProcess, Process, RelayProcess};

pub fn causeway_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CAUSEWAY_BIN") {
        return bin.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug/causeway");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --bin causeway` first, or set CAUSEWAY_BIN",
        bin.display()
    );
    bin
}

/// The result of one CLI run.
pub struct CliRun {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// One test's world: a temp dir with a keystore, nodes and relays under it.
pub struct Net {
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
}

impl Default for Net {
    fn default() -> Self {
        Self::new()
    }
}

impl Net {
    pub fn new() -> Net {
        Net {
            dir: tempfile::tempdir().expect("temp dir"),
            bin: causeway_bin(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn keystore(&self) -> PathBuf {
        self.path().join("keys")
    }

    /// Runs `causeway --keystore KEYS <args>`.
    pub fn cli(&self, args: &[&str]) -> CliRun {
        let out = Command::new(&self.bin)
            .arg("--keystore")
            .arg(self.keystore())
            .args(args)
            .output()
            .expect("run causeway");
        CliRun {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs the CLI and insists it succeeds.
    pub fn cli_ok(&self, args: &[&str]) -> CliRun {
        let run = self.cli(args);
        assert!(
            run.success,
            "causeway {args:?} failed:\nstdout: {}\nstderr: {}",
            run.stdout, run.stderr
        );
        run
    }

    /// Runs the CLI and insists it fails cleanly (no panic) with `must_mention` in its error.
    pub fn cli_err(&self, args: &[&str], must_mention: &str) -> CliRun {
        let run = self.cli(args);
        assert!(!run.success, "causeway {args:?} succeeded: {}", run.stdout);
        assert!(
            run.stderr.contains(must_mention) && !run.stderr.contains("panicked"),
            "causeway {args:?}: error does not mention {must_mention:?}: {}",
            run.stderr
        );
        run
    }

    /// `who`'s balance of `asset` on the devchain node at `rpc`, read with `causeway balance`.
    pub fn balance(&self, rpc: &str, who: &str, asset: &str) -> u128 {
        let v = self
            .cli_ok(&["--json", "balance", who, "--rpc", rpc])
            .json();
        v["balances"][asset]
            .as_str()
            .unwrap_or("0")
            .parse()
            .expect("balances are decimal strings")
    }

    /// Creates a key with `causeway keys new` and returns its address.
    pub fn key(&self, name: &str) -> Address {
        let run = self.cli_ok(&["--json", "keys", "new", name]);
        Address::new(run.json()["address"].as_str().expect("address")).expect("valid address")
    }

    /// Loads a key's secret from the keystore (tests sign with it directly).
    pub fn signing_key(&self, name: &str) -> ed25519_dalek::SigningKey {
        causeway_relay::keystore::Keystore::open(self.keystore())
            .load(name)
            .expect("key exists")
            .key
    }

    /// `causeway devchain init` + `start`, on a free port.
    pub async fn devchain(&self, chain: &str, fund: &[&str]) -> Result<DevchainProcess> {
        let chain = ChainId::new(chain)?;
        let home = self.path().join(chain.as_str());
        causeway_relay::launch::init_devchain(&self.bin, &home, &self.keystore(), &chain, fund)?;
        DevchainProcess::start(&self.bin, &home, 0).await
    }

    /// Restarts a node from its home on the same port.
    pub async fn restart_devchain(&self, node: &DevchainProcess) -> Result<DevchainProcess> {
        DevchainProcess::start(&self.bin, &node.home, node.port()).await
    }

    /// Writes a relay config following `chains` (id, rpc url, optional key).
    pub fn relay_config(&self, name: &str, chains: &[(&str, &str, Option<&str>)]) -> PathBuf {
        self.relay_config_with(name, chains, "")
    }

    /// Like [`Net::relay_config`], with `extra` TOML (e.g. a `[swap]` table) before the chains.
    pub fn relay_config_with(
        &self,
        name: &str,
        chains: &[(&str, &str, Option<&str>)],
        extra: &str,
    ) -> PathBuf {
        let dir = self.path().join(name);
        std::fs::create_dir_all(&dir).expect("relay dir");
        let mut text = String::from("data_dir = \"data\"\napi_listen = \"127.0.0.1:0\"\n");
        text.push_str(&format!("keystore = {:?}\n", self.keystore()));
        text.push_str(extra);
        for (id, url, key) in chains {
            text.push_str(&format!("\n[[chain]]\nid = \"{id}\"\nkind = \"devchain\"\nendpoint = \"{url}\"\npoll_interval_ms = 20\n"));
            if let Some(k) = key {
                text.push_str(&format!("key = \"{k}\"\n"));
            }
        }
        let path = dir.join("relay.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }

    pub async fn relay(&self, config: &Path) -> Result<RelayProcess> {
        let data = config.parent().context("config has a parent")?.join("data");
        RelayProcess::start(&self.bin, config, &data, &self.keystore()).await
    }
}

/// Polls `check` every 20 ms until it returns `Some`, or fails after `timeout`.
pub async fn eventually<T, F, Fut>(
    what: &str,
    timeout: std::time::Duration,
    mut check: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if started.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Sends `body` as an HTTP POST to a JSON-RPC `url` and returns the response body, so tests
/// can send bytes no well-behaved client would.
pub async fn post_raw(url: &str, body: &[u8]) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response).into_owned();
    Ok(text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(text))
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// anvil's well-known dev accounts (mnemonic "test test … junk"), each funded with
/// 10,000 ETH on a fresh anvil: index 0 deploys, the others are the parties' EVM accounts.
pub const ANVIL_DEV_KEYS: [&str; 3] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
];

/// The real anvil binary installed by `scripts/setup-evm.sh` (not the Node wrapper, so that
/// dropping the process kills the node itself).
pub fn anvil_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CAUSEWAY_ANVIL") {
        return bin.into();
    }
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    assert!(
        bin.exists(),
        "{} is missing: run `bash scripts/setup-evm.sh` first, or set CAUSEWAY_ANVIL",
        bin.display()
    );
    bin
}

/// A throwaway anvil on a free loopback port, killed when dropped.
pub struct AnvilProcess {
    pub process: Process,
    pub rpc_url: String,
    pub evm_chain_id: u64,
}

impl AnvilProcess {
    /// Starts anvil with `evm_chain_id`; `block_time_s: None` mines one block per
    /// transaction (automine), `Some(n)` a block every n seconds.
    pub async fn start(dir: &Path, evm_chain_id: u64, block_time_s: Option<u64>) -> Result<Self> {
        let log = dir.join(format!("anvil-{evm_chain_id}.log"));
        let mut cmd = Command::new(anvil_bin());
        cmd.args(["--host", "127.0.0.1", "--port", "0", "--chain-id"])
            .arg(evm_chain_id.to_string());
        if let Some(s) = block_time_s {
            cmd.args(["--block-time", &s.to_string()]);
        }
        let mut process = Process::spawn("anvil", cmd, &log)?;
        let started = std::time::Instant::now();
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
            if !process.is_running() || started.elapsed() > causeway_relay::launch::STARTUP_TIMEOUT
            {
                bail!("anvil did not start; its log:\n{text}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
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
        Ok(client.request(method, array).await?)
    }
}

/// What `Net::evm_chain` deployed on an anvil.
pub struct EvmDeployment {
    pub htlc: String,
    pub token: String,
}

impl Net {
    /// Imports anvil dev key `index` as `name` (a secp256k1 key) and returns its address.
    pub fn evm_key(&self, name: &str, index: usize) -> Address {
        let run = self.cli_ok(&[
            "--json",
            "keys",
            "import",
            name,
            "--scheme",
            "secp256k1",
            "--secret",
            ANVIL_DEV_KEYS[index],
        ]);
        Address::new(run.json()["address"].as_str().expect("address")).expect("valid address")
    }

    /// Deploys CausewayHTLC and a test ERC-20 with the CLI (key `deployer`), minting
    /// `mint` (address, amount) of the token.
    pub fn deploy_evm(
        &self,
        anvil: &AnvilProcess,
        deployer: &str,
        mint: &[(&Address, u128)],
    ) -> EvmDeployment {
        let htlc = self.cli_ok(&[
            "--json",
            "evm",
            "deploy-htlc",
            "--rpc",
            &anvil.rpc_url,
            "--key",
            deployer,
        ]);
        let mut args: Vec<String> = [
            "--json",
            "evm",
            "deploy-token",
            "--rpc",
            &anvil.rpc_url,
            "--key",
            deployer,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (who, amount) in mint {
            args.push("--mint".into());
            args.push(format!("{who}={amount}"));
        }
        let token = self.cli_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        EvmDeployment {
            htlc: htlc.json()["address"]
                .as_str()
                .expect("htlc address")
                .to_string(),
            token: token.json()["address"]
                .as_str()
                .expect("token address")
                .to_string(),
        }
    }

    /// `causeway swap offer` through the relay at `api`: `[give, get, to, from]` as the
    /// CLI takes them; returns the JSON answer (offer string, swap id, terms).
    pub fn swap_offer(
        &self,
        api: &str,
        [give, get, to, from]: [&str; 4],
        accept_within_secs: u64,
    ) -> serde_json::Value {
        let secs = accept_within_secs.to_string();
        self.cli_ok(&[
            "--json",
            "swap",
            "offer",
            "--relay",
            api,
            "--give",
            give,
            "--get",
            get,
            "--to",
            to,
            "--from",
            from,
            "--accept-within-secs",
            &secs,
        ])
        .json()
    }

    /// `causeway swap accept` of an offer returned by [`Net::swap_offer`].
    pub fn swap_accept(&self, api: &str, offer: &serde_json::Value) {
        let text = offer["offer"].as_str().expect("offer has an offer string");
        self.cli_ok(&["swap", "accept", text, "--relay", api]);
    }

    /// Polls `causeway swap status` until the swap has an outcome; returns the status JSON.
    pub async fn swap_outcome(
        &self,
        api: &str,
        swap_id: &str,
        timeout: std::time::Duration,
    ) -> Result<serde_json::Value> {
        eventually(&format!("swap {swap_id} to finish"), timeout, || async {
            let v = self
                .cli_ok(&["--json", "swap", "status", swap_id, "--relay", api])
                .json();
            (!v["status"]["outcome"].is_null()).then_some(v)
        })
        .await
    }

    /// Writes a relay config whose chains are given as TOML `[[chain]]` tables.
    pub fn relay_config_toml(&self, name: &str, extra: &str, chains: &str) -> PathBuf {
        let dir = self.path().join(name);
        std::fs::create_dir_all(&dir).expect("relay dir");
        let text = format!(
            "data_dir = \"data\"\napi_listen = \"127.0.0.1:0\"\nkeystore = {:?}\n{extra}\n{chains}",
            self.keystore()
        );
        let path = dir.join("relay.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }
}

/// The `[[chain]]` table of a devchain node.
pub fn devchain_table(id: &str, url: &str, key: &str) -> String {
    format!("\n[[chain]]\nid = \"{id}\"\nkind = \"devchain\"\nendpoint = \"{url}\"\npoll_interval_ms = 20\nkey = \"{key}\"\n")
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
    format!(
        "\n[[chain]]\nid = \"{id}\"\nkind = \"evm\"\nendpoint = \"{}\"\npoll_interval_ms = 50\nkey = \"{key}\"\n\
         [chain.evm]\nevm_chain_id = {}\nhtlc_contract = \"{}\"\nconfirmations = {confirmations}\nblock_time_ms = 1000\n\
         [chain.evm.assets]\n{asset} = \"{}\"\n",
        anvil.rpc_url, anvil.evm_chain_id, deployed.htlc, deployed.token
    )
}

/// Every event the relay at `relay` has ingested from `chain`, page by page.
pub async fn relay_events(
    relay: &jsonrpsee::http_client::HttpClient,
    chain: &ChainId,
) -> Result<Vec<causeway_core::ChainEvent>> {
    use causeway_relay::api::RelayApiClient;
    let mut all: Vec<causeway_core::ChainEvent> = Vec::new();
    let mut cursor = causeway_core::Cursor::default();
    loop {
        let page = RelayApiClient::events(relay, chain.clone(), cursor, 1000).await?;
        let Some(last) = page.last() else {
            return Ok(all);
        };
        cursor = last.position.successor();
        all.extend(page);
    }
}
