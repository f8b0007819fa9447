//! Scoring configuration: criterion weights and the tuning constants of each
//! criterion, read from a TOML file so ranking policy changes need no build.

use crate::availability::AvailabilityPolicy;
use serde::{Deserialize, Serialize};

/// The default configuration shipped with the code (`config/scoring.toml`).
pub const DEFAULT_SCORING_TOML: &str = include_str!("../../config/scoring.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("scoring configuration is not valid TOML: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("scoring configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    pub profession: f64,
    pub skills: f64,
    pub text: f64,
    pub distance: f64,
    pub experience: f64,
    pub education: f64,
    pub languages: f64,
    pub licences: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistanceConfig {
    pub road_factor: f64,
    pub decay_km: f64,
    pub default_max_km: u32,
    pub max_search_km: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillsConfig {
    pub declared_credit: f64,
    pub required_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperienceConfig {
    pub full_credit_months: u32,
    pub relevant_depth: usize,
}

/// Text relevance: how many of a query's analysed words (a vacancy's, or a
/// person's, in order of first appearance) are scored; beyond them BM25
/// over long texts costs more than it discriminates. It changes scores, so
/// a change needs a new `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextConfig {
    pub max_query_terms: usize,
}

impl Default for TextConfig {
    fn default() -> Self {
        TextConfig {
            max_query_terms: 48,
        }
    }
}

/// Target-group boosts: policy, not fit. Each is added to the score of a
/// candidate in the group, as a contribution of its own with its reason, so
/// a list shows exactly how much priority moved someone. 0 disables one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoostConfig {
    /// Unemployed (from the DID) for at least `long_term_months`.
    pub long_term_unemployed: f64,
    pub long_term_months: u32,
    /// Receiving NASpI, DIS-COLL, ADI or SFL.
    pub benefit_recipient: f64,
    /// Flagged vulnerable by the CPI.
    pub vulnerable: f64,
    /// On GOL path 4 (lavoro e inclusione), the furthest from work.
    pub gol_lavoro_e_inclusione: f64,
}

impl Default for BoostConfig {
    fn default() -> Self {
        BoostConfig {
            long_term_unemployed: 0.0,
            long_term_months: 12,
            benefit_recipient: 0.0,
            vulnerable: 0.0,
            gol_lavoro_e_inclusione: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringConfig {
    /// Names the weights in force; every issued list records it, so an
    /// outcome can be traced to the weights that ranked it.
    #[serde(default)]
    pub version: String,
    pub weights: Weights,
    pub distance: DistanceConfig,
    pub skills: SkillsConfig,
    pub experience: ExperienceConfig,
    /// Absent = no boosts.
    #[serde(default)]
    pub boosts: BoostConfig,
    /// When employment takes a worker out of lists; absent = the default
    /// policy.
    #[serde(default)]
    pub availability: AvailabilityPolicy,
    /// Absent = the default.
    #[serde(default)]
    pub text: TextConfig,
}

impl ScoringConfig {
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: ScoringConfig = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration compiled in from `config/scoring.toml`.
    pub fn embedded_default() -> Result<Self, ConfigError> {
        Self::from_toml(DEFAULT_SCORING_TOML)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=1_000).contains(&self.text.max_query_terms) {
            return Err(ConfigError::Invalid(
                "text.max_query_terms must be 1..=1000".into(),
            ));
        }
        let w = &self.weights;
        let all = [
            w.profession,
            w.skills,
            w.text,
            w.distance,
            w.experience,
            w.education,
            w.languages,
            w.licences,
        ];
        if all.iter().any(|x| !x.is_finite() || *x < 0.0) {
            return Err(ConfigError::Invalid(
                "weights must be finite and >= 0".into(),
            ));
        }
        if all.iter().sum::<f64>() <= 0.0 {
            return Err(ConfigError::Invalid(
                "at least one weight must be > 0".into(),
            ));
        }
        if !(self.distance.road_factor >= 1.0 && self.distance.decay_km > 0.0) {
            return Err(ConfigError::Invalid(
                "distance.road_factor must be >= 1 and decay_km > 0".into(),
            ));
        }
        for (name, x) in [
            ("skills.declared_credit", self.skills.declared_credit),
            ("skills.required_share", self.skills.required_share),
        ] {
            if !(0.0..=1.0).contains(&x) {
                return Err(ConfigError::Invalid(format!("{name} must be in [0,1]")));
            }
        }
        let b = &self.boosts;
        for (name, x) in [
            ("boosts.long_term_unemployed", b.long_term_unemployed),
            ("boosts.benefit_recipient", b.benefit_recipient),
            ("boosts.vulnerable", b.vulnerable),
            ("boosts.gol_lavoro_e_inclusione", b.gol_lavoro_e_inclusione),
        ] {
            // A boost larger than a fifth of the whole fit score would let
            // priority outrank ability to do the job.
            if !(0.0..=0.2).contains(&x) {
                return Err(ConfigError::Invalid(format!("{name} must be in [0, 0.2]")));
            }
        }
        if !(1..=100).contains(&self.availability.unavailable_from_hours_percent) {
            return Err(ConfigError::Invalid(
                "availability.unavailable_from_hours_percent must be 1..=100".into(),
            ));
        }
        if !(1..=5).contains(&self.experience.relevant_depth) {
            return Err(ConfigError::Invalid(
                "experience.relevant_depth must be 1..=5".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses() {
        let c = ScoringConfig::embedded_default().unwrap();
        assert!(c.weights.profession > 0.0);
    }

    #[test]
    fn negative_weight_is_refused() {
        let text = DEFAULT_SCORING_TOML.replace("profession = 0.28", "profession = -1.0");
        assert!(matches!(
            ScoringConfig::from_toml(&text),
            Err(ConfigError::Invalid(_))
        ));
    }

    #[test]
    fn unknown_key_is_refused() {
        let text = format!("{DEFAULT_SCORING_TOML}\n[extra]\nx = 1\n");
        assert!(ScoringConfig::from_toml(&text).is_err());
    }
}
