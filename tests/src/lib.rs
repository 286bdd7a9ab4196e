//! Harness for end-to-end tests: a throwaway directory holding keys, node homes and relay
//! data, and helpers that run the real `causeway` binary.
//!
//! The binary is `$CAUSEWAY_BIN`, else `target/debug/causeway` of this workspace; build it
//! first (`cargo build --bin causeway`; `scripts/test.sh` does).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use causeway_core::{Address, ChainId};
pub use causeway_relay::launch::evm::{evm_table, AnvilProcess, EvmDeployment, ANVIL_DEV_KEYS};
pub use causeway_relay::launch::{devchain_table, DevchainProcess, Process, RelayProcess};

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
        causeway_relay::launch::init_and_start(
            &self.bin,
            self.path(),
            &self.keystore(),
            &chain,
            fund,
        )
        .await
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
    let wrote = match stream.write_all(head.as_bytes()).await {
        Ok(()) => stream.write_all(body).await,
        Err(e) => Err(e),
    };
    // A node may answer an oversized body and close before reading all of it: its answer
    // counts even though the rest of our write then fails (a broken pipe).
    let mut response = Vec::new();
    let read = stream.read_to_end(&mut response).await;
    if response.is_empty() {
        wrote?;
        read?;
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    Ok(text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(text))
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    causeway_relay::launch::free_port().expect("free port")
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
        causeway_relay::launch::evm::deploy_evm(
            &self.bin,
            &self.keystore(),
            &anvil.rpc_url,
            deployer,
            mint,
        )
        .expect("deploy CausewayHTLC and the test token")
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

/// The Python example ledger's chain id in tests.
pub const LEDGER_CHAIN: &str = "pyledger-1";

pub fn example_adapter() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python-ledger/adapter.py")
}

/// A running Python example ledger.
pub struct PythonLedger {
    pub process: Process,
    pub url: String,
    pub port: u16,
}

/// Starts the Python ledger on `port` (0: any) with its database at `dir/ledger.sqlite`.
pub async fn python_ledger(dir: &Path, port: u16, extra: &[&str]) -> PythonLedger {
    std::fs::create_dir_all(dir).unwrap();
    let addr_file = dir.join("addr");
    let _ = std::fs::remove_file(&addr_file);
    let mut cmd = Command::new("python3");
    // -B: no bytecode files written into the source tree.
    cmd.arg("-B")
        .arg(example_adapter())
        .arg("--db")
        .arg(dir.join("ledger.sqlite"))
        .args(["--chain-id", LEDGER_CHAIN, "--block-ms", "50"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--addr-file")
        .arg(&addr_file)
        .args(extra);
    let mut process = Process::spawn("python ledger", cmd, &dir.join("ledger.log")).unwrap();
    let addr = causeway_relay::launch::wait_for_file(&addr_file, &mut process)
        .await
        .unwrap();
    let port = addr.rsplit(':').next().unwrap().parse().unwrap();
    PythonLedger {
        process,
        url: format!("http://{addr}"),
        port,
    }
}
