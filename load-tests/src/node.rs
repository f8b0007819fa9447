//! An `incontra serve` child process for the benchmarks: started on a free
//! 127.0.0.1 port, waited for until it answers `GetStatus`, measured from
//! /proc (resident memory), stopped cleanly by SIGTERM (which writes a final
//! snapshot) and killed if it is still running when dropped.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use incontra_proto::matching::v1::match_service_client::MatchServiceClient;
use incontra_proto::matching::v1::GetStatusRequest;
use tonic::transport::Channel;

pub type Client = MatchServiceClient<Channel>;

/// The `incontra` binary: `INCONTRA_BIN`, else beside the running
/// executable (cargo puts every binary of a profile in one directory; a
/// test runs from its `deps/` subdirectory).
pub fn incontra_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("INCONTRA_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    for dir in exe.ancestors().skip(1).take(2) {
        let candidate = dir.join("incontra");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    anyhow::bail!(
        "no incontra binary beside {}; build it (cargo build --release -p incontra-services --bin incontra) or set INCONTRA_BIN",
        exe.display()
    )
}

pub struct Node {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Node {
    /// Starts `incontra serve` over `data_dir` judging on day `as_of`
    /// (YYYY-MM-DD) and waits until it answers, at most `limit`.
    pub async fn start(
        binary: &Path,
        data_dir: &Path,
        as_of: &str,
        log: &Path,
        limit: Duration,
    ) -> anyhow::Result<(Node, Client)> {
        Node::start_with(binary, data_dir, as_of, log, limit, &[]).await
    }

    /// As [`Node::start`], with more arguments for `incontra serve`.
    pub async fn start_with(
        binary: &Path,
        data_dir: &Path,
        as_of: &str,
        log: &Path,
        limit: Duration,
        extra: &[String],
    ) -> anyhow::Result<(Node, Client)> {
        let mut last = String::new();
        for _attempt in 0..5 {
            let port = free_port()?;
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
            let log_file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .with_context(|| format!("opening {}", log.display()))?;
            let child = Command::new(binary)
                .arg("serve")
                .arg("--data-dir")
                .arg(data_dir)
                .arg("--listen")
                .arg(addr.to_string())
                .arg("--as-of")
                .arg(as_of)
                .args(extra)
                .env("RUST_LOG", "info,tantivy=warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log_file))
                .spawn()
                .with_context(|| format!("starting {}", binary.display()))?;
            let mut node = Node {
                child: Some(child),
                addr,
                log: log.to_owned(),
            };
            match node.wait_answering(limit).await {
                Ok(client) => return Ok((node, client)),
                Err(e) => {
                    last = format!("{e:#}");
                    // Another process took the port between probe and bind.
                    if !last.contains("in use") {
                        anyhow::bail!("incontra serve did not come up: {last}");
                    }
                }
            }
        }
        anyhow::bail!("incontra serve could not bind a port: {last}")
    }

    async fn wait_answering(&mut self, limit: Duration) -> anyhow::Result<Client> {
        let started = Instant::now();
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))?
            .connect_timeout(Duration::from_secs(1));
        while started.elapsed() < limit {
            if let Some(child) = &mut self.child {
                if let Some(status) = child.try_wait()? {
                    anyhow::bail!("exited with {status}: {}", self.log_tail());
                }
            }
            if let Ok(channel) = endpoint.connect().await {
                let mut client = MatchServiceClient::new(channel)
                    .max_decoding_message_size(64 << 20)
                    .max_encoding_message_size(64 << 20);
                if client
                    .get_status(GetStatusRequest {
                        include_digest: false,
                    })
                    .await
                    .is_ok()
                {
                    return Ok(client);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("not answering after {limit:?}: {}", self.log_tail())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// VmRSS and RssAnon of the server, in bytes.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        let pid = self.pid().context("node not running")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kib = |key: &str| -> u64 {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        Ok(Memory {
            rss: kib("VmRSS:"),
            anon: kib("RssAnon:"),
        })
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, which makes the node write a final snapshot, then waits.
    pub async fn stop(mut self, limit: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let Some(mut child) = self.child.take() else {
            return Ok(Duration::ZERO);
        };
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?;
        while started.elapsed() < limit {
            if child.try_wait()?.is_some() {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        anyhow::bail!("incontra did not stop within {limit:?}; killed")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub rss: u64,
    pub anon: u64,
}

/// Bytes of the files under `dir` (0 if absent).
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}
