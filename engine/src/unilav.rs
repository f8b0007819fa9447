//! The code tables a comunicazione obbligatoria must use (modello Unificato
//! LAV): tipologia contrattuale and causa di cessazione, embedded from
//! `data/reference/` (see its SOURCES.md for what they hold and why they must
//! be checked against the ministerial tables).

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::model::ContractType;

const TIPOLOGIE_CSV: &str = include_str!("../../data/reference/unilav_tipologie_contrattuali.csv");
const CAUSE_CSV: &str = include_str!("../../data/reference/unilav_cause_cessazione.csv");

/// A tipologia contrattuale: its label and the contract types it can be.
#[derive(Debug, Clone, PartialEq)]
pub struct Tipologia {
    pub label: String,
    pub contract_types: Vec<ContractType>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CodeTables {
    tipologie: HashMap<String, Tipologia>,
    /// Causes, lowercase, with whether the worker lost the job against
    /// their will.
    causes: HashMap<String, bool>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum CodeError {
    #[error("tipologia contrattuale {0:?} is not in the Unificato LAV table")]
    UnknownTipologia(String),
    #[error("tipologia contrattuale {code} ({label}) cannot be a {declared} contract")]
    TipologiaMismatch {
        code: String,
        label: String,
        declared: &'static str,
    },
    #[error("causa di cessazione {0:?} is not in the Unificato LAV table")]
    UnknownCause(String),
    #[error("code table line {line}: {reason}")]
    Table { line: usize, reason: String },
}

fn contract_type(name: &str) -> Option<ContractType> {
    Some(match name {
        "indeterminato" => ContractType::Indeterminato,
        "determinato" => ContractType::Determinato,
        "somministrazione" => ContractType::Somministrazione,
        "apprendistato" => ContractType::Apprendistato,
        "tirocinio" => ContractType::Tirocinio,
        "intermittente" => ContractType::Intermittente,
        "stagionale" => ContractType::Stagionale,
        _ => return None,
    })
}

impl CodeTables {
    pub fn parse(tipologie_csv: &str, cause_csv: &str) -> Result<CodeTables, CodeError> {
        let table = |line: usize, reason: &str| CodeError::Table {
            line,
            reason: reason.to_owned(),
        };
        let mut tipologie = HashMap::new();
        for (i, row) in tipologie_csv.lines().enumerate().skip(1) {
            let mut cols = row.splitn(3, ',');
            let (Some(code), Some(label), Some(types)) = (cols.next(), cols.next(), cols.next())
            else {
                return Err(table(i + 1, "expected code,label,contract_types"));
            };
            let contract_types = types
                .split('|')
                .map(|t| contract_type(t.trim()).ok_or_else(|| table(i + 1, "unknown type")))
                .collect::<Result<Vec<_>, _>>()?;
            tipologie.insert(
                code.trim().to_owned(),
                Tipologia {
                    label: label.trim().to_owned(),
                    contract_types,
                },
            );
        }
        let mut causes = HashMap::new();
        for (i, row) in cause_csv.lines().enumerate().skip(1) {
            let Some((cause, involuntary)) = row.rsplit_once(',') else {
                return Err(table(i + 1, "expected cause,involuntary"));
            };
            let involuntary = involuntary
                .trim()
                .parse::<bool>()
                .map_err(|_| table(i + 1, "involuntary must be true or false"))?;
            causes.insert(cause.trim().to_lowercase(), involuntary);
        }
        Ok(CodeTables { tipologie, causes })
    }

    /// The tables compiled in from `data/reference/`.
    pub fn embedded() -> Result<&'static CodeTables, CodeError> {
        static TABLES: OnceLock<Result<CodeTables, CodeError>> = OnceLock::new();
        TABLES
            .get_or_init(|| CodeTables::parse(TIPOLOGIE_CSV, CAUSE_CSV))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Checks a tipologia code against the table and the declared type.
    pub fn check_tipologia(&self, code: &str, declared: ContractType) -> Result<(), CodeError> {
        let t = self
            .tipologie
            .get(code)
            .ok_or_else(|| CodeError::UnknownTipologia(code.to_owned()))?;
        if !t.contract_types.contains(&declared) {
            return Err(CodeError::TipologiaMismatch {
                code: code.to_owned(),
                label: t.label.clone(),
                declared: declared.label(),
            });
        }
        Ok(())
    }

    /// The cause as the table spells it (lowercase), or why it is refused.
    pub fn check_cause(&self, cause: &str) -> Result<String, CodeError> {
        let key = cause.trim().to_lowercase();
        if self.causes.contains_key(&key) {
            Ok(key)
        } else {
            Err(CodeError::UnknownCause(cause.to_owned()))
        }
    }

    /// Whether the cause ends a job against the worker's will.
    pub fn is_involuntary(&self, cause: &str) -> bool {
        self.causes
            .get(&cause.trim().to_lowercase())
            .copied()
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tables_load_and_check() {
        let t = CodeTables::embedded().unwrap();
        assert!(t
            .check_tipologia("A.01.00", ContractType::Indeterminato)
            .is_ok());
        assert!(matches!(
            t.check_tipologia("A.01.00", ContractType::Determinato),
            Err(CodeError::TipologiaMismatch { .. })
        ));
        assert_eq!(
            t.check_tipologia("Z.99.99", ContractType::Determinato),
            Err(CodeError::UnknownTipologia("Z.99.99".into()))
        );
        assert_eq!(t.check_cause(" Dimissioni ").unwrap(), "dimissioni");
        assert!(t.check_cause("stanco").is_err());
        assert!(t.is_involuntary("licenziamento collettivo"));
        assert!(!t.is_involuntary("dimissioni"));
    }

    #[test]
    fn a_malformed_table_is_a_typed_error() {
        assert!(matches!(
            CodeTables::parse(
                "code,label,contract_types\nA.01.00,x,nonsense\n",
                "cause,involuntary\n"
            ),
            Err(CodeError::Table { line: 2, .. })
        ));
    }
}
