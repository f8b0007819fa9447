//! The legal unemployment status of a person with a DID, from the jobs the comunicazioni
//! obbligatorie describe (D.Lgs. 150/2015 art. 19; D.L. 4/2019 art. 4 c.15-quater; ANPAL circ.
//! 1/2019): kept, suspended (until when) or lost, with the article in the reason.
//!
//! This module owns the versioned table of income thresholds (`config/unemployment/
//! thresholds.toml`, each period with its validity and source) and [`status`]. A job whose yearly
//! pay, net of the employee's contributions, is within the threshold of the day it starts keeps
//! the status; above it the status is suspended from the start for at most 180 days and lost if
//! the job is still in force after them. Hours worked play no part. A job whose pay the notice
//! does not state, or that starts on a day no period covers, makes the status not determinable:
//! a status that can cost a benefit is never guessed.
//!
//! Pure: the day is passed in. Nothing here reaches a log; the reasons name contracts by their
//! employer and dates, as the availability reasons do, never the person.

use serde::Deserialize;

use crate::employment::{Contract, EmploymentRecord};
use crate::model::{day_from_ymd, format_day, ContractType, Day};

const THRESHOLDS_TOML: &str = include_str!("../../config/unemployment/thresholds.toml");

/// Where the rules come from, quoted in the reasons.
const CITATION: &str = "D.Lgs. 150/2015, art. 19; D.L. 4/2019, art. 4, c. 15-quater; circolare \
                        ANPAL n. 1/2019";

#[derive(Debug, thiserror::Error)]
pub enum ThresholdError {
    #[error("unemployment thresholds: not valid TOML: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("unemployment thresholds: {0}")]
    Invalid(String),
}

/// The thresholds of one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdPeriod {
    pub valid_from: Day,
    /// Exclusive; `None` while in force.
    pub valid_until: Option<Day>,
    /// Yearly income from employment (and parasubordinate work) that keeps the status, in euros.
    pub employee_eur: u32,
    /// The same for self-employment; the CO do not describe self-employment, so it is not read.
    pub self_employed_eur: u32,
    pub source: String,
}

/// The table of thresholds and the fixed rules beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    /// Longest suspension: past it a job still in force ends the status.
    pub suspension_max_days: u32,
    /// Employee contributions deducted from the notice's gross pay, in basis points.
    pub employee_contribution_rate_bp: u32,
    periods: Vec<ThresholdPeriod>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdsFile {
    suspension_max_days: u32,
    employee_contribution_rate_bp: u32,
    periods: Vec<PeriodFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodFile {
    valid_from: toml::value::Datetime,
    valid_until: Option<toml::value::Datetime>,
    employee_eur: u32,
    self_employed_eur: u32,
    source: String,
}

fn toml_day(value: &toml::value::Datetime) -> Option<Day> {
    if value.time.is_some() || value.offset.is_some() {
        return None;
    }
    let date = value.date?;
    day_from_ymd(
        i32::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    )
}

impl Thresholds {
    /// The table compiled in from `config/unemployment/thresholds.toml`.
    pub fn embedded() -> Result<Thresholds, ThresholdError> {
        Self::from_toml(THRESHOLDS_TOML)
    }

    pub fn from_toml(text: &str) -> Result<Thresholds, ThresholdError> {
        let file: ThresholdsFile = toml::from_str(text)?;
        let invalid = |reason: String| ThresholdError::Invalid(reason);
        if file.suspension_max_days == 0 {
            return Err(invalid("suspension_max_days must be positive".into()));
        }
        if file.employee_contribution_rate_bp >= 10_000 {
            return Err(invalid(
                "employee_contribution_rate_bp must be below 10000".into(),
            ));
        }
        let mut periods = Vec::with_capacity(file.periods.len());
        for p in file.periods {
            let from = toml_day(&p.valid_from)
                .ok_or_else(|| invalid(format!("valid_from {} is not a date", p.valid_from)))?;
            let until = match &p.valid_until {
                None => None,
                Some(u) => Some(
                    toml_day(u).ok_or_else(|| invalid(format!("valid_until {u} is not a date")))?,
                ),
            };
            if until.is_some_and(|u| u <= from) {
                return Err(invalid(format!(
                    "period from {} ends before it starts",
                    format_day(from)
                )));
            }
            if p.employee_eur == 0 || p.source.trim().is_empty() {
                return Err(invalid(format!(
                    "period from {}: a threshold and its source are required",
                    format_day(from)
                )));
            }
            periods.push(ThresholdPeriod {
                valid_from: from,
                valid_until: until,
                employee_eur: p.employee_eur,
                self_employed_eur: p.self_employed_eur,
                source: p.source,
            });
        }
        periods.sort_by_key(|p| p.valid_from);
        for pair in periods.windows(2) {
            if pair[0].valid_until.is_none_or(|u| pair[1].valid_from < u) {
                return Err(invalid(format!(
                    "periods from {} and {} overlap",
                    format_day(pair[0].valid_from),
                    format_day(pair[1].valid_from)
                )));
            }
        }
        Ok(Thresholds {
            suspension_max_days: file.suspension_max_days,
            employee_contribution_rate_bp: file.employee_contribution_rate_bp,
            periods,
        })
    }

    /// The period in force on `day`.
    pub fn on(&self, day: Day) -> Option<&ThresholdPeriod> {
        self.periods
            .iter()
            .find(|p| p.valid_from <= day && p.valid_until.is_none_or(|u| day < u))
    }

    pub fn periods(&self) -> &[ThresholdPeriod] {
        &self.periods
    }
}

/// The legal unemployment status on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnemploymentStatus {
    /// No job, or only jobs within the threshold.
    Kept,
    /// A job above the threshold suspends the status; it resumes after `until` (the job's last
    /// day, or the last day of the longest suspension, after which the status is lost if the job
    /// goes on).
    Suspended { until: Day, hire_code: String },
    /// A job above the threshold went on past the longest suspension: the status ended on
    /// `since` (a new DID is needed).
    Lost { since: Day, hire_code: String },
    /// A job whose pay the notice does not state, or that starts on a day no threshold covers:
    /// the status cannot be decided from the facts held.
    Undetermined { reason: String },
}

impl UnemploymentStatus {
    /// The operator's sentence, with the rule's source.
    pub fn reason(&self) -> String {
        match self {
            UnemploymentStatus::Kept => format!(
                "Stato di disoccupazione conservato: nessun rapporto di lavoro con reddito oltre \
                 la soglia ({CITATION})"
            ),
            UnemploymentStatus::Suspended { until, .. } => format!(
                "Stato di disoccupazione sospeso fino al {} per un rapporto di lavoro con \
                 reddito oltre la soglia ({CITATION})",
                format_day(*until)
            ),
            UnemploymentStatus::Lost { since, .. } => format!(
                "Stato di disoccupazione perso dal {}: rapporto di lavoro con reddito oltre la \
                 soglia ancora in corso dopo la sospensione massima ({CITATION})",
                format_day(*since)
            ),
            UnemploymentStatus::Undetermined { reason } => {
                format!("Stato di disoccupazione non determinabile: {reason} ({CITATION})")
            }
        }
    }
}

/// The last day a contract is worked, if it has one.
fn last_day(c: &Contract) -> Option<Day> {
    [c.end_day, c.ceased.as_ref().map(|(day, _)| *day)]
        .into_iter()
        .flatten()
        .min()
}

/// Whether the yearly pay of `c`, net of the employee's contributions, is within the threshold
/// of the day it starts; `None` when the notice states no pay or no period covers that day.
pub fn within_threshold(c: &Contract, thresholds: &Thresholds) -> Option<bool> {
    let pay = c.annual_pay_eur?;
    let period = thresholds.on(c.start_day)?;
    let rate = u64::from(thresholds.employee_contribution_rate_bp);
    // Cents, the deduction rounded down: a status is never lost on a rounding.
    let net_cents = u64::from(pay) * 100 * (10_000 - rate) / 10_000;
    Some(net_cents <= u64::from(period.employee_eur) * 100)
}

/// The status on `today` of a person whose DID is `did`, from their contracts.
///
/// Contracts over before the DID, not yet started on `today`, and traineeships do not count.
/// A loss is final (until a new DID); otherwise a suspension in force wins over a kept status, and
/// a contract the rules cannot judge makes the status undetermined when it could change it.
pub fn status(
    record: Option<&EmploymentRecord>,
    did: Day,
    today: Day,
    thresholds: &Thresholds,
) -> UnemploymentStatus {
    let Some(record) = record else {
        return UnemploymentStatus::Kept;
    };
    let max = i32::try_from(thresholds.suspension_max_days).unwrap_or(i32::MAX);
    let mut lost: Option<(Day, &str)> = None;
    let mut suspended: Option<(Day, &str)> = None;
    let mut undetermined: Option<String> = None;
    for c in record.contracts() {
        let last = last_day(c);
        if c.contract_type == ContractType::Tirocinio
            || c.start_day > today
            || last.is_some_and(|l| l < did)
        {
            continue;
        }
        // The day the status would be lost if the job went on: 180 days counted from the start.
        let loss_day = c.start_day.saturating_add(max);
        let runs_past_suspension = last.is_none_or(|l| l >= loss_day);
        let in_force = c.active_on(today);
        let could_matter = in_force || (runs_past_suspension && loss_day <= today);
        let above = match (c.annual_pay_eur, within_threshold(c, thresholds)) {
            (_, Some(within)) => !within,
            (None, None) => {
                if could_matter {
                    undetermined.get_or_insert_with(|| {
                        format!(
                            "la comunicazione del rapporto iniziato il {} presso {} non indica \
                             la retribuzione",
                            format_day(c.start_day),
                            c.employer_name
                        )
                    });
                }
                continue;
            }
            (Some(_), None) => {
                if could_matter {
                    undetermined.get_or_insert_with(|| {
                        format!(
                            "nessuna soglia di reddito codificata per il {}, inizio del rapporto \
                             presso {}",
                            format_day(c.start_day),
                            c.employer_name
                        )
                    });
                }
                continue;
            }
        };
        if !above {
            continue;
        }
        if runs_past_suspension && loss_day <= today {
            if lost.is_none_or(|(since, _)| loss_day < since) {
                lost = Some((loss_day, &c.hire_code));
            }
        } else if in_force {
            let until = last.map_or(loss_day - 1, |l| l.min(loss_day - 1));
            if suspended.is_none_or(|(u, _)| until > u) {
                suspended = Some((until, &c.hire_code));
            }
        }
    }
    if let Some((since, code)) = lost {
        return UnemploymentStatus::Lost {
            since,
            hire_code: code.to_owned(),
        };
    }
    if let Some(reason) = undetermined {
        return UnemploymentStatus::Undetermined { reason };
    }
    match suspended {
        Some((until, code)) => UnemploymentStatus::Suspended {
            until,
            hire_code: code.to_owned(),
        },
        None => UnemploymentStatus::Kept,
    }
}
