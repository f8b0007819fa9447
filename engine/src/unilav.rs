//! The code tables a comunicazione obbligatoria must use (modello Unificato
//! LAV): tipologia contrattuale and causa di cessazione, embedded from
//! `data/reference/` (see its SOURCES.md and `docs/LAW.md` for where each
//! code comes from).
//!
//! A tipologia has validity dates: the ministry closes codes (they are then
//! refused for relationships starting on or after the closing day) and opens
//! new ones, but a CO about an older relationship may still carry a closed
//! code, so it still decodes for relationships that started while it was
//! valid. The check takes the day the code applies from (the hire's start, a
//! trasformazione's day), never today, so a journaled event decodes the same
//! on every replay.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::model::{day_from_ymd, format_day, ContractType, Day};

const TIPOLOGIE_CSV: &str = include_str!("../../data/reference/unilav_tipologie_contrattuali.csv");
const CAUSE_CSV: &str = include_str!("../../data/reference/unilav_cause_cessazione.csv");

/// A tipologia contrattuale: its label, the contract types it can be
/// declared as, and the days it is valid for (`valid_from` inclusive,
/// `valid_until` exclusive; open when `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Tipologia {
    pub label: String,
    pub contract_types: Vec<ContractType>,
    pub valid_from: Option<Day>,
    pub valid_until: Option<Day>,
}

impl Tipologia {
    /// True when a relationship starting on `day` may use the code.
    pub fn valid_on(&self, day: Day) -> bool {
        self.valid_from.is_none_or(|from| from <= day)
            && self.valid_until.is_none_or(|until| day < until)
    }
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
    #[error("tipologia contrattuale {code} ({label}) was closed on {until}, before {day}")]
    ClosedTipologia {
        code: String,
        label: String,
        until: String,
        day: String,
    },
    #[error("tipologia contrattuale {code} ({label}) is valid only from {from}, after {day}")]
    NotYetValid {
        code: String,
        label: String,
        from: String,
        day: String,
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

/// A row of the tipologie table; `source` is for people and is not read.
#[derive(Debug, Deserialize)]
struct TipologiaRow {
    code: String,
    label: String,
    contract_types: String,
    valid_from: String,
    valid_until: String,
}

/// An ISO date (`2016-02-01`) of the table, or empty.
fn table_day(text: &str) -> Result<Option<Day>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let mut parts = text.splitn(3, '-').map(str::parse::<u32>);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) => i32::try_from(y)
            .ok()
            .and_then(|y| day_from_ymd(y, m, d))
            .map(Some)
            .ok_or_else(|| format!("{text:?} is not a date")),
        _ => Err(format!("{text:?} is not a YYYY-MM-DD date")),
    }
}

impl CodeTables {
    pub fn parse(tipologie_csv: &str, cause_csv: &str) -> Result<CodeTables, CodeError> {
        let table = |line: usize, reason: &str| CodeError::Table {
            line,
            reason: reason.to_owned(),
        };
        let mut tipologie = HashMap::new();
        let mut reader = csv::Reader::from_reader(tipologie_csv.as_bytes());
        for (i, row) in reader.deserialize::<TipologiaRow>().enumerate() {
            // Line 1 is the header.
            let line = i + 2;
            let row = row.map_err(|e| table(line, &e.to_string()))?;
            let contract_types = row
                .contract_types
                .split('|')
                .map(|t| contract_type(t.trim()).ok_or_else(|| table(line, "unknown type")))
                .collect::<Result<Vec<_>, _>>()?;
            let valid_from = table_day(&row.valid_from).map_err(|e| table(line, &e))?;
            let valid_until = table_day(&row.valid_until).map_err(|e| table(line, &e))?;
            if let (Some(from), Some(until)) = (valid_from, valid_until) {
                if until <= from {
                    return Err(table(line, "valid_until is not after valid_from"));
                }
            }
            let code = row.code.trim().to_owned();
            let tipologia = Tipologia {
                label: row.label.trim().to_owned(),
                contract_types,
                valid_from,
                valid_until,
            };
            if tipologie.insert(code, tipologia).is_some() {
                return Err(table(line, "code listed twice"));
            }
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

    /// The tipologia of a code, closed or not: old notices still decode.
    pub fn tipologia(&self, code: &str) -> Option<&Tipologia> {
        self.tipologie.get(code.trim())
    }

    /// Checks a tipologia code against the table, the declared type and the
    /// day the code applies from (a hire's start day, a trasformazione's
    /// day): a code closed by then, or not yet open, is refused.
    pub fn check_tipologia(
        &self,
        code: &str,
        declared: ContractType,
        day: Day,
    ) -> Result<(), CodeError> {
        let t = self
            .tipologia(code)
            .ok_or_else(|| CodeError::UnknownTipologia(code.to_owned()))?;
        if !t.contract_types.contains(&declared) {
            return Err(CodeError::TipologiaMismatch {
                code: code.to_owned(),
                label: t.label.clone(),
                declared: declared.label(),
            });
        }
        if let Some(until) = t.valid_until.filter(|&until| day >= until) {
            return Err(CodeError::ClosedTipologia {
                code: code.to_owned(),
                label: t.label.clone(),
                until: format_day(until),
                day: format_day(day),
            });
        }
        if let Some(from) = t.valid_from.filter(|&from| day < from) {
            return Err(CodeError::NotYetValid {
                code: code.to_owned(),
                label: t.label.clone(),
                from: format_day(from),
                day: format_day(day),
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

    fn day(y: i32, m: u32, d: u32) -> Day {
        day_from_ymd(y, m, d).unwrap()
    }

    #[test]
    fn embedded_tables_load_and_check() {
        let t = CodeTables::embedded().unwrap();
        let today = day(2026, 12, 10);
        assert!(t
            .check_tipologia("A.01.00", ContractType::Indeterminato, today)
            .is_ok());
        assert!(matches!(
            t.check_tipologia("A.01.00", ContractType::Determinato, today),
            Err(CodeError::TipologiaMismatch { .. })
        ));
        assert_eq!(
            t.check_tipologia("Z.99.99", ContractType::Determinato, today),
            Err(CodeError::UnknownTipologia("Z.99.99".into()))
        );
        assert_eq!(t.check_cause(" Dimissioni ").unwrap(), "dimissioni");
        assert!(t.check_cause("stanco").is_err());
        assert!(t.is_involuntary("licenziamento collettivo"));
        assert!(!t.is_involuntary("dimissioni"));
        // The expiry of a fixed-term contract is an involuntary loss of the job (NASpI).
        assert!(t.is_involuntary("fine contratto a termine"));
        assert!(t.is_involuntary("fine contratto"));
    }

    #[test]
    fn apprenticeship_labels_follow_the_ministerial_table() {
        let t = CodeTables::embedded().unwrap();
        let label = |code| t.tipologia(code).map(|t| t.label.as_str()).unwrap_or("");
        assert!(label("A.03.08").starts_with("Apprendistato per la qualifica e per il diploma"));
        assert_eq!(
            label("A.03.09"),
            "Apprendistato professionalizzante o contratto di mestiere"
        );
        assert_eq!(label("A.05.02"), "Lavoro intermittente");
    }

    #[test]
    fn codes_in_current_use_are_accepted() {
        let t = CodeTables::embedded().unwrap();
        let today = day(2026, 12, 10);
        for (code, declared) in [
            ("A.06.00", ContractType::Somministrazione),
            ("A.06.01", ContractType::Somministrazione),
            ("A.07.02", ContractType::Indeterminato),
            ("A.08.02", ContractType::Determinato),
            ("B.03.00", ContractType::Determinato),
            ("C.03.00", ContractType::Determinato),
            ("C.04.00", ContractType::Tirocinio),
            ("N.01.00", ContractType::Indeterminato),
            ("N.02.00", ContractType::Determinato),
            ("N.03.00", ContractType::Determinato),
        ] {
            assert_eq!(t.check_tipologia(code, declared, today), Ok(()), "{code}");
        }
    }

    #[test]
    fn closed_codes_decode_for_old_relationships_and_are_refused_for_new_ones() {
        let t = CodeTables::embedded().unwrap();
        // B.01.00 was closed on 01/02/2016, when B.03.00 opened.
        let declared = ContractType::Determinato;
        assert_eq!(
            t.check_tipologia("B.01.00", declared, day(2016, 1, 31)),
            Ok(())
        );
        assert!(matches!(
            t.check_tipologia("B.01.00", declared, day(2016, 2, 1)),
            Err(CodeError::ClosedTipologia { .. })
        ));
        assert!(matches!(
            t.check_tipologia("B.03.00", declared, day(2016, 1, 31)),
            Err(CodeError::NotYetValid { .. })
        ));
        assert_eq!(
            t.check_tipologia("B.03.00", declared, day(2016, 2, 1)),
            Ok(())
        );
        // A closed code still names its tipologia.
        assert!(t.tipologia("A.03.00").is_some());
        assert!(matches!(
            t.check_tipologia("A.03.00", ContractType::Apprendistato, day(2027, 1, 1)),
            Err(CodeError::ClosedTipologia { .. })
        ));
        assert_eq!(
            t.check_tipologia("A.05.01", ContractType::Intermittente, day(2015, 1, 1)),
            Ok(())
        );
    }

    #[test]
    fn a_malformed_table_is_a_typed_error() {
        let header = "code,label,contract_types,valid_from,valid_until,source\n";
        for (row, line) in [
            ("A.01.00,x,nonsense,,,s\n", 2),
            ("A.01.00,x,indeterminato,2016-13-01,,s\n", 2),
            ("A.01.00,x,indeterminato,2016-02-01,2016-01-01,s\n", 2),
            (
                "A.01.00,x,indeterminato,,,s\nA.01.00,y,indeterminato,,,s\n",
                3,
            ),
        ] {
            assert!(
                matches!(
                    CodeTables::parse(&format!("{header}{row}"), "cause,involuntary\n"),
                    Err(CodeError::Table { line: l, .. }) if l == line
                ),
                "{row}"
            );
        }
    }
}
