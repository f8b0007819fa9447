//! A node: its data directory opened and recovered, ready to serve.

use std::path::{Path, PathBuf};

use crate::ratelimit::{RateLimit, RateLimiter};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use incontra_engine::codice_fiscale::Pseudonymiser;
use incontra_engine::config::ScoringConfig;
use incontra_engine::learning::WeightsFile;
use incontra_engine::model::Day;
use incontra_engine::reference::ReferenceData;
use incontra_indexer::projection::{Projection, ProjectionOptions, ReadSide, RecoveryInfo};
use rand::RngCore;

use crate::access::AccessLog;
use crate::admission::{Admission, AdmissionLimits};
use crate::auth::Authenticator;

/// Start-up settings of a node.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub data_dir: PathBuf,
    /// Scoring configuration file; the compiled-in default when `None`.
    pub scoring_config: Option<PathBuf>,
    /// A versioned weights file (`config/weights/*.toml`) replacing the
    /// configuration's weights and version.
    pub weights: Option<PathBuf>,
    /// Key file of the codice fiscale pseudonyms; `<data-dir>/pseudonym.key`
    /// (created on first start) when `None`.
    pub pseudonym_key: Option<PathBuf>,
    /// Evaluate eligibility as of this day instead of today (reproducing an
    /// earlier list, or a demo world with a fixed date).
    pub as_of: Option<Day>,
    pub projection: ProjectionOptions,
    /// Lists computed at once and lists waiting (`services::admission`).
    pub admission: AdmissionLimits,
    /// Authentication configuration (`services::auth::AuthConfig`, TOML);
    /// without one the node serves every caller as unrestricted, and only
    /// on a loopback address.
    pub auth_config: Option<PathBuf>,
    /// Serve over TLS, and with a client CA require every client to present
    /// a certificate it signed (mutual TLS, for service clients).
    pub tls: Option<TlsFiles>,
    /// Calls a second each caller may make (`services::ratelimit`).
    pub rate_limit: RateLimit,
}

/// PEM files of the server's TLS identity and, for mutual TLS, of the CA
/// client certificates must chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    /// The server configuration these files describe.
    pub fn load(&self) -> anyhow::Result<tonic::transport::ServerTlsConfig> {
        let read = |path: &Path| {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))
        };
        let identity = tonic::transport::Identity::from_pem(read(&self.cert)?, read(&self.key)?);
        let mut config = tonic::transport::ServerTlsConfig::new().identity(identity);
        if let Some(ca) = &self.client_ca {
            config = config
                .client_ca_root(tonic::transport::Certificate::from_pem(read(ca)?))
                .client_auth_optional(false);
        }
        Ok(config)
    }
}

impl NodeOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            scoring_config: None,
            weights: None,
            pseudonym_key: None,
            as_of: None,
            projection: ProjectionOptions::default(),
            admission: AdmissionLimits::default(),
            auth_config: None,
            tls: None,
            rate_limit: RateLimit::default(),
        }
    }
}

pub struct Node {
    pub projection: Arc<Mutex<Projection>>,
    pub read: Arc<ReadSide>,
    pub as_of: Option<Day>,
    pub recovery: RecoveryInfo,
    pub admission: Arc<Admission>,
    /// `None`: no authentication (loopback only).
    pub auth: Option<Arc<Authenticator>>,
    pub access: Arc<AccessLog>,
    /// The same key the decoder pseudonymises codici fiscali with: how a
    /// portal token's subject finds its person.
    pub pseudonymiser: Pseudonymiser,
    pub data_dir: std::path::PathBuf,
    /// `None`: plain HTTP/2.
    pub tls: Option<tonic::transport::ServerTlsConfig>,
    pub limiter: Arc<RateLimiter>,
}

impl Node {
    pub fn open(options: &NodeOptions) -> anyhow::Result<Node> {
        let reference = Arc::new(ReferenceData::embedded().context("loading reference data")?);
        let config = match &options.scoring_config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                ScoringConfig::from_toml(&text).with_context(|| format!("in {}", path.display()))?
            }
            None => ScoringConfig::embedded_default()?,
        };
        let config = match &options.weights {
            Some(path) => with_weights(config, path)?,
            None => config,
        };
        std::fs::create_dir_all(&options.data_dir)
            .with_context(|| format!("creating {}", options.data_dir.display()))?;
        let key_path = options
            .pseudonym_key
            .clone()
            .unwrap_or_else(|| options.data_dir.join("pseudonym.key"));
        let key = load_or_create_key(&key_path)?;
        let auth = match &options.auth_config {
            Some(path) => Some(Arc::new(Authenticator::from_file(path).with_context(
                || format!("loading the auth configuration {}", path.display()),
            )?)),
            None => None,
        };
        let tls = match &options.tls {
            Some(files) => Some(files.load().context("loading the TLS files")?),
            None => None,
        };
        let access = Arc::new(AccessLog::open(&options.data_dir)?);
        let pseudonymiser = Pseudonymiser::new(&key);
        let (projection, recovery) = Projection::open(
            &options.data_dir,
            reference,
            config,
            pseudonymiser.clone(),
            options.projection.clone(),
        )
        .with_context(|| format!("opening data directory {}", options.data_dir.display()))?;
        let read = projection.read_side();
        Ok(Node {
            projection: Arc::new(Mutex::new(projection)),
            read,
            as_of: options.as_of,
            recovery,
            admission: Admission::new(options.admission),
            auth,
            access,
            pseudonymiser,
            data_dir: options.data_dir.clone(),
            tls,
            limiter: Arc::new(RateLimiter::new(options.rate_limit)),
        })
    }
}

/// The configuration with a weights file's weights and version. Results
/// keep their per-criterion explanations: only the weights change.
fn with_weights(mut config: ScoringConfig, path: &Path) -> anyhow::Result<ScoringConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file = WeightsFile::from_toml(&text).with_context(|| format!("in {}", path.display()))?;
    config.weights = file.weights().clone();
    config.version = file.meta.version.clone();
    tracing::info!(version = %config.version, weights = ?config.weights, "weights loaded");
    Ok(config)
}

/// The pseudonym key must survive restarts (pseudonyms join CO to
/// candidacies across the whole history), so it is created once and kept.
fn load_or_create_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.exists() {
        let key = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        anyhow::ensure!(
            key.len() >= 32,
            "{} holds fewer than 32 bytes",
            path.display()
        );
        return Ok(key);
    }
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &key).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}
