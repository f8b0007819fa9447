//! A throwaway PostgreSQL server for the baseline: `initdb` into a fresh
//! temporary directory, `postgres` on 127.0.0.1 and a free port, stopped
//! (and its directory removed) when dropped.
//!
//! PostgreSQL refuses to run as root; as root (CI, containers) the server is
//! run as the `postgres` user Debian's package creates, or `nobody`, through
//! `setpriv`, which execs in place so the child we hold is the postmaster.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "PostgreSQL binaries not found (looked for initdb in PATH and /usr/lib/postgresql/*/bin); run scripts/install-test-deps"
    )]
    NotInstalled,
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{what} failed: {output}")]
    Command { what: String, output: String },
    #[error("PostgreSQL did not accept connections within {0:?}: {1}")]
    Timeout(Duration, String),
    #[error(transparent)]
    Client(#[from] postgres::Error),
}

/// A running server; dropped = stopped and deleted.
pub struct Postgres {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

const USER: &str = "bench";

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PgError {
    let what = what.into();
    move |e| PgError::Io(what, e)
}

/// The directory holding `initdb` and `postgres`: Debian keeps them out of
/// PATH under /usr/lib/postgresql/VERSION/bin; the newest version wins.
pub fn bin_dir() -> Result<PathBuf, PgError> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|p| p.join("postgres").exists() && p.join("initdb").exists())
        .ok_or(PgError::NotInstalled)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The unprivileged account to run as when we are root.
fn run_as() -> Option<&'static str> {
    if !is_root() {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    if passwd.lines().any(|l| l.starts_with("postgres:")) {
        Some("postgres")
    } else {
        Some("nobody")
    }
}

fn command(bin: &Path, program: &str) -> Command {
    match run_as() {
        Some(user) => {
            let mut c = Command::new("setpriv");
            c.args(["--reuid", user, "--regid", user, "--init-groups"])
                .arg(bin.join(program));
            c
        }
        None => Command::new(bin.join(program)),
    }
}

fn free_port() -> Result<u16, PgError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("binding a probe port"))?;
    Ok(listener
        .local_addr()
        .map_err(io("reading the probe port"))?
        .port())
}

impl Postgres {
    /// Creates a cluster and starts it. `settings` are extra `-c name=value`
    /// server settings (memory, fsync).
    pub fn start(settings: &[(&str, String)]) -> Result<Postgres, PgError> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("incontra-pg-")
            .tempdir()
            .map_err(io("creating the PostgreSQL directory"))?;
        if let Some(user) = run_as() {
            let status = Command::new("chown")
                .args(["-R", &format!("{user}:")])
                .arg(dir.path())
                .status()
                .map_err(io("chown"))?;
            if !status.success() {
                return Err(PgError::Command {
                    what: "chown".into(),
                    output: status.to_string(),
                });
            }
        }
        let data = dir.path().join("data");
        let output = command(&bin, "initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
            .stdin(Stdio::null())
            .output()
            .map_err(io("running initdb"))?;
        if !output.status.success() {
            return Err(PgError::Command {
                what: "initdb".into(),
                output: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        let mut last = String::new();
        for _attempt in 0..5 {
            // Another process may take the probed port before postgres binds it.
            let port = free_port()?;
            let log_path = dir.path().join(format!("postgres-{port}.log"));
            let log =
                std::fs::File::create(&log_path).map_err(io("creating the PostgreSQL log"))?;
            let mut cmd = command(&bin, "postgres");
            cmd.arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string()])
                .args(["-c", "listen_addresses=127.0.0.1"])
                .arg("-c")
                .arg(format!("unix_socket_directories={}", dir.path().display()));
            for (name, value) in settings {
                cmd.arg("-c").arg(format!("{name}={value}"));
            }
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .map_err(io("starting postgres"))?;
            match wait_ready(&mut child, port, &log_path, Duration::from_secs(60)) {
                Ok(()) => {
                    return Ok(Postgres {
                        child: Some(child),
                        dir,
                        port,
                        bin,
                    })
                }
                Err(e) => {
                    last = e.to_string();
                    stop(child);
                }
            }
        }
        Err(PgError::Command {
            what: "starting postgres".into(),
            output: last,
        })
    }

    /// The connection string of the server (trust authentication).
    pub fn url(&self) -> String {
        url(self.port)
    }

    pub fn connect(&self) -> Result<postgres::Client, PgError> {
        connect(self.port)
    }

    /// Bytes on disk of the cluster's data directory.
    pub fn data_bytes(&self) -> u64 {
        crate::node::dir_bytes(&self.dir.path().join("data"))
    }

    /// The server version, as `postgres --version` prints it.
    pub fn version(&self) -> String {
        Command::new(self.bin.join("postgres"))
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            stop(child);
        }
    }
}

fn url(port: u16) -> String {
    format!("host=127.0.0.1 port={port} user={USER} dbname=postgres")
}

fn connect(port: u16) -> Result<postgres::Client, PgError> {
    Ok(postgres::Client::connect(&url(port), postgres::NoTls)?)
}

fn wait_ready(child: &mut Child, port: u16, log: &Path, limit: Duration) -> Result<(), PgError> {
    let started = Instant::now();
    let log = || std::fs::read_to_string(log).unwrap_or_default();
    while started.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(PgError::Command {
                what: format!("postgres (exited {status})"),
                output: log(),
            });
        }
        if connect(port).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(PgError::Timeout(limit, log()))
}

/// Fast shutdown (SIGINT), then SIGKILL if it lingers.
fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
