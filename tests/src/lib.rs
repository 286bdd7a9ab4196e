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
