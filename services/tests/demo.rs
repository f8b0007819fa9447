//! The demo as a new user runs it, through the real `incontra` binary: the command it prints
//! names the address it really listens on, its printout names filters and criteria in Italian,
//! and its log, written to a file, carries no colour codes (issue 16).
//!
//! `INCONTRA_BIN` runs these checks against another build of the binary (a release build, or
//! the previous commit's, to see them fail there).

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use incontra_engine::scoring::{Criterion, HardFilter};

/// Longest the demo may take to load and print its example.
const DEADLINE: Duration = Duration::from_secs(120);

/// A world that loads in seconds and still has a vacancy with ten eligible candidates.
const CANDIDATES: &str = "3000";

fn binary() -> PathBuf {
    std::env::var_os("INCONTRA_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_incontra").into())
}

/// A running demo, killed when dropped.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `incontra demo` on a fresh `data_dir`, its log (stderr) going to the file `log` as
/// a log collector would take it, its printout (stdout) piped.
fn start(data_dir: &Path, log: &Path, extra: &[&str]) -> Demo {
    let log = std::fs::File::create(log).expect("log file");
    let child = Command::new(binary())
        .arg("demo")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--candidates", CANDIDATES])
        .args(extra)
        .env("RUST_LOG", "info,tantivy=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawning incontra demo");
    Demo(child)
}

/// The printout's lines up to the first one `last` accepts (or to the end), within the
/// deadline.
fn lines_until(demo: &mut Demo, last: impl Fn(&str) -> bool) -> Vec<String> {
    let stdout = demo.0.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut lines = Vec::new();
    loop {
        let left = DEADLINE.saturating_sub(started.elapsed());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = last(&line);
                lines.push(line);
                if done {
                    return lines;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return lines,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!(
                    "no expected line within {DEADLINE:?}:\n{}",
                    lines.join("\n")
                )
            }
        }
    }
}

/// One run of `incontra demo --no-serve`: its printout and its log.
struct Printed {
    stdout: Vec<String>,
    log: String,
}

fn no_serve() -> &'static Printed {
    static RUN: OnceLock<Printed> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("demo.log");
        let mut demo = start(&dir.path().join("data"), &log, &["--no-serve"]);
        let stdout = lines_until(&mut demo, |_| false);
        let status = demo.0.wait().expect("waiting for the demo");
        let log = std::fs::read_to_string(&log).expect("reading the log");
        assert!(status.success(), "demo exited with {status}:\n{log}");
        Printed { stdout, log }
    })
}

#[test]
fn demo_prints_the_address_it_really_listens_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("demo.log");
    // Port 0: the system picks the port, so only the listener knows it.
    let mut demo = start(&dir.path().join("data"), &log, &["--listen", "127.0.0.1:0"]);
    let lines = lines_until(&mut demo, |l| l.starts_with("Try:"));
    let tail = lines.join("\n");
    let try_line = lines.last().filter(|l| l.starts_with("Try:"));
    let try_line = try_line.unwrap_or_else(|| panic!("no Try: line in\n{tail}"));
    let words: Vec<&str> = try_line.split_whitespace().collect();
    let method = words
        .iter()
        .position(|w| *w == "incontra.match.v1.MatchService/MatchCandidates")
        .unwrap_or_else(|| panic!("no method in {try_line}"));
    let addr: SocketAddr = words[method - 1]
        .parse()
        .unwrap_or_else(|e| panic!("{e}: {try_line}"));
    assert_ne!(addr.port(), 0, "{try_line}");
    // The address printed is one a client can reach, now.
    TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{addr} printed but not listened on: {e}"));
}

#[test]
fn demo_without_serving_prints_no_address_to_try() {
    let printed = no_serve();
    assert!(
        !printed.stdout.iter().any(|l| l.starts_with("Try:")),
        "{}",
        printed.stdout.join("\n")
    );
}

#[test]
fn demo_printout_names_filters_and_criteria_in_italian() {
    let printed = no_serve();
    let text = printed.stdout.join("\n");
    let counts = printed
        .stdout
        .iter()
        .find(|l| l.contains("candidati valutati"))
        .unwrap_or_else(|| panic!("no count of candidates in\n{text}"));
    // The demo world excludes people by availability, among others.
    assert!(
        counts.contains(&format!("{} ", HardFilter::Availability.label())),
        "{counts}"
    );
    for filter in HardFilter::ALL {
        assert!(!counts.contains(filter.name()), "{counts}");
    }
    // Each row of the list: "      <criterion> +0.123  <reason>".
    let rows: Vec<&str> = printed
        .stdout
        .iter()
        .filter(|l| l.starts_with("      ") && l.contains(" +0."))
        .map(|l| l.split_whitespace().next().unwrap_or_default())
        .collect();
    assert!(rows.contains(&Criterion::Skills.label()), "{text}");
    for criterion in Criterion::ALL {
        assert!(!rows.contains(&criterion.name()), "{text}");
    }
}

#[test]
fn demo_log_written_to_a_file_has_no_colour_codes() {
    let printed = no_serve();
    // Not vacuous: the log holds the node's tracing lines.
    assert!(printed.log.contains("INFO"), "{}", printed.log);
    assert!(!printed.log.contains('\u{1b}'), "{:?}", printed.log);
}

/// Issue 16: a demo killed while loading left part of its world, and the
/// next start said only that the directory "already holds N events". Now it
/// says the load was interrupted and what to do.
#[test]
fn an_interrupted_demo_load_is_named_with_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let log = dir.path().join("first.log");
    let mut first = start(&data, &log, &["--no-serve"]);
    let status = first.0.wait().expect("the first demo ends");
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // As if it had been killed mid-load: the marker the load writes first.
    std::fs::write(data.join("demo.loading"), b"").expect("marker");
    let output = Command::new(binary())
        .arg("demo")
        .arg("--data-dir")
        .arg(&data)
        .arg("--no-serve")
        .stdin(Stdio::null())
        .output()
        .expect("the second demo");
    assert!(
        !output.status.success(),
        "a half-loaded directory was served"
    );
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("interrupted"), "{said}");
    assert!(said.contains("rm -rf"), "{said}");
}
