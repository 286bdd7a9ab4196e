//! The demo's notary committee: three relay processes holding a 2-of-3 FROST key made by
//! their own DKG, and one transfer through it, shown step by step.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::Value;

use super::{Timeline, Workdir};
use crate::keystore::Keystore;
use crate::launch::committee::{self, MemberProcess};
use crate::launch::{run_cli_json, Process};

pub(super) const MEMBERS: usize = 3;
const THRESHOLD: u16 = 2;

/// Creates the members' keys and configs (`chains(member_number)` gives each one's
/// `[[chain]]` tables) and runs their DKG. Returns the DKG summary (committee id, group key).
pub(super) fn keys_and_dkg(
    t: &mut Timeline,
    w: &Workdir,
    routes: &[(&str, &str, &str)],
    chains: impl Fn(usize) -> Result<String>,
) -> Result<Value> {
    let dir = committee_dir(w);
    std::fs::create_dir_all(&dir)?;
    committee::create_committee(&w.bin, &w.keys, &dir, MEMBERS, THRESHOLD)?;
    let settings = committee::local_settings(1, None, 1_000_000_000, routes);
    for number in 1..=MEMBERS {
        committee::write_member_config(&dir, &w.keys, number, &settings, &chains(number)?)?;
    }
    let dkg = committee::run_dkg(&w.bin, &w.keys, &dir, MEMBERS, &[])?;
    t.step(format!(
        "notary committee: {MEMBERS} members ran their DKG over Noise channels; {THRESHOLD}-of-{MEMBERS} group key {}",
        super::short(dkg[0]["group_key"].as_str().unwrap_or_default())
    ));
    Ok(dkg.into_iter().next().unwrap_or_default())
}

/// Rewrites the members' chain tables (e.g. once a bridge contract is deployed).
pub(super) fn rewrite_chains(
    w: &Workdir,
    routes: &[(&str, &str, &str)],
    chains: impl Fn(usize) -> Result<String>,
) -> Result<()> {
    let settings = committee::local_settings(1, None, 1_000_000_000, routes);
    for number in 1..=MEMBERS {
        committee::write_member_config(
            &committee_dir(w),
            &w.keys,
            number,
            &settings,
            &chains(number)?,
        )?;
    }
    Ok(())
}

/// Each member's devchain account: `member-<n>`, created in the demo keystore.
pub(super) fn member_key(w: &Workdir, number: usize) -> Result<String> {
    let name = format!("member-{number}");
    let keystore = Keystore::open(&w.keys);
    if keystore.load(&name).is_err() {
        keystore.create(&name)?;
    }
    Ok(name)
}

pub(super) async fn start(t: &mut Timeline, w: &Workdir) -> Result<Vec<MemberProcess>> {
    let mut members = Vec::with_capacity(MEMBERS);
    for number in 1..=MEMBERS {
        members
            .push(committee::start_member(&w.bin, &w.keys, &committee_dir(w), number, &[]).await?);
    }
    t.step(format!(
        "{MEMBERS} notary relays up, each following both chains on its own connection"
    ));
    Ok(members)
}

/// `causeway transfer` from `from` to `to`, its steps added to the timeline.
pub(super) fn transfer(
    t: &mut Timeline,
    w: &Workdir,
    members: &[MemberProcess],
    args: &[&str],
) -> Result<()> {
    let chains = committee::member_dir(&committee_dir(w), 1).join("relay.toml");
    let chains = chains.to_str().context("demo directory is not UTF-8")?;
    let mut all = vec!["transfer", "--chains", chains, "--timeout-secs", "120"];
    all.extend_from_slice(args);
    for m in members {
        all.extend(["--relay", m.api_url.as_str()]);
    }
    let out = run_cli_json(&w.bin, &w.keys, &all)?;
    for step in out["steps"].as_array().into_iter().flatten() {
        t.step(format!(
            "notary transfer {}: {} (+{} ms)",
            step["stage"].as_str().unwrap_or_default(),
            step["detail"].as_str().unwrap_or_default(),
            step["at_ms"]
        ));
    }
    Ok(())
}

pub(super) fn processes(members: Vec<MemberProcess>) -> Vec<Process> {
    members.into_iter().map(|m| m.process).collect()
}

fn committee_dir(w: &Workdir) -> PathBuf {
    w.dir.join("committee")
}
