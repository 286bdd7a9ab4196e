//! The tools around the relay, through the real binary: `causeway demo` and the load tool
//! `causeway bench swaps|transfers|mix` (report, latency plot and per-process usage).

use std::path::PathBuf;

use causeway_e2e::Net;

/// `causeway --json bench ARGS` with `--out` and `--dir` under the test's directory: the
/// printed report, and where it wrote report.json and latency.svg.
fn bench(net: &Net, args: &[&str]) -> (serde_json::Value, PathBuf) {
    let (argv, out) = bench_argv(net, args);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    (net.cli_ok(&argv).json(), out)
}

/// The arguments of `causeway --json bench ARGS` with `--out` and `--dir` under the test's
/// directory, and the `--out` directory.
fn bench_argv(net: &Net, args: &[&str]) -> (Vec<String>, PathBuf) {
    let out = net.path().join("bench-out");
    let work = net.path().join("work");
    let dirs = [
        "--out",
        out.to_str().expect("utf-8 path"),
        "--dir",
        work.to_str().expect("utf-8 path"),
    ];
    let argv = ["--json", "bench"]
        .iter()
        .chain(args)
        .chain(&dirs)
        .map(|a| a.to_string())
        .collect();
    (argv, out)
}

/// `bench COMMAND` run small enough for a test (6 transfers from 2 senders through a
/// 2-of-3 committee), then `extra`.
fn small_committee<'a>(command: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let small = [
        "--transfers",
        "6",
        "--concurrency",
        "2",
        "--members",
        "3",
        "--threshold",
        "2",
    ];
    [command]
        .into_iter()
        .chain(small)
        .chain(extra.iter().copied())
        .collect()
}

// README "Tests and benchmarks": the load tool reports every process it started and writes
// report.json and latency.svg to --out.
#[test]
fn bench_swaps_writes_a_report_with_process_usage_and_a_latency_plot() {
    let net = Net::new();
    let (printed, out) = bench(&net, &["swaps", "--swaps", "3", "--concurrency", "2"]);
    let written: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json")).expect("report.json is written"),
    )
    .expect("report.json is JSON");
    assert_eq!(printed, written);
    assert_eq!(
        (written["what"].as_str(), written["count"].as_u64()),
        (Some("swaps"), Some(3))
    );
    assert_eq!(written["samples"].as_array().map(Vec::len), Some(3));
    // specs/htlc.md §8.1, reaction time: measured by bob's relay, shorter than a whole swap.
    let reaction = &written["measured"][0];
    assert!(
        reaction["stage"]
            .as_str()
            .is_some_and(|s| s.contains("claim")),
        "{reaction}"
    );
    let whole = written["stages"][2]["max_ms"].as_f64().expect("stages");
    assert!(
        reaction["max_ms"]
            .as_f64()
            .is_some_and(|r| r > 0.0 && r < whole),
        "{reaction} vs a whole swap's {whole} ms"
    );

    let processes = written["processes"].as_array().expect("processes");
    assert_eq!(
        processes.len(),
        4,
        "2 devchain nodes and 2 relays: {processes:#?}"
    );
    for (kind, count) in [("relay", 2), ("devchain node", 2)] {
        let named = processes
            .iter()
            .filter(|p| p["name"].as_str().unwrap_or("").starts_with(kind))
            .count();
        assert_eq!(named, count, "{kind}: {processes:#?}");
    }
    for p in processes {
        if cfg!(target_os = "linux") {
            assert!(p["cpu_seconds"].as_f64().is_some_and(|s| s >= 0.0), "{p}");
            assert!(p["peak_rss_mib"].as_f64().is_some_and(|m| m > 0.0), "{p}");
            // Under load is a part of the whole run: without start-up and read-back.
            let under_load = p["load_cpu_seconds"].as_f64().expect("measured under load");
            assert!(under_load <= p["cpu_seconds"].as_f64().unwrap(), "{p}");
        } else {
            assert!(p["unavailable"].is_string(), "{p}");
        }
    }

    let svg = std::fs::read_to_string(out.join("latency.svg")).expect("latency.svg is written");
    assert!(svg.trim_start().starts_with("<svg"), "not SVG: {svg:.200}");
    assert!(svg.trim_end().ends_with("</svg>"));
    for stage in ["offer accepted", "initiator finished", "both finished"] {
        assert!(svg.contains(stage), "the plot has no {stage:?} series");
    }
    // One dot per swap per stage, plus a legend dot per stage.
    assert_eq!(svg.matches("<circle").count(), 3 * 3 + 3);
}

// README "Tests and benchmarks": notary transfers through a committee of relay processes,
// every transfer timed at each stage and every process measured, here held in flight by
// a stopped destination (`--destination-down`) and paced (`--rate`).
#[test]
fn bench_transfers_times_each_stage_and_measures_the_processes_while_all_are_in_flight() {
    let net = Net::new();
    let (report, out) = bench(
        &net,
        &[
            "transfers",
            "--transfers",
            "6",
            "--concurrency",
            "2",
            "--rate",
            "50",
            "--members",
            "3",
            "--threshold",
            "2",
            "--destination-down",
        ],
    );
    assert_eq!(
        (report["what"].as_str(), report["count"].as_u64()),
        (Some("transfers"), Some(6))
    );
    assert_eq!(report["rate_per_s"].as_f64(), Some(50.0), "{report}");
    assert_transfer_stages(&report, 3);
    // CPU under load (first lock to last release) excludes start-up and the read-back of
    // every transfer from every member; the destination node, restarted during the run,
    // is under load for all of its life.
    for p in report["processes"].as_array().unwrap() {
        let under_load = p["load_cpu_seconds"].as_f64();
        assert!(
            under_load.is_some_and(|s| s <= p["cpu_seconds"].as_f64().unwrap()),
            "{p}"
        );
    }
    let held = &report["in_flight"];
    assert_eq!(held["operations"].as_u64(), Some(6), "{report}");
    assert!(
        held["how"]
            .as_str()
            .is_some_and(|h| h.contains("destination")),
        "{held}"
    );
    let held: Vec<&str> = held["processes"]
        .as_array()
        .expect("in-flight processes")
        .iter()
        .filter(|p| p["peak_rss_mib"].as_f64().is_some_and(|m| m > 0.0))
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        held,
        [
            "notary member 1",
            "notary member 2",
            "notary member 3",
            "devchain node bench-a"
        ],
        "every running process measured; the stopped destination is not"
    );
    assert!(out.join("latency.svg").exists());
}

// `causeway bench mix`: transfers and swaps at once on the same two devchains, a report
// for each in its own directory.
#[test]
fn bench_mix_drives_transfers_and_swaps_at_once_and_reports_each() {
    let net = Net::new();
    let args = small_committee("mix", &["--swaps", "3", "--swap-concurrency", "2"]);
    let (report, out) = bench(&net, &args);
    assert_transfer_stages(&report["transfers"], 3);
    let swaps = &report["swaps"];
    assert_eq!(
        (swaps["what"].as_str(), swaps["count"].as_u64()),
        (Some("swaps"), Some(3)),
        "{report}"
    );
    // Both reports see every process: 3 members, 2 party relays, 2 nodes.
    for kind in ["transfers", "swaps"] {
        assert_eq!(
            report[kind]["processes"].as_array().map(Vec::len),
            Some(7),
            "{report}"
        );
        assert!(out.join(kind).join("report.json").exists());
        assert!(out.join(kind).join("latency.svg").exists());
    }
}

/// Every transfer was timed at each stage, in the order the stages must happen where the
/// same clock saw both, and the committee's members were all measured.
fn assert_transfer_stages(report: &serde_json::Value, members: usize) {
    let stages = report["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 5, "{report}");
    for sample in report["samples"].as_array().expect("samples") {
        // A stage not measured is null (e.g. no member answered which batch holds it).
        let ms: Vec<Option<f64>> = sample["stages_ms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64())
            .collect();
        let [fin, seen, attested, accepted, released] = ms[..] else {
            panic!("five stages: {sample}");
        };
        let (fin, released) = (
            fin.expect("final is always timed"),
            released.expect("released is timed"),
        );
        // Each stage is seen by its own poller (the sender polls its lock's finality, a
        // watcher reads the destination, members keep their own times), so only stages
        // seen by one clock are ordered.
        assert!(fin > 0.0 && released > 0.0, "{sample}");
        let (seen, attested) = (
            seen.expect("a threshold of members saw every released transfer"),
            attested.expect("every released transfer was attested"),
        );
        assert!(
            seen <= attested,
            "attested before t members saw it: {sample}"
        );
        if let Some(accepted) = accepted {
            assert!(
                accepted <= released,
                "released before its batch was accepted: {sample}"
            );
        }
    }
    let to_attested = &report["measured"][0];
    assert!(
        to_attested["stage"]
            .as_str()
            .is_some_and(|s| s.contains("attested")),
        "{report}"
    );
    let measured_members = report["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["name"]
                .as_str()
                .unwrap_or("")
                .starts_with("notary member")
        })
        .count();
    assert_eq!(measured_members, members, "{report}");
}

// README's first command: the demo's transfer, notary transfer and swap between two
// devchains complete.
#[test]
fn demo_runs_a_transfer_and_a_swap_between_two_devchains() {
    let net = Net::new();
    let dir = net.path().join("demo");
    let run = net.cli_ok(&["demo", "--dir", dir.to_str().expect("utf-8 path")]);
    assert!(
        run.stdout
            .contains("relay followed the transfer of 250 USD"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("notary transfer released: on devchain-b"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("swap complete"), "{}", run.stdout);
    assert!(run.stdout.contains("stopped cleanly"), "{}", run.stdout);
}

// `causeway demo --evm` without anvil says how to install it, before starting anything.
#[test]
fn demo_evm_without_anvil_says_to_run_setup_evm() {
    let net = Net::new();
    let dir = net.path().join("demo");
    net.cli_err(
        &[
            "demo",
            "--evm",
            "--anvil",
            "/nonexistent/anvil",
            "--dir",
            dir.to_str().expect("utf-8 path"),
        ],
        "scripts/setup-evm.sh",
    );
    assert!(!dir.exists(), "the demo created {} anyway", dir.display());
}

// Bad input to `causeway transfer` and the notary commands is refused with what to do,
// before anything is sent.
#[test]
fn transfer_and_notary_commands_refuse_nonsense_with_what_to_do() {
    let net = Net::new();
    let devchains = [
        "--rpc",
        "http://127.0.0.1:1",
        "--to-rpc",
        "http://127.0.0.1:2",
    ];
    let base = ["transfer", "--to", "bob", "--asset", "USD"];
    let mut no_key = base.to_vec();
    no_key.extend(devchains);
    no_key.extend(["--amount", "5"]);
    net.cli_err(&no_key, "--key is required");
    let mut zero = base.to_vec();
    zero.extend(devchains);
    zero.extend(["--amount", "0", "--key", "k"]);
    net.cli_err(&zero, "greater than zero");
    let mut missing = base.to_vec();
    missing.extend([
        "--chains",
        "/nonexistent",
        "--from-chain",
        "a",
        "--to-chain",
        "b",
        "--amount",
        "1",
    ]);
    net.cli_err(&missing, "cannot read --chains");
    net.cli_err(
        &["notary", "dkg", "--config", "/nonexistent.toml"],
        "cannot read relay config",
    );
    net.cli_err(
        &["notary", "status", "--api", "http://127.0.0.1:1"],
        "cannot get notary status",
    );
}

// Regression: `--rate 1e-300` panicked in the pacer; every rate flag is checked before
// anything starts, and the error names the flag given.
#[test]
fn bench_refuses_a_rate_it_cannot_pace_naming_the_flag() {
    let net = Net::new();
    let work = net.path().join("work");
    let work = work.to_str().expect("utf-8 path");
    net.cli_err(
        &["bench", "swaps", "--rate", "1e-300", "--dir", work],
        "--rate must be 0.01 to",
    );
    net.cli_err(
        &["bench", "mix", "--swap-rate=-1", "--dir", work],
        "--swap-rate must be",
    );
    net.cli_err(
        &[
            "bench",
            "transfers",
            "--threshold",
            "4",
            "--members",
            "3",
            "--dir",
            work,
        ],
        "--threshold must be 1..=3",
    );
    net.cli_err(
        &["bench", "transfers", "--max-batch", "0", "--dir", work],
        "--max-batch must be 1..=4096",
    );
    net.cli_err(
        &["bench", "transfers", "--flow-ceiling", "0", "--dir", work],
        "--flow-ceiling must be at least 1",
    );
}

// Regression: a run whose transfers the committee's governor held waited out its drain
// timeout (minutes) and then said only how many were released. It stops once releases
// stall and says that they are held, and why.
#[test]
fn bench_transfers_stops_and_says_so_when_the_governor_holds_transfers() {
    let net = Net::new();
    let args = small_committee("transfers", &["--flow-ceiling", "3"]);
    let (argv, _) = bench_argv(&net, &args);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let run = net.cli_err(&argv, "holds transfers for operator review");
    assert!(run.stderr.contains("ceiling 3"), "{}", run.stderr);
}
