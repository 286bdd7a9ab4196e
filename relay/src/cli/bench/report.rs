//! What `causeway bench swaps` measured: throughput, latency percentiles, every swap's
//! timings, and each process's cost; written as `report.json` and `latency.svg`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::plot::{latency_svg, Series};
use crate::launch::usage::ProcessUsage;

/// The JSON report's file name inside `--out`.
pub const REPORT_FILE: &str = "report.json";
/// The latency plot's file name inside `--out`.
pub const PLOT_FILE: &str = "latency.svg";
/// Narrowest the table's process column gets.
const NAME_COLUMN_MIN: usize = 16;

#[derive(Serialize, Debug, PartialEq)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Nearest-rank percentiles of `samples` (all zero when there are none).
pub fn percentiles(mut samples: Vec<f64>) -> Percentiles {
    samples.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| {
        if samples.is_empty() {
            return 0.0;
        }
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i.min(samples.len() - 1)]
    };
    Percentiles {
        p50_ms: at(0.50),
        p90_ms: at(0.90),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}

/// One swap's timings, each from the moment its offer was requested.
#[derive(Serialize, Debug, Clone, Copy)]
pub struct SwapSample {
    /// When the offer was requested, from the start of the run.
    pub start_s: f64,
    /// The counterparty's relay accepted the offer.
    pub accepted_ms: f64,
    /// The initiator's relay reported the swap finished.
    pub initiator_ms: f64,
    /// Both relays reported it finished.
    pub both_ms: f64,
}

/// A stage the plot draws: its legend, and how to read it from a sample.
type Stage = (&'static str, fn(&SwapSample) -> f64);

impl SwapSample {
    const STAGES: [Stage; 3] = [
        ("offer accepted", |s| s.accepted_ms),
        ("initiator finished", |s| s.initiator_ms),
        ("both finished", |s| s.both_ms),
    ];
}

#[derive(Serialize)]
pub struct SwapReport {
    pub swaps: usize,
    pub concurrency: usize,
    pub elapsed_s: f64,
    pub swaps_per_s: f64,
    /// From offer request to both relays reporting the swap finished.
    pub latency: Percentiles,
    /// From offer request to the initiator's relay reporting it finished.
    pub initiator_latency: Percentiles,
    /// Every process the run started, measured just before it was stopped.
    pub processes: Vec<ProcessUsage>,
    /// Every swap, in the order they were started.
    pub samples: Vec<SwapSample>,
    /// Where this report and its plot were written.
    pub files: ReportFiles,
}

#[derive(Serialize)]
pub struct ReportFiles {
    pub report: PathBuf,
    pub latency_svg: PathBuf,
}

impl ReportFiles {
    pub fn in_dir(dir: &Path) -> ReportFiles {
        ReportFiles {
            report: dir.join(REPORT_FILE),
            latency_svg: dir.join(PLOT_FILE),
        }
    }
}

impl SwapReport {
    /// Writes `report.json` and `latency.svg` to [`SwapReport::files`].
    pub fn write(&self) -> Result<()> {
        for path in [&self.files.report, &self.files.latency_svg] {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create --out {}", dir.display()))?;
            }
        }
        let write = |path: &Path, text: String| {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        };
        write(&self.files.report, serde_json::to_string_pretty(self)?)?;
        let series: Vec<Series> = SwapSample::STAGES
            .iter()
            .map(|(name, read)| Series {
                name: name.to_string(),
                points: self.samples.iter().map(|s| (s.start_s, read(s))).collect(),
            })
            .collect();
        let title = format!(
            "{} swaps, {} at a time: latency by stage",
            self.swaps, self.concurrency
        );
        write(&self.files.latency_svg, latency_svg(&title, &series)?)
    }

    /// The human table.
    pub fn text(&self) -> String {
        let p = |l: &Percentiles| {
            format!(
                "p50 {:.0} ms  p90 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
                l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
            )
        };
        let mut lines = vec![
            format!(
                "{} swaps in {:.2} s: {:.1} swaps/s",
                self.swaps, self.elapsed_s, self.swaps_per_s
            ),
            format!("latency (offer -> both finished): {}", p(&self.latency)),
            format!(
                "initiator finished:               {}",
                p(&self.initiator_latency)
            ),
        ];
        let width = self
            .processes
            .iter()
            .map(|u| u.name.chars().count())
            .chain([NAME_COLUMN_MIN])
            .max()
            .unwrap_or(NAME_COLUMN_MIN);
        lines.push(format!(
            "{:<width$} {:>11} {:>14}",
            "PROCESS", "CPU s", "PEAK RSS MiB"
        ));
        for u in &self.processes {
            let cell = |v: Option<f64>, decimals: usize| match v {
                Some(v) => format!("{v:.decimals$}"),
                None => "unavailable".into(),
            };
            lines.push(format!(
                "{:<width$} {:>11} {:>14}",
                u.name,
                cell(u.cpu_seconds, 2),
                cell(u.peak_rss_mib, 1)
            ));
            if let Some(why) = &u.unavailable {
                lines.push(format!("  ({why})"));
            }
        }
        lines.push(format!(
            "report: {}\nplot:   {}",
            self.files.report.display(),
            self.files.latency_svg.display()
        ));
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let p = percentiles((1..=100).rev().map(f64::from).collect());
        assert_eq!(
            p,
            Percentiles {
                p50_ms: 51.0,
                p90_ms: 90.0,
                p99_ms: 99.0,
                max_ms: 100.0
            }
        );
        assert_eq!(percentiles(Vec::new()).max_ms, 0.0);
    }

    fn report(dir: &Path) -> SwapReport {
        let sample = |i: u32| SwapSample {
            start_s: f64::from(i) / 10.0,
            accepted_ms: 20.0,
            initiator_ms: 900.0 + f64::from(i),
            both_ms: 1000.0 + f64::from(i),
        };
        SwapReport {
            swaps: 2,
            concurrency: 1,
            elapsed_s: 2.0,
            swaps_per_s: 1.0,
            latency: percentiles(vec![1000.0, 1001.0]),
            initiator_latency: percentiles(vec![900.0, 901.0]),
            processes: vec![
                ProcessUsage {
                    name: "relay alice".into(),
                    pid: Some(7),
                    cpu_seconds: Some(1.5),
                    peak_rss_mib: Some(30.25),
                    unavailable: None,
                },
                ProcessUsage {
                    name: "devchain node a".into(),
                    pid: None,
                    cpu_seconds: None,
                    peak_rss_mib: None,
                    unavailable: Some("the process has already been stopped".into()),
                },
            ],
            samples: vec![sample(0), sample(1)],
            files: ReportFiles::in_dir(dir),
        }
    }

    #[test]
    fn the_table_shows_each_process_or_says_unavailable() {
        let text = report(Path::new("out")).text();
        assert!(text.contains("relay alice"), "{text}");
        assert!(text.contains("1.50") && text.contains("30.2"), "{text}");
        assert!(text.contains("unavailable"), "{text}");
        assert!(text.contains("already been stopped"), "{text}");
        assert!(text.contains(&format!("out/{PLOT_FILE}")), "{text}");
    }

    #[test]
    fn write_puts_the_json_and_the_plot_in_the_out_dir() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("nested/bench-out");
        report(&out).write().expect("write");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(REPORT_FILE)).expect("json"))
                .expect("valid JSON");
        assert_eq!(json["processes"][0]["cpu_seconds"], 1.5);
        assert!(json["processes"][1]["cpu_seconds"].is_null());
        assert_eq!(json["samples"][1]["both_ms"], 1001.0);
        let svg = std::fs::read_to_string(out.join(PLOT_FILE)).expect("svg");
        for (stage, _) in SwapSample::STAGES {
            assert!(svg.contains(stage), "{stage} missing from the plot");
        }
    }
}
