//! Short real runs of the `kms-bench` binary against an embedded server. They check that every
//! operation works and reports sanely; they never assert a speed.

use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kms-bench"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("kms-bench runs");
    (
        out.status.success(),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

fn reports(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON object"))
        .collect()
}

#[test]
fn every_operation_runs_without_error_on_an_embedded_server() {
    let ops = "health,generate-data-key,decrypt,encrypt,batch-generate-data-key,batch-decrypt,\
               create-key,describe-key,list-keys,tencent-generate-data-key,tencent-decrypt";
    let (ok, stdout, stderr) = bench(&[
        "--embedded",
        "--op",
        ops,
        "--concurrency",
        "4",
        "--connections",
        "2",
        // Long enough that every op (create-key waits on fsync) completes calls in the window.
        "--duration",
        "0.8",
        "--warmup",
        "0.1",
        "--batch",
        "20",
        "--json",
    ]);
    assert!(ok, "kms-bench failed: {stderr}");
    let reports = reports(&stdout);
    let names: Vec<&str> = reports.iter().map(|r| r["op"].as_str().unwrap()).collect();
    assert_eq!(names, ops.split(',').collect::<Vec<_>>());
    for r in &reports {
        let op = r["op"].as_str().unwrap();
        assert_eq!(r["errors"], 0, "{op}: {r}");
        assert!(r["first_error"].is_null(), "{op}: {r}");
        assert!(r["calls"].as_u64().unwrap() > 0, "{op}: {r}");
        assert!(r["calls_per_sec"].as_f64().unwrap() > 0.0, "{op}: {r}");
        assert_eq!(r["concurrency"], 4);
        assert_eq!(r["connections"], 2);
        let batch = if op.starts_with("batch-") { 20 } else { 1 };
        assert_eq!(r["batch"], batch, "{op}");
        // Every call succeeded, so items/s is exactly calls/s times the batch size.
        let items = r["items_per_sec"].as_f64().unwrap();
        let calls = r["calls_per_sec"].as_f64().unwrap();
        assert!(
            (items - calls * f64::from(batch)).abs() < 1e-6 * items.max(1.0),
            "{op}: {r}"
        );
        let l = &r["latency_us"];
        let (p50, p90, p99, max) = (
            l["p50"].as_f64().unwrap(),
            l["p90"].as_f64().unwrap(),
            l["p99"].as_f64().unwrap(),
            l["max"].as_f64().unwrap(),
        );
        assert!(
            0.0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= max,
            "{op}: {r}"
        );
        // Read from /proc on Linux: this process's CPU time per call (10 ms ticks, may be 0 here).
        #[cfg(target_os = "linux")]
        assert!(
            r["cpu_us_per_call"].as_f64().is_some_and(|c| c >= 0.0),
            "{op}: {r}"
        );
    }
}

#[test]
fn count_mode_makes_exactly_that_many_calls_and_the_table_is_readable() {
    let (ok, stdout, stderr) = bench(&[
        "--embedded",
        "--op",
        "create-key",
        "--concurrency",
        "3",
        "--count",
        "10",
        "--json",
    ]);
    assert!(ok, "kms-bench failed: {stderr}");
    let r = &reports(&stdout)[0];
    assert_eq!(r["calls"], 10, "{r}");
    assert_eq!(r["errors"], 0, "{r}");

    let (ok, stdout, stderr) = bench(&[
        "--embedded",
        "--op",
        "health,generate-data-key",
        "--concurrency",
        "2",
        "--duration",
        "0.2",
        "--warmup",
        "0",
        "--rounds",
        "3",
    ]);
    assert!(ok, "kms-bench failed: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("op ") && lines[0].contains("p99 us"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("health ") && lines[1].contains("100%"),
        "{stdout}"
    );
    assert!(lines[2].starts_with("generate-data-key "), "{stdout}");
    assert!(
        lines[3].starts_with("health: median of 3 rounds; calls/s by round: "),
        "{stdout}"
    );
    assert_eq!(lines[3].split(": ").last().unwrap().split(' ').count(), 3);
    assert!(
        lines[4].starts_with("generate-data-key: median of 3 rounds"),
        "{stdout}"
    );
}

#[test]
fn failures_are_counted_not_hidden() {
    // A context that is not base64: every call fails with INVALID_ARGUMENT, and the run says so.
    let (ok, stdout, stderr) = bench(&[
        "--embedded",
        "--op",
        "generate-data-key",
        "--concurrency",
        "2",
        "--count",
        "5",
        "--context",
        "%%%",
        "--json",
    ]);
    assert!(ok, "kms-bench failed: {stderr}");
    let r = &reports(&stdout)[0];
    assert_eq!(r["errors"], 5, "{r}");
    assert_eq!(r["items_per_sec"], 0.0, "{r}");
    assert!(r["first_error"].as_str().unwrap().contains("base64"), "{r}");
}

#[test]
fn an_unreachable_server_is_one_line_on_stderr_and_a_failure() {
    // Port 9 (discard) on loopback: nothing listens there in the test environment.
    let (ok, stdout, stderr) = bench(&[
        "--endpoint",
        "http://127.0.0.1:9",
        "--op",
        "health",
        "--duration",
        "0.1",
    ]);
    assert!(!ok);
    assert!(stdout.is_empty());
    assert!(stderr.starts_with("error: cannot connect"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn server_pid_reports_that_process_cpu_and_nothing_for_a_missing_process() {
    // This test process stands in for a server: it exists, so its CPU per call is a number.
    let me = std::process::id().to_string();
    let run = |pid: &str| {
        let (ok, stdout, stderr) = bench(&[
            "--embedded",
            "--op",
            "health",
            "--duration",
            "0.2",
            "--warmup",
            "0.05",
            "--server-pid",
            pid,
            "--json",
        ]);
        assert!(ok, "kms-bench failed: {stderr}");
        reports(&stdout).remove(0)
    };
    let found = run(&me);
    #[cfg(target_os = "linux")]
    assert!(
        found["server_cpu_us_per_call"]
            .as_f64()
            .is_some_and(|c| c >= 0.0),
        "{found}"
    );
    // No process has this id (above the kernel's pid_max limit of 2^22).
    let missing = run("4194305");
    assert!(missing["server_cpu_us_per_call"].is_null(), "{missing}");
}
