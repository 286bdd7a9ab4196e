//! Starting real `causeway` processes (devchain nodes, relays) on loopback: used by
//! `causeway demo` and by the end-to-end tests, so both exercise the shipped binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_core::ChainId;
use causeway_devchain::api::DevchainApiClient;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};

/// How long a process may take to come up before we call it failed.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A child process that is killed (SIGKILL) when dropped, so tests never leak nodes.
pub struct Process {
    pub name: String,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Process {
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Process> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open log {}", log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Process {
            name: name.to_string(),
            child: Some(child),
            log: log.to_path_buf(),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait up to `timeout` for a clean exit; returns whether it exited 0.
    pub fn terminate(&mut self, timeout: Duration) -> Result<bool> {
        let Some(mut child) = self.child.take() else {
            return Ok(false);
        };
        // SAFETY: plain FFI call with a pid we own; no memory is shared.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status.success());
            }
            if started.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{} did not stop within {timeout:?} of SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// Waits for `path` to exist with non-empty content, watching that `proc` stays alive.
pub async fn wait_for_file(path: &Path, proc: &mut Process) -> Result<String> {
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.trim().is_empty() {
                return Ok(text.trim().to_string());
            }
        }
        if !proc.is_running() {
            bail!(
                "{} exited during start-up; its log:\n{}",
                proc.name,
                proc.log_text()
            );
        }
        if started.elapsed() > STARTUP_TIMEOUT {
            bail!(
                "{} did not write {} within {STARTUP_TIMEOUT:?}; its log:\n{}",
                proc.name,
                path.display(),
                proc.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `causeway devchain init` for `chain` in `home`, funding `fund` entries
/// (`ACCOUNT=ASSET:AMOUNT,...`), with a free RPC port chosen at each start.
pub fn init_devchain(
    bin: &Path,
    home: &Path,
    keystore: &Path,
    chain: &ChainId,
    fund: &[&str],
) -> Result<()> {
    let mut init = Command::new(bin);
    init.arg("--keystore")
        .arg(keystore)
        .args(["devchain", "init", "--home"])
        .arg(home)
        .args(["--chain-id", chain.as_str(), "--rpc-addr", "127.0.0.1:0"]);
    for f in fund {
        init.args(["--fund", f]);
    }
    let output = init
        .output()
        .context("cannot run `causeway devchain init`")?;
    if !output.status.success() {
        bail!(
            "devchain init failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// A devchain node process and its RPC URL.
pub struct DevchainProcess {
    pub process: Process,
    pub home: PathBuf,
    pub rpc_url: String,
}

impl DevchainProcess {
    /// Starts `causeway devchain start` on an existing home, on a free port unless the home
    /// already fixed one by an earlier start (`port` 0 means any).
    pub async fn start(bin: &Path, home: &Path, port: u16) -> Result<DevchainProcess> {
        let addr_file = home.join("rpc.addr");
        let _ = std::fs::remove_file(&addr_file);
        let mut cmd = Command::new(bin);
        cmd.args(["devchain", "start", "--home"])
            .arg(home)
            .args(["--rpc-addr", &format!("127.0.0.1:{port}")]);
        let mut process = Process::spawn(
            &format!("devchain node {}", home.display()),
            cmd,
            &home.join("node.log"),
        )?;
        let addr = wait_for_file(&addr_file, &mut process).await?;
        let rpc_url = format!("http://{addr}");
        wait_until_serving(&rpc_url, &mut process).await?;
        Ok(DevchainProcess {
            process,
            home: home.to_path_buf(),
            rpc_url,
        })
    }

    /// The port it listens on, to restart on the same one.
    pub fn port(&self) -> u16 {
        self.rpc_url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    pub fn client(&self) -> HttpClient {
        HttpClientBuilder::default()
            .build(&self.rpc_url)
            .expect("valid URL")
    }
}

async fn wait_until_serving(rpc_url: &str, proc: &mut Process) -> Result<()> {
    let client = HttpClientBuilder::default().build(rpc_url)?;
    let started = Instant::now();
    loop {
        if client.chain_info().await.is_ok() {
            return Ok(());
        }
        if !proc.is_running() || started.elapsed() > STARTUP_TIMEOUT {
            bail!(
                "{} is not answering on {rpc_url}; its log:\n{}",
                proc.name,
                proc.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A relay daemon process and its API URL.
pub struct RelayProcess {
    pub process: Process,
    pub api_url: String,
}

impl RelayProcess {
    /// Starts `causeway relay start --config FILE`; `data_dir` must match the config's.
    pub async fn start(
        bin: &Path,
        config: &Path,
        data_dir: &Path,
        keystore: &Path,
    ) -> Result<RelayProcess> {
        std::fs::create_dir_all(data_dir)?;
        let addr_file = data_dir.join("api.addr");
        let _ = std::fs::remove_file(&addr_file);
        let mut cmd = Command::new(bin);
        cmd.arg("--keystore")
            .arg(keystore)
            .args(["relay", "start", "--config"])
            .arg(config);
        let mut process = Process::spawn(
            &format!("relay {}", config.display()),
            cmd,
            &data_dir.join("relay.log"),
        )?;
        let addr = wait_for_file(&addr_file, &mut process).await?;
        Ok(RelayProcess {
            process,
            api_url: format!("http://{addr}"),
        })
    }

    pub fn client(&self) -> HttpClient {
        HttpClientBuilder::default()
            .build(&self.api_url)
            .expect("valid URL")
    }
}

/// Starts a relay for party `who` (its keystore key on every chain) following `chains`.
pub async fn start_relay(
    bin: &Path,
    dir: &Path,
    keystore: &Path,
    who: &str,
    chains: &[(&ChainId, &str)],
) -> Result<RelayProcess> {
    let relay_dir = dir.join(format!("relay-{who}"));
    std::fs::create_dir_all(&relay_dir)?;
    let mut config =
        String::from("data_dir = \"data\"\napi_listen = \"127.0.0.1:0\"\nkeystore = \"../keys\"\n");
    // The demo's chains produce a block every 200 ms and the relays poll every 20 ms.
    config.push_str(
        "\n[swap]\nreaction_delay_ms = 1000\nclock_skew_ms = 500\nextra_margin_ms = 500\n",
    );
    for (id, url) in chains {
        config.push_str(&format!("\n[[chain]]\nid = \"{id}\"\nkind = \"devchain\"\nendpoint = \"{url}\"\nkey = \"{who}\"\npoll_interval_ms = 20\n"));
    }
    let path = relay_dir.join("relay.toml");
    std::fs::write(&path, config)?;
    RelayProcess::start(bin, &path, &relay_dir.join("data"), keystore).await
}

/// `devchain init` + `start` of `chain` in `dir/<chain>`, on a free port.
pub async fn init_and_start(
    bin: &Path,
    dir: &Path,
    keystore: &Path,
    chain: &ChainId,
    fund: &[&str],
) -> Result<DevchainProcess> {
    let home = dir.join(chain.as_str());
    init_devchain(bin, &home, keystore, chain, fund)?;
    DevchainProcess::start(bin, &home, 0).await
}
