//! Employment records: each worker's comunicazioni obbligatorie and the
//! contracts they describe.
//!
//! A record keeps the notices themselves, in arrival order, and derives the
//! contracts by replaying them; a rettifica replaces a notice in place and an
//! annullamento removes it, so corrections give the same state however late
//! they arrive.

use serde::{Deserialize, Serialize};

use crate::event::{CoAction, CoQuadro, ComunicazioneObbligatoria};
use crate::model::{format_day, ContractType, Day};

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
    /// Yearly gross pay stated by the hire notice, in euros; `None` when not stated.
    pub annual_pay_eur: Option<u32>,
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

    /// Over by `day`: past its end date or its cessazione. A contract that
    /// has not started yet is not over.
    pub fn over_by(&self, day: Day) -> bool {
        self.end_day.is_some_and(|end| end < day)
            || self
                .ceased
                .as_ref()
                .is_some_and(|(ceased, _)| *ceased < day)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EmploymentRecord {
    notices: Vec<ComunicazioneObbligatoria>,
    /// Codes of applied rettifiche, each with the code of the notice it
    /// replaced: a later correction may name either.
    aliases: Vec<(String, String)>,
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

    /// The last day on which some contract is not over (see
    /// [`Contract::over_by`]); `None` without contracts. From the next day
    /// on, every contract is over and the worker is free.
    pub fn committed_until(&self) -> Option<Day> {
        self.contracts
            .iter()
            .map(|c| {
                let end = c.end_day.unwrap_or(Day::MAX);
                c.ceased
                    .as_ref()
                    .map_or(end, |(ceased, _)| end.min(*ceased))
            })
            .max()
    }

    /// Sum of the part-time shares of the contracts in force on `day`.
    pub fn busy_hours_percent(&self, day: Day) -> u32 {
        self.active_on(day).map(|c| c.hours_percent).sum()
    }

    fn position_of(&self, code: &str) -> Option<usize> {
        let code = self
            .aliases
            .iter()
            .find(|(alias, _)| alias == code)
            .map_or(code, |(_, original)| original.as_str());
        self.notices.iter().position(|n| n.code == code)
    }

    /// Records a notice and re-derives the contracts, or refuses it with the
    /// reason and changes nothing: a code seen before, a correction of a
    /// notice this worker never had, or a notice that contradicts the
    /// contracts (a proroga that does not extend, a cessazione before the
    /// hire, an event for a relationship that does not exist).
    pub fn record(&mut self, notice: ComunicazioneObbligatoria) -> Result<(), String> {
        // Codici comunicazione are unique nationally: one seen before, even
        // on a notice since annulled, is a resend.
        let used = self.position_of(&notice.code).is_some()
            || self
                .aliases
                .iter()
                .any(|(alias, original)| *alias == notice.code || *original == notice.code);
        if used {
            return Err("codice comunicazione già ricevuto".into());
        }
        let mut notices = self.notices.clone();
        let mut alias = None;
        match notice.action {
            CoAction::Original => notices.push(notice),
            CoAction::Rettifica => {
                let i = self.position_of(&notice.previous_code).ok_or_else(|| {
                    format!(
                        "rettifica di una comunicazione sconosciuta ({})",
                        notice.previous_code
                    )
                })?;
                let mut replaced = notice;
                // The correction takes the place, and the code, of the
                // original, so the contracts read as if it had been right
                // from the start, however late the correction came.
                alias = Some((replaced.code.clone(), notices[i].code.clone()));
                replaced.code = notices[i].code.clone();
                replaced.action = CoAction::Original;
                replaced.previous_code.clear();
                notices[i] = replaced;
            }
            CoAction::Annullamento => {
                let i = self.position_of(&notice.previous_code).ok_or_else(|| {
                    format!(
                        "annullamento di una comunicazione sconosciuta ({})",
                        notice.previous_code
                    )
                })?;
                alias = Some((notice.code.clone(), notices[i].code.clone()));
                notices.remove(i);
            }
        }
        let contracts = derive_contracts(&notices)?;
        self.notices = notices;
        self.contracts = contracts;
        self.aliases.extend(alias);
        Ok(())
    }
}

/// Replays notices into contracts, refusing a sequence that contradicts
/// itself. A proroga, trasformazione or cessazione applies to the latest
/// contract with the same employer, since the form identifies the
/// relationship by employer and worker.
fn derive_contracts(notices: &[ComunicazioneObbligatoria]) -> Result<Vec<Contract>, String> {
    let mut contracts: Vec<Contract> = Vec::new();
    for n in notices {
        let employer = n.datore.fiscal_code.as_str();
        fn relationship<'c>(
            contracts: &'c mut [Contract],
            employer: &str,
            what: &str,
            code: &str,
        ) -> Result<&'c mut Contract, String> {
            contracts
                .iter_mut()
                .rev()
                .find(|c| c.employer_fiscal_code == employer)
                .ok_or_else(|| format!("{what} {code} senza un'assunzione presso lo stesso datore"))
        }
        match &n.quadro {
            CoQuadro::Assunzione {
                start_day,
                end_day,
                contract_type,
                profession_code,
                hours_percent,
                annual_pay_eur,
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
                annual_pay_eur: *annual_pay_eur,
                ceased: None,
            }),
            CoQuadro::Proroga { new_end_day } => {
                let c = relationship(&mut contracts, employer, "proroga", &n.code)?;
                match c.end_day {
                    None => {
                        return Err(format!(
                            "proroga {} di un rapporto a tempo indeterminato",
                            n.code
                        ))
                    }
                    Some(end) if *new_end_day <= end => {
                        return Err(format!(
                            "proroga {} al {}: non oltre la scadenza del {}",
                            n.code,
                            format_day(*new_end_day),
                            format_day(end)
                        ))
                    }
                    Some(_) => c.end_day = Some(*new_end_day),
                }
            }
            CoQuadro::Trasformazione {
                day,
                contract_type,
                hours_percent,
                ..
            } => {
                let c = relationship(&mut contracts, employer, "trasformazione", &n.code)?;
                if *day < c.start_day {
                    return Err(format!(
                        "trasformazione {} del {} anteriore all'assunzione del {}",
                        n.code,
                        format_day(*day),
                        format_day(c.start_day)
                    ));
                }
                c.contract_type = *contract_type;
                if *contract_type == ContractType::Indeterminato {
                    c.end_day = None;
                }
                if *hours_percent > 0 {
                    c.hours_percent = *hours_percent;
                }
            }
            CoQuadro::Cessazione { day, cause } => {
                let c = relationship(&mut contracts, employer, "cessazione", &n.code)?;
                if *day < c.start_day {
                    return Err(format!(
                        "cessazione {} del {} anteriore all'assunzione del {}",
                        n.code,
                        format_day(*day),
                        format_day(c.start_day)
                    ));
                }
                if c.ceased.is_some() {
                    return Err(format!("cessazione {} di un rapporto già cessato", n.code));
                }
                c.ceased = Some((*day, cause.clone()));
            }
            CoQuadro::None => {}
        }
    }
    Ok(contracts)
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
                annual_pay_eur: None,
            },
        )
    }

    #[test]
    fn hire_then_cessation_frees_the_worker() {
        let mut r = EmploymentRecord::default();
        r.record(hire("C1", 100, None)).unwrap();
        assert_eq!(r.busy_hours_percent(150), 100);
        r.record(notice(
            "C2",
            CoAction::Original,
            "",
            CoQuadro::Cessazione {
                day: 200,
                cause: "dimissioni".into(),
            },
        ))
        .unwrap();
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
        r.record(hire("C1", 100, Some(130))).unwrap();
        assert_eq!(r.busy_hours_percent(140), 0);
        r.record(notice(
            "C2",
            CoAction::Original,
            "",
            CoQuadro::Proroga { new_end_day: 160 },
        ))
        .unwrap();
        assert_eq!(r.busy_hours_percent(140), 100);
        r.record(notice("C3", CoAction::Annullamento, "C2", CoQuadro::None))
            .unwrap();
        assert_eq!(r.busy_hours_percent(140), 0);
    }

    #[test]
    fn rettifica_replaces_the_original_content() {
        let mut r = EmploymentRecord::default();
        r.record(hire("C1", 100, Some(130))).unwrap();
        let mut corrected = hire("C9", 100, Some(300));
        corrected.action = CoAction::Rettifica;
        corrected.previous_code = "C1".into();
        r.record(corrected).unwrap();
        assert_eq!(r.contracts().len(), 1);
        assert_eq!(r.contracts()[0].end_day, Some(300));
        assert_eq!(r.contracts()[0].hire_code, "C1");
    }

    #[test]
    fn correction_of_unknown_notice_is_refused() {
        let mut r = EmploymentRecord::default();
        assert!(r
            .record(notice("C3", CoAction::Annullamento, "NOPE", CoQuadro::None))
            .is_err());
        assert!(r.record(hire("C1", 1, None)).is_ok());
        assert!(
            r.record(hire("C1", 1, None)).is_err(),
            "the same code twice"
        );
    }

    #[test]
    fn a_later_correction_may_name_the_rettifica() {
        let mut r = EmploymentRecord::default();
        r.record(hire("C1", 100, Some(130))).unwrap();
        let mut corrected = hire("C9", 100, Some(300));
        corrected.action = CoAction::Rettifica;
        corrected.previous_code = "C1".into();
        r.record(corrected).unwrap();
        r.record(notice("C10", CoAction::Annullamento, "C9", CoQuadro::None))
            .unwrap();
        assert!(r.contracts().is_empty());
        assert!(r.record(hire("C9", 1, None)).is_err(), "C9 was used");
    }

    #[test]
    fn contradictory_notices_are_refused_and_change_nothing() {
        let mut r = EmploymentRecord::default();
        let orphan = notice(
            "C0",
            CoAction::Original,
            "",
            CoQuadro::Cessazione {
                day: 50,
                cause: "dimissioni".into(),
            },
        );
        assert!(r.record(orphan).is_err(), "no hire with that employer");
        r.record(hire("C1", 100, Some(130))).unwrap();
        let before = r.clone();
        let shortening = notice(
            "C2",
            CoAction::Original,
            "",
            CoQuadro::Proroga { new_end_day: 120 },
        );
        let early_end = notice(
            "C3",
            CoAction::Original,
            "",
            CoQuadro::Cessazione {
                day: 99,
                cause: "dimissioni".into(),
            },
        );
        // A rettifica moving the hire after its own cessazione.
        r.record(notice(
            "C4",
            CoAction::Original,
            "",
            CoQuadro::Cessazione {
                day: 110,
                cause: "dimissioni".into(),
            },
        ))
        .unwrap();
        let with_end = r.clone();
        let mut late_start = hire("C5", 120, Some(130));
        late_start.action = CoAction::Rettifica;
        late_start.previous_code = "C1".into();
        assert!(r.record(late_start).is_err());
        assert_eq!(r, with_end);
        let twice = notice(
            "C6",
            CoAction::Original,
            "",
            CoQuadro::Cessazione {
                day: 111,
                cause: "licenziamento".into(),
            },
        );
        assert!(r.record(twice).is_err());
        assert_eq!(r, with_end);
        let mut fresh = before.clone();
        assert!(fresh.record(shortening).is_err());
        assert!(fresh.record(early_end).is_err());
        assert_eq!(fresh, before);
    }
}
