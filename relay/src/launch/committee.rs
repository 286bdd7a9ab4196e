//! A notary committee as real processes on loopback, for the load tool and the tests:
//! member keys and the committee file, each member's relay config, the DKG run by every
//! member at once, bridge configs from its group key, and the member relays themselves.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::{run_cli_json, wait_for_file, Process};

/// The passphrase file every local member's key share is encrypted under (loopback only).
const PASSPHRASE_FILE: &str = "notary-pass.txt";
const LOCAL_PASSPHRASE: &str = "local committee passphrase";

/// The directory of member `number` (1-based) under `dir`.
pub fn member_dir(dir: &Path, number: usize) -> PathBuf {
    dir.join(format!("notary-{number}"))
}

/// Creates `n` members' keys (`causeway notary init`), a committee file `committee.toml`
/// with threshold `t`, and the shared passphrase file. Returns the channel ports.
pub fn create_committee(
    bin: &Path,
    keystore: &Path,
    dir: &Path,
    n: usize,
    t: u16,
) -> Result<Vec<u16>> {
    let mut text = format!("name = \"local-committee\"\nthreshold = {t}\n");
    let mut ports = Vec::with_capacity(n);
    for number in 1..=n {
        let port = super::free_port()?;
        ports.push(port);
        let keys = member_dir(dir, number).join("keys");
        let keys = keys.to_str().context("member directory is not UTF-8")?;
        let v = run_cli_json(
            bin,
            keystore,
            &[
                "notary",
                "init",
                "--dir",
                keys,
                "--operator",
                &format!("operator-{number}"),
                "--endpoint",
                &format!("127.0.0.1:{port}"),
            ],
        )?;
        text.push_str(&format!(
            "\n[[members]]\noperator = {}\nidentity_key = {}\nnoise_key = {}\nendpoint = {}\n",
            v["operator"], v["identity_key"], v["noise_key"], v["endpoint"]
        ));
    }
    std::fs::write(dir.join("committee.toml"), text)?;
    std::fs::write(dir.join(PASSPHRASE_FILE), LOCAL_PASSPHRASE)?;
    Ok(ports)
}

/// Writes member `number`'s relay config: its `[notary]` seat (plus `notary_extra`, e.g.
/// batch timing and `[[notary.limit]]` tables) and the `[[chain]]` tables it follows.
pub fn write_member_config(
    dir: &Path,
    keystore: &Path,
    number: usize,
    notary_extra: &str,
    chains: &str,
) -> Result<PathBuf> {
    let member = member_dir(dir, number);
    std::fs::create_dir_all(&member)?;
    let text = format!(
        "data_dir = \"data\"\napi_listen = \"127.0.0.1:0\"\nkeystore = {keystore:?}\n\n\
         [notary]\ncommittee = \"../committee.toml\"\nmember = {number}\nkey_dir = \"keys\"\n\
         passphrase_file = \"../{PASSPHRASE_FILE}\"\n{notary_extra}\n{chains}"
    );
    let path = member.join("relay.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Every member runs `causeway notary dkg` at once; checks they agree and returns each
/// member's summary. `extra` goes to every member's command (e.g. `--epoch 2`).
pub fn run_dkg(
    bin: &Path,
    keystore: &Path,
    dir: &Path,
    n: usize,
    extra: &[&str],
) -> Result<Vec<Value>> {
    let children = (1..=n)
        .map(|number| {
            let member = member_dir(dir, number);
            Command::new(bin)
                .current_dir(&member)
                .arg("--keystore")
                .arg(keystore)
                .args([
                    "--json",
                    "notary",
                    "dkg",
                    "--timeout-secs",
                    "60",
                    "--config",
                ])
                .arg(member.join("relay.toml"))
                .args(extra)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .context("cannot start `causeway notary dkg`")
        })
        .collect::<Result<Vec<_>>>()?;
    let mut summaries = Vec::with_capacity(n);
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "member {} DKG failed: {}",
                i + 1,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        summaries.push(serde_json::from_slice::<Value>(&out.stdout)?);
    }
    for s in &summaries {
        if s["group_key"] != summaries[0]["group_key"]
            || s["transcript_hash"] != summaries[0]["transcript_hash"]
        {
            bail!("members disagree on the group key or transcript: {summaries:?}");
        }
    }
    Ok(summaries)
}

/// A devchain `--bridge` file (specs/devchain.md §13.1) trusting the DKG's group key.
pub fn write_bridge_config(
    path: &Path,
    dkg: &Value,
    routes: &Value,
    wrapped: &Value,
) -> Result<()> {
    let config = serde_json::json!({
        "committee_id": dkg["committee_id"],
        "group_key": dkg["group_key"],
        "key_epoch": dkg["key_epoch"],
        "routes": routes,
        "wrapped": wrapped,
    });
    std::fs::write(path, serde_json::to_string_pretty(&config)?)?;
    Ok(())
}

/// A running committee member: its relay process and API URL.
pub struct MemberProcess {
    pub process: Process,
    pub api_url: String,
}

impl MemberProcess {
    pub fn client(&self) -> jsonrpsee::http_client::HttpClient {
        jsonrpsee::http_client::HttpClientBuilder::default()
            .build(&self.api_url)
            .expect("a loopback URL is valid")
    }
}

/// Starts member `number`'s relay with `env` set; returns once its API is up.
pub async fn start_member(
    bin: &Path,
    keystore: &Path,
    dir: &Path,
    number: usize,
    env: &[(&str, &str)],
) -> Result<MemberProcess> {
    let member = member_dir(dir, number);
    let data = member.join("data");
    std::fs::create_dir_all(&data)?;
    let _ = std::fs::remove_file(data.join("api.addr"));
    let mut cmd = Command::new(bin);
    cmd.arg("--keystore")
        .arg(keystore)
        .args(["relay", "start", "--config"])
        .arg(member.join("relay.toml"))
        .envs(env.iter().copied());
    let mut process = Process::spawn(
        &format!("notary member {number}"),
        cmd,
        &data.join("relay.log"),
    )?;
    let addr = wait_for_file(&data.join("api.addr"), &mut process).await?;
    Ok(MemberProcess {
        process,
        api_url: format!("http://{addr}"),
    })
}

/// A member's `[notary]` extras for a local committee: batches every `batch_blocks` source
/// blocks of at most `max_batch` transfers (the relay's default if `None`), short attempts
/// and fallbacks, and a `[[notary.limit]]` of `ceiling` per (source, destination, asset)
/// route.
pub fn local_settings(
    batch_blocks: u64,
    max_batch: Option<u32>,
    ceiling: u128,
    routes: &[(&str, &str, &str)],
) -> String {
    let mut text =
        format!("batch_blocks = {batch_blocks}\nattempt_timeout_ms = 1500\nfallback_ms = 600\n");
    if let Some(max_batch) = max_batch {
        text.push_str(&format!("max_batch = {max_batch}\n"));
    }
    for (source, dest, asset) in routes {
        text.push_str(&format!(
            "\n[[notary.limit]]\nsource_chain = \"{source}\"\ndest_chain = \"{dest}\"\nasset = \"{asset}\"\n\
             ceiling = \"{ceiling}\"\nwindow_ms = 3600000\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RelayConfig;

    fn notary_of(extra: &str) -> crate::notary::config::NotaryConfig {
        let text = format!(
            "data_dir = \"data\"\napi_listen = \"127.0.0.1:0\"\n\n[notary]\n\
             committee = \"c.toml\"\nmember = 1\nkey_dir = \"keys\"\n{extra}\n\
             [[chain]]\nid = \"a\"\nkind = \"devchain\"\nendpoint = \"http://127.0.0.1:1\"\n"
        );
        RelayConfig::parse(&text).unwrap().notary.unwrap()
    }

    // `bench transfers --max-batch` reaches the members' notary.max_batch, and the limit
    // tables that follow still parse as limits.
    #[test]
    fn local_settings_carry_max_batch_and_every_route_limit() {
        let routes = [("a", "b", "USD"), ("b", "a", "WUSD")];
        let set = notary_of(&local_settings(3, Some(7), 500, &routes));
        assert_eq!((set.batch_blocks, set.max_batch), (3, 7));
        assert_eq!(set.limits.len(), 2);
        let default = notary_of(&local_settings(3, None, 500, &routes));
        assert_eq!(default.max_batch, notary_of("").max_batch);
    }
}
