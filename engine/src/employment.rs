//! Employment records: each worker's comunicazioni obbligatorie and the
//! contracts they describe.
//!
//! A record keeps the notices themselves, in arrival order, and derives the
//! contracts by replaying them; a rettifica replaces a notice in place and an
//! annullamento removes it, so corrections give the same state however late
//! they arrive.

use serde::{Deserialize, Serialize};

use crate::event::{CoAction, CoQuadro, ComunicazioneObbligatoria};
use crate::model::{ContractType, Day};

/// One employment relationship as the notices describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    /// Codice comunicazione of the hire.
    pub hire_code: String,
    pub employer_fiscal_code: String,
    pub employer_name: String,
    pub workplace_comune: String,
    pub start_day: Day,
    pub end_day: Option<Day>,
    pub contract_type: ContractType,
    pub profession_code: String,
    pub hours_percent: u32,
    /// Day and cause of a cessazione, when one arrived.
    pub ceased: Option<(Day, String)>,
}

impl Contract {
    /// In force on `day`: started, not past its end date, not ceased. The
    /// cessazione date of the Unificato LAV form is the last day worked, so
    /// the contract still holds on it.
    pub fn active_on(&self, day: Day) -> bool {
        self.start_day <= day
            && self.end_day.is_none_or(|end| end >= day)
            && self
                .ceased
                .as_ref()
                .is_none_or(|(ceased, _)| *ceased >= day)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EmploymentRecord {
    notices: Vec<ComunicazioneObbligatoria>,
    contracts: Vec<Contract>,
}

impl EmploymentRecord {
    pub fn notices(&self) -> &[ComunicazioneObbligatoria] {
        &self.notices
    }

    pub fn contracts(&self) -> &[Contract] {
        &self.contracts
    }

    /// Contracts in force on `day`.
    pub fn active_on(&self, day: Day) -> impl Iterator<Item = &Contract> {
        self.contracts.iter().filter(move |c| c.active_on(day))
    }

    /// Sum of the part-time shares of the contracts in force on `day`.
    pub fn busy_hours_percent(&self, day: Day) -> u32 {
        self.active_on(day).map(|c| c.hours_percent).sum()
    }

    /// Records a notice and re-derives the contracts. Returns false when a
    /// correction names a notice this worker never had; the caller counts it.
    pub fn record(&mut self, notice: ComunicazioneObbligatoria) -> bool {
        let known = |code: &str, notices: &[ComunicazioneObbligatoria]| {
            notices.iter().position(|n| n.code == code)
        };
        match notice.action {
            CoAction::Original => {
                if known(&notice.code, &self.notices).is_some() {
                    return false;
                }
                self.notices.push(notice);
            }
            CoAction::Rettifica => match known(&notice.previous_code, &self.notices) {
                Some(i) => {
                    let mut replaced = notice;
                    // The correction takes the place, and the code, of the
                    // original, so later corrections can refer to either.
                    replaced.code = std::mem::take(&mut self.notices[i].code);
                    replaced.action = CoAction::Original;
                    replaced.previous_code.clear();
                    self.notices[i] = replaced;
                }
                None => return false,
            },
            CoAction::Annullamento => match known(&notice.previous_code, &self.notices) {
                Some(i) => {
                    self.notices.remove(i);
                }
                None => return false,
            },
        }
        self.contracts = derive_contracts(&self.notices);
        true
    }
}

/// Replays notices into contracts. A proroga, trasformazione or cessazione
/// applies to the latest contract with the same employer, since the form
/// identifies the relationship by employer and worker.
fn derive_contracts(notices: &[ComunicazioneObbligatoria]) -> Vec<Contract> {
    let mut contracts: Vec<Contract> = Vec::new();
    for n in notices {
        fn latest_with_employer<'c>(
            contracts: &'c mut [Contract],
            employer: &str,
        ) -> Option<&'c mut Contract> {
            contracts
                .iter_mut()
                .rev()
                .find(|c| c.employer_fiscal_code == employer)
        }
        let employer = n.datore.fiscal_code.as_str();
        match &n.quadro {
            CoQuadro::Assunzione {
                start_day,
                end_day,
                contract_type,
                profession_code,
                hours_percent,
                ..
            } => contracts.push(Contract {
                hire_code: n.code.clone(),
                employer_fiscal_code: n.datore.fiscal_code.clone(),
                employer_name: n.datore.name.clone(),
                workplace_comune: n.workplace_comune.clone(),
                start_day: *start_day,
                end_day: *end_day,
                contract_type: *contract_type,
                profession_code: profession_code.clone(),
                hours_percent: *hours_percent,
                ceased: None,
            }),
            CoQuadro::Proroga { new_end_day } => {
                if let Some(c) = latest_with_employer(&mut contracts, employer) {
                    c.end_day = Some(*new_end_day);
                }
            }
            CoQuadro::Trasformazione {
                contract_type,
                hours_percent,
                ..
            } => {
                if let Some(c) = latest_with_employer(&mut contracts, employer) {
                    c.contract_type = *contract_type;
                    if *contract_type == ContractType::Indeterminato {
                        c.end_day = None;
                    }
                    if *hours_percent > 0 {
                        c.hours_percent = *hours_percent;
                    }
                }
            }
            CoQuadro::Cessazione { day, cause } => {
                if let Some(c) = latest_with_employer(&mut contracts, employer) {
                    c.ceased = Some((*day, cause.clone()));
                }
            }
            CoQuadro::None => {}
        }
    }
    contracts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Employer;

    fn notice(
        code: &str,
        action: CoAction,
        previous: &str,
        quadro: CoQuadro,
    ) -> ComunicazioneObbligatoria {
        ComunicazioneObbligatoria {
            code: code.into(),
            action,
            previous_code: previous.into(),
            datore: Employer {
                fiscal_code: "01234567890".into(),
                name: "Rossi Srl".into(),
                ..Employer::default()
            },
            workplace_comune: "001272".into(),
            quadro,
        }
    }

    fn hire(code: &str, start: Day, end: Option<Day>) -> ComunicazioneObbligatoria {
        notice(
            code,
            CoAction::Original,
            "",
            CoQuadro::Assunzione {
                start_day: start,
                end_day: end,
                contract_code: "A.02.00".into(),
                contract_type: ContractType::Determinato,
                profession_code: "5.2.2.1.0".into(),
                ccnl: String::new(),
                hours_percent: 100,
            },
        )
    }

    #[test]
    fn hire_then_cessation_frees_the_worker() {
        let mut r = EmploymentRecord::default();
        assert!(r.record(hire("C1", 100, None)));
        assert_eq!(r.busy_hours_percent(150), 100);
        assert!(r.record(notice(
            "C2",
            CoAction::Original,
            "",
            CoQuadro::Cessazione {
                day: 200,
                cause: "dimissioni".into()
            }
        )));
        assert_eq!(r.busy_hours_percent(150), 100);
        assert_eq!(
            r.busy_hours_percent(200),
            100,
            "the cessazione day is still worked"
        );
        assert_eq!(r.busy_hours_percent(201), 0);
    }

    #[test]
    fn proroga_extends_and_annullamento_undoes_it() {
        let mut r = EmploymentRecord::default();
        r.record(hire("C1", 100, Some(130)));
        assert_eq!(r.busy_hours_percent(140), 0);
        r.record(notice(
            "C2",
            CoAction::Original,
            "",
            CoQuadro::Proroga { new_end_day: 160 },
        ));
        assert_eq!(r.busy_hours_percent(140), 100);
        assert!(r.record(notice("C3", CoAction::Annullamento, "C2", CoQuadro::None)));
        assert_eq!(r.busy_hours_percent(140), 0);
    }

    #[test]
    fn rettifica_replaces_the_original_content() {
        let mut r = EmploymentRecord::default();
        r.record(hire("C1", 100, Some(130)));
        let mut corrected = hire("C9", 100, Some(300));
        corrected.action = CoAction::Rettifica;
        corrected.previous_code = "C1".into();
        assert!(r.record(corrected));
        assert_eq!(r.contracts().len(), 1);
        assert_eq!(r.contracts()[0].end_day, Some(300));
        assert_eq!(r.contracts()[0].hire_code, "C1");
    }

    #[test]
    fn correction_of_unknown_notice_is_refused() {
        let mut r = EmploymentRecord::default();
        assert!(!r.record(notice("C3", CoAction::Annullamento, "NOPE", CoQuadro::None)));
        assert!(r.record(hire("C1", 1, None)));
        assert!(!r.record(hire("C1", 1, None)), "the same code twice");
    }
}
