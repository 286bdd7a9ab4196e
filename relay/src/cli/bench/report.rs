//! What a `causeway bench` run measured: throughput, latency percentiles per stage, every
//! operation's timings, and each process's cost; written as `report.json` and `latency.svg`.

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
/// Non-finite samples (a stage never seen) are left out.
pub fn percentiles(mut samples: Vec<f64>) -> Percentiles {
    samples.retain(|s| s.is_finite());
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

/// One operation's timings: when it started, and how long after that each stage was reached.
#[derive(Serialize, Debug, Clone)]
pub struct Sample {
    /// When the operation started, from the start of the run.
    pub start_s: f64,
    /// Milliseconds from its start to each stage, in the report's stage order.
    pub stages_ms: Vec<f64>,
}

/// One stage's latency over every operation.
#[derive(Serialize, Debug, PartialEq)]
pub struct StageLatency {
    pub stage: String,
    #[serde(flatten)]
    pub latency: Percentiles,
}

#[derive(Serialize)]
pub struct LoadReport {
    /// What was driven: `swaps` or `transfers`.
    pub what: String,
    pub count: usize,
    pub concurrency: usize,
    pub elapsed_s: f64,
    /// Completed operations per second over the whole run.
    pub per_s: f64,
    /// Percentiles per stage, from each operation's start; the last stage is completion.
    pub stages: Vec<StageLatency>,
    /// Durations the processes measured themselves (not from an operation's start), such
    /// as a relay's reaction time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub measured: Vec<StageLatency>,
    /// The `--rate` cap on starts per second, if the run had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<f64>,
    /// The processes while every operation was in flight, if the run held them there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<InFlight>,
    /// Every process the run started, measured just before it was stopped.
    pub processes: Vec<ProcessUsage>,
    /// Every operation, in the order they were started.
    pub samples: Vec<Sample>,
    /// Where this report and its plot were written.
    pub files: ReportFiles,
}

impl LoadReport {
    pub fn new(
        what: &str,
        stage_names: &[&str],
        concurrency: usize,
        elapsed_s: f64,
        samples: Vec<Sample>,
        processes: Vec<ProcessUsage>,
        out: &Path,
    ) -> LoadReport {
        let stages = stage_names
            .iter()
            .enumerate()
            .map(|(i, name)| StageLatency {
                stage: name.to_string(),
                latency: percentiles(
                    samples
                        .iter()
                        .filter_map(|s| s.stages_ms.get(i).copied())
                        .collect(),
                ),
            })
            .collect();
        LoadReport {
            what: what.to_string(),
            count: samples.len(),
            concurrency,
            elapsed_s,
            per_s: samples.len() as f64 / elapsed_s.max(f64::EPSILON),
            stages,
            measured: Vec::new(),
            rate_per_s: None,
            in_flight: None,
            processes,
            samples,
            files: ReportFiles::in_dir(out),
        }
    }

    /// Adds a duration the processes measured, as percentiles over `samples_ms`.
    pub fn with_measured(mut self, name: &str, samples_ms: Vec<f64>) -> LoadReport {
        self.measured.push(StageLatency {
            stage: name.to_string(),
            latency: percentiles(samples_ms),
        });
        self
    }
}

/// A moment at which every operation of the run was in flight at once (started, none
/// finished), and what each process had used by then.
#[derive(Serialize, Debug, Clone)]
pub struct InFlight {
    pub operations: usize,
    /// How the run held them (for example: the destination chain was down).
    pub how: String,
    pub processes: Vec<ProcessUsage>,
}

impl InFlight {
    /// A header naming what was held and how, then the process table.
    pub fn text(&self, what: &str) -> String {
        let mut lines = vec![format!(
            "with all {} {what} in flight ({}):",
            self.operations, self.how
        )];
        lines.extend(process_table(&self.processes, self.operations));
        lines.join("\n")
    }
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

impl LoadReport {
    /// Writes `report.json` and `latency.svg` to [`LoadReport::files`].
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
        let series: Vec<Series> = self
            .stages
            .iter()
            .enumerate()
            .map(|(i, stage)| Series {
                name: stage.stage.clone(),
                points: self
                    .samples
                    .iter()
                    .filter_map(|s| Some((s.start_s, *s.stages_ms.get(i)?)))
                    .collect(),
            })
            .collect();
        let title = format!(
            "{} {}, {} at a time: latency by stage",
            self.count, self.what, self.concurrency
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
        let mut lines = vec![format!(
            "{} {} in {:.2} s: {:.1} {}/s{}",
            self.count,
            self.what,
            self.elapsed_s,
            self.per_s,
            self.what,
            self.rate_per_s
                .map(|r| format!(" (started at most {r}/s)"))
                .unwrap_or_default()
        )];
        let label = self.stages.iter().map(|s| s.stage.len()).max().unwrap_or(0);
        for s in &self.stages {
            lines.push(format!("{:<label$}  {}", s.stage, p(&s.latency)));
        }
        for s in &self.measured {
            lines.push(format!(
                "{} (measured by the relays): {}",
                s.stage,
                p(&s.latency)
            ));
        }
        if let Some(held) = &self.in_flight {
            lines.push(held.text(&self.what));
            lines.push("at the end:".into());
        }
        lines.extend(process_table(&self.processes, self.count));
        lines.push(format!(
            "report: {}\nplot:   {}",
            self.files.report.display(),
            self.files.latency_svg.display()
        ));
        lines.join("\n")
    }
}

/// Each process's CPU time and peak memory, one line each under a header; with the CPU it
/// spent under load, when measured, and that per operation (`count` of them).
fn process_table(processes: &[ProcessUsage], count: usize) -> Vec<String> {
    let width = processes
        .iter()
        .map(|u| u.name.chars().count())
        .chain([NAME_COLUMN_MIN])
        .max()
        .unwrap_or(NAME_COLUMN_MIN);
    let under_load = processes.iter().any(|u| u.load_cpu_seconds.is_some());
    let mut header = format!(
        "{:<width$} {:>11} {:>14}",
        "PROCESS", "CPU s", "PEAK RSS MiB"
    );
    if under_load {
        header.push_str(&format!(" {:>13} {:>14}", "LOAD CPU s", "CPU µs/OP"));
    }
    let mut lines = vec![header];
    for u in processes {
        let cell = |v: Option<f64>, decimals: usize| match v {
            Some(v) => format!("{v:.decimals$}"),
            None => "unavailable".into(),
        };
        let mut line = format!(
            "{:<width$} {:>11} {:>14}",
            u.name,
            cell(u.cpu_seconds, 2),
            cell(u.peak_rss_mib, 1)
        );
        if under_load {
            let per_op = u.load_cpu_seconds.map(|s| s * 1e6 / count.max(1) as f64);
            line.push_str(&format!(
                " {:>13} {:>14}",
                cell(u.load_cpu_seconds, 2),
                cell(per_op, 0)
            ));
        }
        lines.push(line);
        if let Some(why) = &u.unavailable {
            lines.push(format!("  ({why})"));
        }
    }
    lines
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

    const STAGES: [&str; 3] = ["offer accepted", "initiator finished", "both finished"];

    fn report(dir: &Path) -> LoadReport {
        let sample = |i: u32| Sample {
            start_s: f64::from(i) / 10.0,
            stages_ms: vec![20.0, 900.0 + f64::from(i), 1000.0 + f64::from(i)],
        };
        LoadReport::new(
            "swaps",
            &STAGES,
            1,
            2.0,
            vec![sample(0), sample(1)],
            vec![
                ProcessUsage {
                    name: "relay alice".into(),
                    pid: Some(7),
                    cpu_seconds: Some(1.5),
                    peak_rss_mib: Some(30.25),
                    load_cpu_seconds: Some(1.25),
                    unavailable: None,
                },
                ProcessUsage {
                    name: "devchain node a".into(),
                    pid: None,
                    cpu_seconds: None,
                    peak_rss_mib: None,
                    load_cpu_seconds: None,
                    unavailable: Some("the process has already been stopped".into()),
                },
            ],
            dir,
        )
    }

    #[test]
    fn the_table_shows_each_process_or_says_unavailable() {
        let text = report(Path::new("out")).text();
        assert!(text.contains("relay alice"), "{text}");
        assert!(text.contains("1.50") && text.contains("30.2"), "{text}");
        // 1.25 CPU s under load over the report's 2 operations.
        assert!(
            text.contains("LOAD CPU s") && text.contains("625000"),
            "{text}"
        );
        assert!(text.contains("unavailable"), "{text}");
        assert!(text.contains("already been stopped"), "{text}");
        assert!(text.contains(&format!("out/{PLOT_FILE}")), "{text}");
    }

    #[test]
    fn measured_durations_are_reported_beside_the_stages() {
        let report = report(Path::new("out")).with_measured("reaction", vec![3.0, 5.0, 4.0]);
        assert_eq!(report.measured[0].latency.p50_ms, 4.0);
        assert!(report
            .text()
            .contains("reaction (measured by the relays): p50 4 ms"));
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
        assert_eq!(json["processes"][0]["load_cpu_seconds"], 1.25);
        assert!(json["processes"][1]["cpu_seconds"].is_null());
        assert_eq!(json["samples"][1]["stages_ms"][2], 1001.0);
        assert_eq!(json["stages"][2]["p50_ms"], 1001.0);
        let svg = std::fs::read_to_string(out.join(PLOT_FILE)).expect("svg");
        for stage in STAGES {
            assert!(svg.contains(stage), "{stage} missing from the plot");
        }
    }

    #[test]
    fn a_held_run_shows_the_processes_with_everything_in_flight_and_its_rate() {
        let mut report = report(Path::new("out"));
        report.rate_per_s = Some(250.0);
        report.in_flight = Some(InFlight {
            operations: 2,
            how: "the destination chain was down".into(),
            processes: report.processes.clone(),
        });
        let text = report.text();
        assert!(text.contains("(started at most 250/s)"), "{text}");
        assert!(
            text.contains("with all 2 swaps in flight (the destination chain was down):"),
            "{text}"
        );
        assert_eq!(text.matches("PROCESS").count(), 2, "{text}");
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["in_flight"]["operations"], 2);
        assert_eq!(json["rate_per_s"], 250.0);
    }
}
