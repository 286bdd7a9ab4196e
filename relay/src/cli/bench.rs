//! `causeway bench`: a load tool that starts real processes on loopback (devchain nodes,
//! a relay per party, a t-of-n committee of relays) and drives swaps, notary transfers, or
//! both at once through them, at a chosen concurrency and rate, reporting throughput and
//! latency percentiles per stage, and each process's CPU time and peak memory; it writes
//! the report as JSON and a latency plot (SVG) to `--out`.

mod finality;
mod mix;
mod plot;
mod report;
mod swap_feed;
mod swaps;
mod transfers;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use super::Output;
use crate::launch::usage::ProcessUsage;
use crate::launch::Process;
use report::{InFlight, LoadReport, Sample};

/// Coarse enough not to load the relays it measures; it is the latency's resolution.
const STATUS_POLL: Duration = Duration::from_millis(50);
/// Status requests per second the load tool allows itself per relay: with many swaps in
/// flight each polls less often (see [`status_poll`]).
const STATUS_REQUESTS_PER_S: f64 = 2_000.0;
/// How long each process gets to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Fastest `--rate` accepted: a rate is a cap, and this is far above what 2 cores reach.
const MAX_RATE_PER_S: f64 = 1_000_000.0;
/// Slowest `--rate` accepted (one start every 100 s): its interval must be a `Duration`.
const MIN_RATE_PER_S: f64 = 0.01;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Complete N atomic swaps between two devchains, C at a time, through two relays.
    Swaps(swaps::SwapBenchArgs),
    /// Move N notary transfers between two devchains through a t-of-n committee of relay
    /// processes, from C sending accounts.
    Transfers(transfers::TransferBenchArgs),
    /// Both at once on the same two devchains: N notary transfers through a committee and M
    /// swaps through two party relays, each at its own concurrency and rate.
    Mix(mix::MixBenchArgs),
}

pub async fn run(cmd: BenchCommand, out: Output) -> Result<()> {
    match cmd {
        BenchCommand::Swaps(args) => swaps::run(args, out).await,
        BenchCommand::Transfers(args) => transfers::run(args, out).await,
        BenchCommand::Mix(args) => mix::run(args, out).await,
    }
}

/// Spaces operation starts at least `1/rate` apart across every task sharing it. A start
/// that is late (the system is saturated) is not made up for by a burst.
pub struct Pacer {
    interval: Option<Duration>,
    next: Mutex<tokio::time::Instant>,
}

impl Pacer {
    pub fn new(rate_per_s: Option<f64>) -> Arc<Pacer> {
        Arc::new(Pacer {
            interval: rate_per_s.map(|r| Duration::from_secs_f64(1.0 / r)),
            next: Mutex::new(tokio::time::Instant::now()),
        })
    }

    /// Waits for this start's turn.
    pub async fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let at = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let at = (*next).max(tokio::time::Instant::now());
            *next = at + interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// `flag`'s value, if given, is a rate [`Pacer`] can space starts by.
fn check_rate(flag: &str, rate: Option<f64>) -> Result<()> {
    match rate {
        Some(r) if !(MIN_RATE_PER_S..=MAX_RATE_PER_S).contains(&r) => {
            bail!("{flag} must be {MIN_RATE_PER_S} to {MAX_RATE_PER_S} starts per second (leave it out for no limit)")
        }
        _ => Ok(()),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// How often each in-flight swap polls its status: [`STATUS_POLL`], or less often when that
/// would exceed [`STATUS_REQUESTS_PER_S`] per relay.
fn status_poll(concurrency: usize) -> Duration {
    STATUS_POLL.max(Duration::from_secs_f64(
        concurrency as f64 / STATUS_REQUESTS_PER_S,
    ))
}

/// What a finished load run reports.
struct Run<'a> {
    what: &'a str,
    stages: &'a [&'a str],
    concurrency: usize,
    /// The `--rate` cap on starts per second, if one was set.
    rate: Option<f64>,
    elapsed_s: f64,
    out_dir: &'a std::path::Path,
    work_dir: &'a std::path::Path,
    /// Durations the processes measured, by name.
    measured: Vec<(&'a str, Vec<f64>)>,
    /// What the processes used while every operation was in flight, if the run held them.
    in_flight: Option<InFlight>,
    /// CPU seconds each process (by label) spent while the operations were under way.
    load_cpu: BTreeMap<String, f64>,
}

impl Run<'_> {
    /// Stops and measures the processes, writes and prints the report, removes the work dir.
    fn finish(
        self,
        samples: Vec<Sample>,
        processes: Vec<(String, Process)>,
        out: Output,
    ) -> Result<()> {
        let mut processes = stop_measured(processes)?;
        for u in &mut processes {
            u.load_cpu_seconds = self.load_cpu.get(&u.name).copied();
        }
        let report = self.report(samples, processes);
        report.write()?;
        out.print(&report, || report.text());
        let _ = std::fs::remove_dir_all(self.work_dir);
        Ok(())
    }

    fn report(&self, samples: Vec<Sample>, processes: Vec<ProcessUsage>) -> LoadReport {
        let mut report = self.measured.iter().fold(
            LoadReport::new(
                self.what,
                self.stages,
                self.concurrency,
                self.elapsed_s,
                samples,
                processes,
                self.out_dir,
            ),
            |report, (name, samples)| report.with_measured(name, samples.clone()),
        );
        report.rate_per_s = self.rate;
        report.in_flight = self.in_flight.clone();
        report
    }
}

/// The run's working directory: `dir` wiped, or a fresh temporary one.
fn work_dir(dir: Option<&std::path::Path>, what: &str) -> Result<PathBuf> {
    let dir = match dir {
        Some(d) => {
            let _ = std::fs::remove_dir_all(d);
            d.to_path_buf()
        }
        None => std::env::temp_dir().join(format!("causeway-bench-{what}-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create work directory {}", dir.display()))?;
    Ok(dir)
}

/// Each process's usage so far, under its label.
fn usage_of<'a>(processes: impl IntoIterator<Item = (String, &'a Process)>) -> Vec<ProcessUsage> {
    processes
        .into_iter()
        .map(|(name, p)| ProcessUsage { name, ..p.usage() })
        .collect()
}

/// The CPU seconds each process spent between two readings (matched by label). A process
/// not running at the first reading (stopped and started again, as the destination node of
/// `--destination-down`) spent all of its CPU in between.
fn cpu_between(before: &[ProcessUsage], after: &[ProcessUsage]) -> BTreeMap<String, f64> {
    after
        .iter()
        .filter_map(|a| {
            let since = before
                .iter()
                .find(|b| b.name == a.name && b.pid == a.pid)
                .and_then(|b| b.cpu_seconds)
                .unwrap_or(0.0);
            Some((a.name.clone(), (a.cpu_seconds? - since).max(0.0)))
        })
        .collect()
}

/// Each process's usage under its label, read just before SIGTERM (its /proc entry goes
/// when it exits).
fn stop_measured(
    processes: impl IntoIterator<Item = (String, Process)>,
) -> Result<Vec<ProcessUsage>> {
    processes
        .into_iter()
        .map(|(label, mut p)| {
            let usage = ProcessUsage {
                name: label,
                ..p.usage()
            };
            p.terminate(STOP_TIMEOUT)?;
            Ok(usage)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(name: &str, pid: Option<u32>, cpu: Option<f64>) -> ProcessUsage {
        ProcessUsage {
            name: name.into(),
            pid,
            cpu_seconds: cpu,
            peak_rss_mib: None,
            load_cpu_seconds: None,
            unavailable: None,
        }
    }

    #[test]
    fn cpu_under_load_is_the_difference_or_all_of_a_process_started_in_between() {
        let before = [used("member", Some(1), Some(2.0)), used("node", None, None)];
        let after = [
            used("member", Some(1), Some(5.5)),
            used("node", Some(9), Some(1.25)),
            used("gone", None, None),
        ];
        let spent = cpu_between(&before, &after);
        assert_eq!(spent.get("member"), Some(&3.5));
        assert_eq!(spent.get("node"), Some(&1.25), "restarted: all of its CPU");
        assert_eq!(spent.get("gone"), None, "unmeasured");
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_spaces_starts_and_a_late_start_is_not_made_up_with_a_burst() {
        let pacer = Pacer::new(Some(100.0));
        let t0 = tokio::time::Instant::now();
        for _ in 0..5 {
            pacer.wait().await;
        }
        assert_eq!(t0.elapsed(), Duration::from_millis(40));
        // The caller falls behind by half a second: the next starts are still 10 ms apart.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let late = tokio::time::Instant::now();
        pacer.wait().await;
        pacer.wait().await;
        assert_eq!(late.elapsed(), Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn no_rate_never_waits() {
        let pacer = Pacer::new(None);
        let t0 = tokio::time::Instant::now();
        for _ in 0..1_000 {
            pacer.wait().await;
        }
        assert_eq!(t0.elapsed(), Duration::ZERO);
    }

    #[test]
    fn a_rate_outside_the_bounds_is_refused_naming_its_flag() {
        // Regression: 1e-300 passed the check and then panicked in Duration::from_secs_f64.
        for bad in [0.0, -1.0, 1e-300, f64::NAN, f64::INFINITY, 2e6] {
            let err = check_rate("--swap-rate", Some(bad))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("--swap-rate must be"), "{err}");
            assert!(err.contains("leave it out for no limit"), "{err}");
        }
        for good in [MIN_RATE_PER_S, 250.0, MAX_RATE_PER_S] {
            assert!(check_rate("--rate", Some(good)).is_ok());
            Pacer::new(Some(good));
        }
        assert!(check_rate("--rate", None).is_ok());
    }
}
