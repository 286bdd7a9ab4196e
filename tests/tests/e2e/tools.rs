//! The tools around the relay, through the real binary: `causeway demo` and the load tool
//! `causeway bench swaps|transfers` (report, latency plot and per-process usage).

use causeway_e2e::Net;

// README "Tests and benchmarks": the load tool reports every process it started and writes
// report.json and latency.svg to --out.
#[test]
fn bench_swaps_writes_a_report_with_process_usage_and_a_latency_plot() {
    let net = Net::new();
    let out = net.path().join("bench-out");
    let work = net.path().join("work");
    let run = net.cli_ok(&[
        "--json",
        "bench",
        "swaps",
        "--swaps",
        "3",
        "--concurrency",
        "2",
        "--out",
        out.to_str().expect("utf-8 path"),
        "--dir",
        work.to_str().expect("utf-8 path"),
    ]);
    let printed = run.json();
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
// every transfer timed at each stage and every process measured.
#[test]
fn bench_transfers_times_each_stage_through_a_committee() {
    let net = Net::new();
    let out = net.path().join("bench-out");
    let work = net.path().join("work");
    let report = net
        .cli_ok(&[
            "--json",
            "bench",
            "transfers",
            "--transfers",
            "6",
            "--concurrency",
            "2",
            "--members",
            "3",
            "--threshold",
            "2",
            "--out",
            out.to_str().expect("utf-8 path"),
            "--dir",
            work.to_str().expect("utf-8 path"),
        ])
        .json();
    assert_eq!(
        (report["what"].as_str(), report["count"].as_u64()),
        (Some("transfers"), Some(6))
    );
    let stages = report["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 3, "{report}");
    for sample in report["samples"].as_array().expect("samples") {
        // A stage not measured is null (e.g. no member answered which batch holds it).
        let ms: Vec<Option<f64>> = sample["stages_ms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64())
            .collect();
        let (fin, released) = (
            ms[0].expect("final is always timed"),
            ms[2].expect("released is timed"),
        );
        // Each stage is seen by its own poller (the sender polls its lock's finality, a
        // watcher reads the destination), so only the destination's own order is certain.
        assert!(fin > 0.0 && released > 0.0, "{sample}");
        if let Some(accepted) = ms[1] {
            assert!(
                accepted <= released,
                "released before its batch was accepted: {sample}"
            );
        }
    }
    let members = report["processes"]
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
    assert_eq!(members, 3, "{report}");
    assert!(out.join("latency.svg").exists());
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
