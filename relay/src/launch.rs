//! Starting real `causeway` processes (devchain nodes, relays) on loopback: used by
//! `causeway demo`, the load tool (`causeway bench`) and the end-to-end tests, so all of them
//! exercise the shipped binary.

pub mod committee;
pub mod evm;
pub mod usage;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_adapters::ChainAdapter;
use causeway_core::ChainId;
use causeway_devchain::api::DevchainApiClient;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};

use crate::config::RelayConfig;
use crate::keystore::Keystore;

/// How long a process may take to come up before we call it failed.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests one launched process's client keeps open at once: below the relay API's and the
/// devchain RPC's connection bounds, so a load tool with thousands of tasks queues instead of
/// being refused.
pub const CLIENT_MAX_REQUESTS: usize = 128;

/// Tight but valid safety assumptions for loopback chains (blocks every 200 ms to 1 s,
/// relays polling every 20 to 50 ms), so swap expiries come within seconds.
pub const LOOPBACK_SWAP_POLICY: &str =
    "\n[swap]\nreaction_delay_ms = 1000\nclock_skew_ms = 500\nextra_margin_ms = 500\n";

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

/// Runs `causeway --keystore KEYSTORE <args>` to completion; its stdout, or its stderr as
/// the error.
pub fn run_cli(bin: &Path, keystore: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new(bin)
        .arg("--keystore")
        .arg(keystore)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if !output.status.success() {
        bail!(
            "`causeway {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// [`run_cli`] with `--json`, its output parsed.
pub fn run_cli_json(bin: &Path, keystore: &Path, args: &[&str]) -> Result<serde_json::Value> {
    let text = run_cli(bin, keystore, &[&["--json"][..], args].concat())?;
    serde_json::from_str(&text)
        .with_context(|| format!("`causeway {}` printed no JSON: {text}", args.join(" ")))
}

/// Ports [`free_port`] picks from, when the kernel's ephemeral range starts above them.
const PICKED_PORTS: std::ops::Range<u16> = 20_000..32_000;
/// Random ports [`free_port`] tries before it gives up.
const PORT_TRIES: usize = 1_000;

/// A loopback port that was free a moment ago, for a process to bind later.
///
/// It is picked below the kernel's ephemeral range, which port-0 binds and outgoing
/// connections draw from, so neither can take it before its owner binds it. Regression: a
/// devchain node bound port 0 and was given the committee port a notary member was about to
/// listen on ("Address already in use").
pub fn free_port() -> Result<u16> {
    use rand::Rng;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok());
    let Some(end) = ephemeral_low
        .map(|low| low.min(PICKED_PORTS.end))
        .filter(|end| *end > PICKED_PORTS.start + 1_000)
    else {
        // No room below the ephemeral range (or not Linux): let the kernel pick.
        return Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port());
    };
    let mut rng = rand::thread_rng();
    for _ in 0..PORT_TRIES {
        let port = rng.gen_range(PICKED_PORTS.start..end);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!(
        "no free loopback port in {}..{end} after {PORT_TRIES} tries; free some, or stop other test runs",
        PICKED_PORTS.start
    )
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
    init_devchain_with(bin, home, keystore, chain, fund, &[])
}

/// [`init_devchain`] with more `devchain init` arguments (e.g. `--bridge FILE`).
pub fn init_devchain_with(
    bin: &Path,
    home: &Path,
    keystore: &Path,
    chain: &ChainId,
    fund: &[&str],
    extra: &[&str],
) -> Result<()> {
    let home = home.to_str().with_context(|| {
        format!(
            "devchain home {} is not valid UTF-8; choose another directory",
            home.display()
        )
    })?;
    let mut args = vec!["devchain", "init", "--home", home];
    args.extend(["--chain-id", chain.as_str(), "--rpc-addr", "127.0.0.1:0"]);
    for f in fund {
        args.extend(["--fund", f]);
    }
    args.extend(extra);
    run_cli(bin, keystore, &args)?;
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
            .max_concurrent_requests(CLIENT_MAX_REQUESTS)
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
    /// The config file it was started with.
    pub config: PathBuf,
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
            config: config.to_path_buf(),
        })
    }

    /// An adapter for every chain in its config, signing with the keys the relay uses, so
    /// a demo or tool can act and read balances as this relay's party.
    pub fn adapters(&self) -> Result<BTreeMap<ChainId, Arc<dyn ChainAdapter>>> {
        let config = RelayConfig::load(&self.config)?;
        let keystore = config
            .keystore
            .clone()
            .map(Keystore::open)
            .unwrap_or_else(|| Keystore::open(Keystore::default_dir()));
        config
            .chains
            .iter()
            .map(|c| Ok((c.id.clone(), crate::daemon::build_adapter(c, &keystore)?)))
            .collect()
    }

    /// A client that keeps at most [`CLIENT_MAX_REQUESTS`] requests open at once (the API
    /// refuses connections beyond its own bound with 429), queueing the rest.
    pub fn client(&self) -> HttpClient {
        HttpClientBuilder::default()
            .max_concurrent_requests(CLIENT_MAX_REQUESTS)
            .build(&self.api_url)
            .expect("valid URL")
    }
}

/// Starts a relay for party `who` (its keystore key on every chain) following the devchain
/// nodes `chains`.
pub async fn start_relay(
    bin: &Path,
    dir: &Path,
    keystore: &Path,
    who: &str,
    chains: &[(&ChainId, &str)],
) -> Result<RelayProcess> {
    let tables: String = chains
        .iter()
        .map(|(id, url)| devchain_table(id.as_str(), url, who))
        .collect();
    start_relay_with(bin, dir, keystore, who, &tables).await
}

/// Starts a relay for party `who` in `dir/relay-<who>` following the chains of `tables`
/// (TOML `[[chain]]` tables: [`devchain_table`], [`evm::evm_table`]), with the loopback
/// swap policy.
pub async fn start_relay_with(
    bin: &Path,
    dir: &Path,
    keystore: &Path,
    who: &str,
    tables: &str,
) -> Result<RelayProcess> {
    let relay_dir = dir.join(format!("relay-{who}"));
    std::fs::create_dir_all(&relay_dir)?;
    // The config resolves relative paths against its own directory, not ours.
    let keystore = &std::path::absolute(keystore)?;
    // Debug quoting of a path is a valid TOML basic string.
    let config = format!(
        "data_dir = \"data\"\napi_listen = \"127.0.0.1:0\"\nkeystore = {keystore:?}\n\
         {LOOPBACK_SWAP_POLICY}{tables}"
    );
    let path = relay_dir.join("relay.toml");
    std::fs::write(&path, config)?;
    RelayProcess::start(bin, &path, &relay_dir.join("data"), keystore).await
}

/// The `[[chain]]` table of a devchain node, signing with keystore key `key`.
pub fn devchain_table(id: &str, url: &str, key: &str) -> String {
    format!("\n[[chain]]\nid = \"{id}\"\nkind = \"devchain\"\nendpoint = \"{url}\"\npoll_interval_ms = 20\nkey = \"{key}\"\n")
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

#[cfg(test)]
mod tests {
    use super::*;

    // Regression: a port picked from the ephemeral range was handed to a port-0 bind before
    // the member that was given it could listen on it.
    #[test]
    fn a_picked_port_is_free_and_below_the_ephemeral_range() {
        let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok());
        for _ in 0..20 {
            let port = free_port().unwrap();
            if let Some(low) = low.filter(|low| *low > PICKED_PORTS.start + 1_000) {
                assert!(port < low, "{port} is in the ephemeral range from {low}");
            }
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("the picked port is free");
        }
    }
}
