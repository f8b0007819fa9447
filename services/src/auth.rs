//! Who is calling: bearer JWTs (RS256 or ES256) checked against the keys
//! of a JWKS file, and the token's claims mapped to a [`Principal`].
//!
//! The regional identity provider signs operators' tokens (SPID/CIE behind
//! it) and PDND signs services' vouchers; both publish their public keys as
//! a JWKS. The node reads them from a file given at start (the deployment
//! keeps it current) and reloads it when it changes, so a key rotation
//! needs no restart. A token is accepted only if its header names a key of
//! that set by `kid`, its algorithm is the one that key is for (never
//! `none`, never HMAC: an `oct` key in the set is ignored, so the public key
//! can never serve as a shared secret), its signature verifies, and its
//! issuer, audience, expiry and not-before hold. What it may then do is
//! [`crate::policy`]'s decision, not this module's.
//!
//! Refusals name the check that failed, never the token's contents.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::policy::{Principal, Role};

/// The auth configuration file (TOML), as `serve --auth-config` reads it.
///
/// ```toml
/// issuer = "https://idp.lavoro.regione.piemonte.it"
/// audience = "incontra"
/// jwks_file = "jwks.json"      # relative to this file
/// leeway_seconds = 30
/// roles_claim = "roles"        # a string or an array of strings
/// cpi_claim = "cpi"            # the CPI codes of an operator
/// [roles]                      # claim value -> role; without it the
/// "cpi-operatore" = "operator" # values must be role names themselves
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    pub jwks_file: PathBuf,
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    #[serde(default = "default_cpi_claim")]
    pub cpi_claim: String,
    /// Claim values to roles; empty means the values are role names.
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
}

fn default_leeway() -> u64 {
    30
}
fn default_roles_claim() -> String {
    "roles".into()
}
fn default_cpi_claim() -> String {
    "cpi".into()
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("a lock was poisoned by a panic in another thread")]
    Poisoned,
}

/// Why a call was refused `UNAUTHENTICATED`. The message is safe to send
/// back and to log: it names a check, never a claim's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("missing bearer token (authorization: Bearer <JWT>)")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("token names no key id (kid)")]
    NoKeyId,
    #[error("token signed by an unknown key")]
    UnknownKey,
    #[error("token algorithm not accepted for its key")]
    Algorithm,
    #[error("bad token signature")]
    Signature,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet")]
    NotYetValid,
    #[error("token issued by another issuer")]
    Issuer,
    #[error("token for another audience")]
    Audience,
    #[error("token lacks a required claim")]
    MissingClaim,
    #[error("token grants no role of this service")]
    NoRole,
    #[error("authentication unavailable")]
    Unavailable,
}

/// A verification key with the one algorithm it may verify.
struct Key {
    key: DecodingKey,
    algorithm: Algorithm,
}

/// The key set and the file state it was read from.
struct Keys {
    by_kid: HashMap<String, Key>,
    /// Modification time and length of the file when read.
    stamp: Option<(SystemTime, u64)>,
}

pub struct Authenticator {
    config: AuthConfig,
    keys: RwLock<Keys>,
}

impl Authenticator {
    /// Reads the configuration at `path` and the key set it names.
    pub fn from_file(path: &Path) -> Result<Authenticator, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config: AuthConfig = toml::from_str(&text).map_err(|e| AuthError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        if config.jwks_file.is_relative() {
            if let Some(dir) = path.parent() {
                config.jwks_file = dir.join(&config.jwks_file);
            }
        }
        Authenticator::new(config)
    }

    pub fn new(config: AuthConfig) -> Result<Authenticator, AuthError> {
        let invalid = |message: &str| AuthError::Invalid {
            path: config.jwks_file.clone(),
            message: message.to_owned(),
        };
        if config.issuer.trim().is_empty() || config.audience.trim().is_empty() {
            return Err(invalid("issuer and audience are required"));
        }
        let keys = read_keys(&config.jwks_file)?;
        if keys.by_kid.is_empty() {
            return Err(invalid(
                "holds no RS256 or P-256 key with a kid: no token could be accepted",
            ));
        }
        Ok(Authenticator {
            config,
            keys: RwLock::new(keys),
        })
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Re-reads the key set if its file changed since it was read; says
    /// whether it did. A file that no longer parses leaves the old keys in
    /// place (and is reported): a half-written file must not lock everyone
    /// out.
    pub fn reload_if_changed(&self) -> Result<bool, AuthError> {
        let now = stamp(&self.config.jwks_file);
        {
            let keys = self.keys.read().map_err(|_| AuthError::Poisoned)?;
            if now.is_none() || now == keys.stamp {
                return Ok(false);
            }
        }
        let fresh = read_keys(&self.config.jwks_file)?;
        let mut keys = self.keys.write().map_err(|_| AuthError::Poisoned)?;
        *keys = fresh;
        Ok(true)
    }

    /// The principal a bearer token stands for, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<Principal, Refusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Malformed)?;
        let kid = header.kid.ok_or(Refusal::NoKeyId)?;
        if !self.knows(&kid)? {
            // A rotation may have added the key since the last poll.
            if !matches!(self.reload_if_changed(), Ok(true)) || !self.knows(&kid)? {
                return Err(Refusal::UnknownKey);
            }
        }
        let keys = self.keys.read().map_err(|_| Refusal::Unavailable)?;
        let key = keys.by_kid.get(&kid).ok_or(Refusal::UnknownKey)?;
        if header.alg != key.algorithm {
            return Err(Refusal::Algorithm);
        }
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = self.config.leeway_seconds;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<BTreeMap<String, Value>>(token, &key.key, &validation)
            .map_err(|e| refusal(e.kind()))?;
        drop(keys);
        self.principal(&data.claims)
    }

    fn knows(&self, kid: &str) -> Result<bool, Refusal> {
        Ok(self
            .keys
            .read()
            .map_err(|_| Refusal::Unavailable)?
            .by_kid
            .contains_key(kid))
    }

    fn principal(&self, claims: &BTreeMap<String, Value>) -> Result<Principal, Refusal> {
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 256)
            .ok_or(Refusal::MissingClaim)?;
        let roles: BTreeSet<Role> = strings(claims.get(&self.config.roles_claim))
            .filter_map(|value| {
                if self.config.roles.is_empty() {
                    Role::from_name(value)
                } else {
                    self.config.roles.get(value).copied()
                }
            })
            .collect();
        if roles.is_empty() {
            return Err(Refusal::NoRole);
        }
        let cpi = strings(claims.get(&self.config.cpi_claim))
            .filter(|c| !c.is_empty() && c.len() <= 16)
            .map(str::to_owned)
            .collect();
        Ok(Principal::new(subject, roles, cpi))
    }
}

/// A claim that is a string or an array of strings, as its strings.
fn strings(value: Option<&Value>) -> impl Iterator<Item = &str> {
    let (one, many) = match value {
        Some(Value::String(s)) => (Some(s.as_str()), None),
        Some(Value::Array(items)) => (None, Some(items.iter().filter_map(Value::as_str))),
        _ => (None, None),
    };
    one.into_iter().chain(many.into_iter().flatten())
}

fn refusal(kind: &jsonwebtoken::errors::ErrorKind) -> Refusal {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::ExpiredSignature => Refusal::Expired,
        K::ImmatureSignature => Refusal::NotYetValid,
        K::InvalidIssuer => Refusal::Issuer,
        K::InvalidAudience => Refusal::Audience,
        K::MissingRequiredClaim(_) => Refusal::MissingClaim,
        K::InvalidSignature => Refusal::Signature,
        K::InvalidAlgorithm | K::InvalidAlgorithmName => Refusal::Algorithm,
        _ => Refusal::Malformed,
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The RS256 and P-256 (ES256) keys of a JWKS file that carry a `kid`;
/// every other key is skipped with a warning.
fn read_keys(path: &Path) -> Result<Keys, AuthError> {
    let stamp = stamp(path);
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
        path: path.to_owned(),
        source,
    })?;
    let set: JwkSet = serde_json::from_str(&text).map_err(|e| AuthError::Invalid {
        path: path.to_owned(),
        message: format!("not a JWKS: {e}"),
    })?;
    let mut by_kid = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            tracing::warn!("JWKS key without a kid ignored");
            continue;
        };
        let algorithm = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                Algorithm::ES256
            }
            _ => {
                tracing::warn!(%kid, "JWKS key of a type or curve other than RSA or P-256 ignored");
                continue;
            }
        };
        match DecodingKey::from_jwk(jwk) {
            Ok(key) => {
                by_kid.insert(kid, Key { key, algorithm });
            }
            Err(e) => tracing::warn!(%kid, error = %e, "unusable JWKS key ignored"),
        }
    }
    Ok(Keys { by_kid, stamp })
}

/// A signing key of this node's own, for the demo and the tests: an ES256
/// key pair in `<dir>/auth/` with the JWKS and auth configuration that
/// accept its tokens. Production deployments verify the regional identity
/// provider's tokens instead and hold no private key.
pub struct LocalIssuer {
    key: jsonwebtoken::EncodingKey,
    kid: String,
    /// The auth configuration accepting this issuer's tokens.
    pub config_path: PathBuf,
}

impl LocalIssuer {
    pub const ISSUER: &'static str = "incontra-local";
    pub const AUDIENCE: &'static str = "incontra";
    pub const KID: &'static str = "local-1";

    /// Opens the key pair in `<dir>/auth/`, creating it (with its JWKS and
    /// auth configuration) on first use.
    pub fn open_or_create(dir: &Path) -> Result<LocalIssuer, AuthError> {
        let auth = dir.join("auth");
        let key_path = auth.join("signing-key.pem");
        let config_path = auth.join("auth.toml");
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| AuthError::Read { path, source }
        };
        if !key_path.exists() {
            std::fs::create_dir_all(&auth).map_err(io(&auth))?;
            let (pem, jwks) = new_key_pair(Self::KID).map_err(|message| AuthError::Invalid {
                path: key_path.clone(),
                message,
            })?;
            write_private(&auth.join("jwks.json"), jwks.as_bytes(), false)?;
            write_private(
                &config_path,
                format!(
                    "# Accepts the tokens of this data directory's local signing key (demo).\n\
                     issuer = \"{}\"\naudience = \"{}\"\njwks_file = \"jwks.json\"\n",
                    Self::ISSUER,
                    Self::AUDIENCE
                )
                .as_bytes(),
                false,
            )?;
            write_private(&key_path, pem.as_bytes(), true)?;
        }
        let pem = std::fs::read(&key_path).map_err(io(&key_path))?;
        let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem).map_err(|e| AuthError::Invalid {
            path: key_path.clone(),
            message: e.to_string(),
        })?;
        Ok(LocalIssuer {
            key,
            kid: Self::KID.into(),
            config_path,
        })
    }

    /// A token for `subject` with `roles` (and `cpi` codes), valid for
    /// `ttl_seconds` from now.
    pub fn token(
        &self,
        subject: &str,
        roles: &[Role],
        cpi: &[&str],
        ttl_seconds: u64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = jsonwebtoken::get_current_timestamp();
        self.sign(&serde_json::json!({
            "iss": Self::ISSUER,
            "aud": Self::AUDIENCE,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "roles": roles.iter().map(|r| r.name()).collect::<Vec<_>>(),
            "cpi": cpi,
        }))
    }

    /// Signs any claims with the local key (tests forge tokens with it).
    pub fn sign(&self, claims: &Value) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key)
    }
}

/// A fresh P-256 key pair: the private key as PKCS#8 PEM and the public
/// key as a JWKS of one key named `kid`.
pub fn new_key_pair(kid: &str) -> Result<(String, String), String> {
    use base64::Engine as _;
    use p256::elliptic_curve::Generate as _;
    use p256::pkcs8::{EncodePrivateKey as _, LineEnding};
    let key = p256::ecdsa::SigningKey::try_generate().map_err(|e| e.to_string())?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?;
    let point = key.verifying_key().to_sec1_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err("public key has no affine coordinates".into());
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwks = serde_json::json!({
        "keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": b64.encode(x), "y": b64.encode(y),
        }]
    });
    Ok((pem.to_string(), jwks.to_string()))
}

/// Writes a file whole (temporary file, then rename); `secret` ones are
/// readable by their owner only.
fn write_private(path: &Path, bytes: &[u8], secret: bool) -> Result<(), AuthError> {
    let err = |source| AuthError::Read {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(err)?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    std::fs::rename(&tmp, path).map_err(err)
}
