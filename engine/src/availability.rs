//! Whether a worker can be proposed today, derived from their comunicazioni
//! obbligatorie by a configurable policy: a per-worker state machine whose
//! transitions are the notices (a hire, a proroga or trasformazione that
//! changes the terms, a cessazione) and whose state is read on the day asked.
//!
//! This is a list-visibility policy, not the legal unemployment status: the
//! status depends on the income a job pays, not on its hours (D.L. 4/2019
//! art. 4 c.15-quater; `crate::unemployment`, see `docs/LAW.md`). The default
//! keeps a person on a short contract (up to six months, the length after
//! which ANPAL circ. 1/2019 ends a suspension) or on a small part-time share
//! listed, flagged; a long or open-ended job at (nearly) full time takes them
//! out. The hours threshold is this project's choice, not a rule of law. A hire notified
//! before its start day counts from the notice: a person hired this morning
//! for next Monday must not be proposed this afternoon.

use serde::{Deserialize, Serialize};

use crate::employment::{Contract, EmploymentRecord};
use crate::model::{format_day, Day};

/// The thresholds of the state machine (`[availability]` in the scoring
/// configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityPolicy {
    /// A contract at or above this share of full time makes the worker
    /// unavailable, unless it is short.
    pub unavailable_from_hours_percent: u32,
    /// A fixed-term contract of at most this many days (from its start to
    /// its end) is short: the worker stays available, flagged.
    pub short_contract_max_days: u32,
}

impl Default for AvailabilityPolicy {
    fn default() -> Self {
        AvailabilityPolicy {
            unavailable_from_hours_percent: 80,
            // Six months, the longest suspension of the unemployment status.
            short_contract_max_days: 183,
        }
    }
}

/// What the policy says of a worker on a day.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerAvailability {
    /// No contract in force or announced.
    Free,
    /// Working, but within the policy: still proposed, with a flag.
    /// `busy_hours_percent` is the share of full time already taken.
    Flagged {
        contract: Contract,
        busy_hours_percent: u32,
    },
    /// Taken by a contract the policy deems a job found.
    Unavailable { contract: Contract },
}

impl AvailabilityPolicy {
    /// Is `contract` a job found (as opposed to a short or small one)?
    fn ends_search(&self, contract: &Contract) -> bool {
        let long = match contract.end_day {
            None => true,
            Some(end) => {
                i64::from(end) - i64::from(contract.start_day)
                    > i64::from(self.short_contract_max_days)
            }
        };
        long && contract.hours_percent >= self.unavailable_from_hours_percent
    }

    /// The verdict of [`AvailabilityPolicy::assess`] without the contract
    /// that explains it, at no allocation: lists judge every worker within
    /// reach and need only this; the sentence is built for the kept rows.
    pub fn load(&self, record: Option<&EmploymentRecord>, today: Day) -> WorkLoad {
        let Some(record) = record else {
            return WorkLoad::Free;
        };
        let mut busy = 0;
        let mut committed = false;
        for c in record.contracts().iter().filter(|c| !c.over_by(today)) {
            if self.ends_search(c) {
                return WorkLoad::Taken;
            }
            committed = true;
            busy += c.hours_percent;
        }
        if committed {
            WorkLoad::Busy(busy)
        } else {
            WorkLoad::Free
        }
    }

    /// The worker's state on `today`: every contract not over by then counts,
    /// including one that starts later.
    pub fn assess(&self, record: Option<&EmploymentRecord>, today: Day) -> WorkerAvailability {
        let Some(record) = record else {
            return WorkerAvailability::Free;
        };
        let mut committed: Vec<&Contract> = record
            .contracts()
            .iter()
            .filter(|c| !c.over_by(today))
            .collect();
        // Latest hire first, so the sentence names the newest contract.
        committed.sort_by(|a, b| {
            b.start_day
                .cmp(&a.start_day)
                .then_with(|| a.hire_code.cmp(&b.hire_code))
        });
        if let Some(taken) = committed.iter().find(|c| self.ends_search(c)) {
            return WorkerAvailability::Unavailable {
                contract: (*taken).clone(),
            };
        }
        match committed.first() {
            None => WorkerAvailability::Free,
            Some(latest) => WorkerAvailability::Flagged {
                contract: (*latest).clone(),
                busy_hours_percent: committed.iter().map(|c| c.hours_percent).sum(),
            },
        }
    }
}

/// [`WorkerAvailability`] without its contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkLoad {
    Free,
    /// Flagged, with the share of full time already taken.
    Busy(u32),
    Taken,
}

impl WorkerAvailability {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, WorkerAvailability::Unavailable { .. })
    }

    /// Share of full time already taken by contracts within the policy.
    pub fn busy_hours_percent(&self) -> u32 {
        match self {
            WorkerAvailability::Free => 0,
            WorkerAvailability::Flagged {
                busy_hours_percent, ..
            } => *busy_hours_percent,
            WorkerAvailability::Unavailable { contract } => contract.hours_percent,
        }
    }
}

/// "assunto/a il 02/03/2026 a tempo determinato fino al 31/05/2026 da Rossi
/// Srl, al 50%": the contract as an operator would say it.
pub fn describe(contract: &Contract, today: Day) -> String {
    let verb = if contract.start_day > today {
        "assunto/a dal"
    } else {
        "assunto/a il"
    };
    let until = contract
        .end_day
        .map(|end| format!(" fino al {}", format_day(end)))
        .unwrap_or_default();
    format!(
        "{verb} {} a {}{until} da {}, al {}%",
        format_day(contract.start_day),
        contract.contract_type.label(),
        contract.employer_name,
        contract.hours_percent
    )
    .replace("a tempo tempo", "a tempo")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CoAction, CoQuadro, ComunicazioneObbligatoria};
    use crate::model::{ContractType, Employer};

    fn hire(
        code: &str,
        start: Day,
        end: Option<Day>,
        kind: ContractType,
        hours: u32,
    ) -> ComunicazioneObbligatoria {
        ComunicazioneObbligatoria {
            code: code.into(),
            action: CoAction::Original,
            previous_code: String::new(),
            datore: Employer {
                fiscal_code: "01234567890".into(),
                name: "Rossi Srl".into(),
                ..Employer::default()
            },
            workplace_comune: "001272".into(),
            quadro: CoQuadro::Assunzione {
                start_day: start,
                end_day: end,
                contract_code: "A.01.00".into(),
                contract_type: kind,
                profession_code: "5.2.2.1.0".into(),
                ccnl: String::new(),
                hours_percent: hours,
                annual_pay_eur: None,
            },
        }
    }

    fn cessation(code: &str, day: Day) -> ComunicazioneObbligatoria {
        ComunicazioneObbligatoria {
            quadro: CoQuadro::Cessazione {
                day,
                cause: "dimissioni".into(),
            },
            ..hire(code, 0, None, ContractType::Unspecified, 100)
        }
    }

    #[test]
    fn permanent_full_time_hire_ends_the_search_until_a_cessazione() {
        let policy = AvailabilityPolicy::default();
        let mut r = EmploymentRecord::default();
        assert_eq!(policy.assess(Some(&r), 100), WorkerAvailability::Free);
        r.record(hire("C1", 100, None, ContractType::Indeterminato, 100))
            .unwrap();
        let state = policy.assess(Some(&r), 150);
        assert!(state.is_unavailable());
        if let WorkerAvailability::Unavailable { contract } = &state {
            assert!(describe(contract, 150).contains("a tempo indeterminato"));
        }
        r.record(cessation("C2", 200)).unwrap();
        assert!(policy.assess(Some(&r), 200).is_unavailable());
        assert_eq!(policy.assess(Some(&r), 201), WorkerAvailability::Free);
    }

    #[test]
    fn short_or_small_contracts_leave_the_worker_available_with_a_flag() {
        let policy = AvailabilityPolicy::default();
        let mut short = EmploymentRecord::default();
        short
            .record(hire("C1", 100, Some(160), ContractType::Determinato, 100))
            .unwrap();
        assert!(matches!(
            policy.assess(Some(&short), 120),
            WorkerAvailability::Flagged {
                busy_hours_percent: 100,
                ..
            }
        ));
        let mut small = EmploymentRecord::default();
        small
            .record(hire("C1", 100, None, ContractType::Indeterminato, 50))
            .unwrap();
        assert_eq!(policy.assess(Some(&small), 120).busy_hours_percent(), 50);
        assert!(!policy.assess(Some(&small), 120).is_unavailable());
        // A proroga past six months turns the short job into a found one.
        short
            .record(ComunicazioneObbligatoria {
                quadro: CoQuadro::Proroga { new_end_day: 400 },
                ..hire("C2", 0, None, ContractType::Unspecified, 100)
            })
            .unwrap();
        assert!(policy.assess(Some(&short), 120).is_unavailable());
    }

    #[test]
    fn a_hire_counts_from_its_notice_not_from_its_start() {
        let policy = AvailabilityPolicy::default();
        let mut r = EmploymentRecord::default();
        r.record(hire("C1", 130, None, ContractType::Indeterminato, 100))
            .unwrap();
        let state = policy.assess(Some(&r), 120);
        assert!(state.is_unavailable());
        if let WorkerAvailability::Unavailable { contract } = state {
            assert!(describe(&contract, 120).starts_with("assunto/a dal"));
        }
    }

    #[test]
    fn the_load_is_the_assessment_without_its_contract() {
        let policies = [
            AvailabilityPolicy::default(),
            AvailabilityPolicy {
                unavailable_from_hours_percent: 40,
                short_contract_max_days: 30,
            },
        ];
        let mut records = vec![EmploymentRecord::default()];
        let mut r = EmploymentRecord::default();
        r.record(hire("C1", 100, Some(160), ContractType::Determinato, 50))
            .unwrap();
        records.push(r.clone());
        r.record(hire("C2", 120, None, ContractType::Indeterminato, 30))
            .unwrap();
        records.push(r.clone());
        r.record(hire("C3", 140, Some(400), ContractType::Determinato, 100))
            .unwrap();
        records.push(r.clone());
        r.record(cessation("C4", 200)).unwrap();
        records.push(r);
        let mut seen = std::collections::HashSet::new();
        for policy in &policies {
            for record in &records {
                for day in (90..=420).step_by(5) {
                    let load = policy.load(Some(record), day);
                    let expected = match policy.assess(Some(record), day) {
                        WorkerAvailability::Free => WorkLoad::Free,
                        WorkerAvailability::Unavailable { .. } => WorkLoad::Taken,
                        WorkerAvailability::Flagged {
                            busy_hours_percent, ..
                        } => WorkLoad::Busy(busy_hours_percent),
                    };
                    assert_eq!(load, expected, "day {day}");
                    seen.insert(std::mem::discriminant(&load));
                }
            }
        }
        assert_eq!(seen.len(), 3, "every verdict occurs");
        assert_eq!(
            AvailabilityPolicy::default().load(None, 100),
            WorkLoad::Free
        );
    }

    #[test]
    fn thresholds_are_configurable() {
        let strict = AvailabilityPolicy {
            unavailable_from_hours_percent: 40,
            short_contract_max_days: 30,
        };
        let mut r = EmploymentRecord::default();
        r.record(hire("C1", 100, Some(160), ContractType::Determinato, 50))
            .unwrap();
        assert!(strict.assess(Some(&r), 120).is_unavailable());
        assert!(!AvailabilityPolicy::default()
            .assess(Some(&r), 120)
            .is_unavailable());
    }
}
