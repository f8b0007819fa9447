//! Outcomes of issued lists: which comunicazione obbligatoria hires follow a
//! list (attribution), and the figures an observatory asks for: match-to-hire
//! conversion, time to hire, intermediation rate, by CPI, target group and
//! channel.
//!
//! Attribution is a function of the folded state alone (lists, employment
//! records, candidates, vacancies), computed when asked, so it does not
//! depend on whether a hire's CO or the list's record arrived first, which
//! differs between Kafka replicas. The rule: a hire of a worker by an
//! employer is attributed to the latest list, issued at most `window_days`
//! before the hire's start, that paired this worker with a vacancy of this
//! employer (last touch: the latest day, then the latest issue time, then
//! the greatest list id).

use std::collections::{BTreeMap, HashMap};

use crate::event::{IssuedList, ListDirection};
use crate::learning::{TrainingList, TrainingRow, CRITERIA};
use crate::model::{Candidate, Day, EducationLevel, GolPath, IncomeSupport, ProtectedCategory};
use crate::state::State;

/// Default attribution window: a preselection normally turns into a hire
/// within three months or not at all.
pub const DEFAULT_WINDOW_DAYS: u32 = 90;

/// A hire attributed to a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    pub list_id: String,
    pub list_day: Day,
    /// 1-based rank of the pair on the list.
    pub rank: usize,
    pub candidate_id: String,
    pub vacancy_id: String,
    pub hire_code: String,
    pub hire_day: Day,
}

impl Attribution {
    pub fn days_to_hire(&self) -> i64 {
        i64::from(self.hire_day) - i64::from(self.list_day)
    }
}

/// One pairing on a list: (worker pseudonym, employer) touched on a day.
struct Touch<'s> {
    day: Day,
    at_ms: i64,
    list_id: &'s str,
    rank: usize,
    candidate_id: &'s str,
    vacancy_id: &'s str,
}

/// The (1-based rank, candidate, vacancy) of each row of a list whose
/// candidate and vacancy are still known, in rank order.
fn pairs<'s>(state: &'s State, list: &'s IssuedList) -> Vec<(usize, &'s str, &'s str)> {
    let all: Vec<(&str, &str)> = match list.direction {
        ListDirection::CandidatesForVacancy => list
            .rows
            .iter()
            .map(|r| (r.id.as_str(), list.subject_id.as_str()))
            .collect(),
        ListDirection::VacanciesForCandidate => list
            .rows
            .iter()
            .map(|r| (list.subject_id.as_str(), r.id.as_str()))
            .collect(),
    };
    all.into_iter()
        .enumerate()
        .filter(|(_, (c, v))| state.candidate(c).is_some() && state.vacancy(v).is_some())
        .map(|(i, (c, v))| (i + 1, c, v))
        .collect()
}

/// Every attributed hire, ordered by list then hire.
pub fn attribute(state: &State, window_days: u32) -> Vec<Attribution> {
    let mut touches: HashMap<(&str, &str), Vec<Touch<'_>>> = HashMap::new();
    for (id, list) in state.lists() {
        for (rank, candidate_id, vacancy_id) in pairs(state, list) {
            let (Some(candidate), Some(vacancy)) =
                (state.candidate(candidate_id), state.vacancy(vacancy_id))
            else {
                continue;
            };
            touches
                .entry((
                    candidate.person.as_str(),
                    vacancy.spec.employer.fiscal_code.as_str(),
                ))
                .or_default()
                .push(Touch {
                    day: list.issued_day,
                    at_ms: list.issued_at_ms,
                    list_id: id,
                    rank,
                    candidate_id,
                    vacancy_id,
                });
        }
    }
    let window = i64::from(window_days);
    let mut out = Vec::new();
    for (person, record) in state.employment_records() {
        for contract in record.contracts() {
            let Some(candidates) =
                touches.get(&(person.as_str(), contract.employer_fiscal_code.as_str()))
            else {
                continue;
            };
            let best = candidates
                .iter()
                .filter(|t| {
                    let gap = i64::from(contract.start_day) - i64::from(t.day);
                    (0..=window).contains(&gap)
                })
                .max_by(|a, b| (a.day, a.at_ms, a.list_id).cmp(&(b.day, b.at_ms, b.list_id)));
            if let Some(t) = best {
                out.push(Attribution {
                    list_id: t.list_id.to_owned(),
                    list_day: t.day,
                    rank: t.rank,
                    candidate_id: t.candidate_id.to_owned(),
                    vacancy_id: t.vacancy_id.to_owned(),
                    hire_code: contract.hire_code.clone(),
                    hire_day: contract.start_day,
                });
            }
        }
    }
    out.sort_by(|a, b| (&a.list_id, a.rank, &a.hire_code).cmp(&(&b.list_id, b.rank, &b.hire_code)));
    out
}

/// The figures of one group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub lists: u64,
    pub listed: u64,
    pub attributed_hires: u64,
    pub lists_with_hire: u64,
    pub match_to_hire: f64,
    pub median_days_to_hire: f64,
    pub mean_days_to_hire: f64,
    pub hires: u64,
    pub intermediation_rate: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeReport {
    pub from_day: Day,
    pub to_day: Day,
    pub window_days: u32,
    pub overall: Figures,
    pub by_cpi: Vec<(String, Figures)>,
    pub by_target_group: Vec<(String, Figures)>,
    pub by_channel: Vec<(String, Figures)>,
}

/// Target groups a candidate belongs to on `day` (the evaluations in the
/// seeds name them: women, the young and over 50, the low-educated, the
/// long-term unemployed, benefit recipients, the vulnerable).
pub fn target_groups(state: &State, candidate: &Candidate, day: Day) -> Vec<&'static str> {
    let mut groups = Vec::new();
    let p = &candidate.profile;
    if let Some(d) = candidate.demographics {
        if d.female {
            groups.push("women");
        }
        if let Some(age) = d.age_on(day) {
            if age < 30 {
                groups.push("under_30");
            }
            if age > 50 {
                groups.push("over_50");
            }
        }
    }
    if p.education != EducationLevel::Unspecified && p.education <= EducationLevel::LicenzaMedia {
        groups.push("low_education");
    }
    if i64::from(day) - i64::from(candidate.did_day) >= 365 {
        groups.push("long_term_unemployed");
    }
    if p.income_support != IncomeSupport::None {
        groups.push("benefit_recipient");
    }
    if p.vulnerable {
        groups.push("vulnerable");
    }
    if p.gol_path == GolPath::LavoroEInclusione {
        groups.push("gol_lavoro_e_inclusione");
    }
    if state.protected_category(&candidate.id) != ProtectedCategory::None {
        groups.push("collocamento_mirato");
    }
    groups
}

#[derive(Default)]
struct Tally {
    lists: std::collections::BTreeSet<String>,
    lists_with_hire: std::collections::BTreeSet<String>,
    listed: u64,
    days: Vec<i64>,
    hires: u64,
    hires_attributed: u64,
}

impl Tally {
    fn figures(mut self) -> Figures {
        self.days.sort_unstable();
        let n = self.days.len();
        let median = match n {
            0 => 0.0,
            _ if n % 2 == 1 => self.days[n / 2] as f64,
            _ => (self.days[n / 2 - 1] + self.days[n / 2]) as f64 / 2.0,
        };
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        Figures {
            lists: self.lists.len() as u64,
            listed: self.listed,
            attributed_hires: n as u64,
            lists_with_hire: self.lists_with_hire.len() as u64,
            match_to_hire: ratio(n as u64, self.listed),
            median_days_to_hire: median,
            mean_days_to_hire: if n == 0 {
                0.0
            } else {
                self.days.iter().sum::<i64>() as f64 / n as f64
            },
            hires: self.hires,
            intermediation_rate: ratio(self.hires_attributed, self.hires),
        }
    }
}

/// The figures for lists issued, and hires started, in `from..=to`.
pub fn report(state: &State, from: Day, to: Day, window_days: u32) -> OutcomeReport {
    let attributions = attribute(state, window_days);
    let mut overall = Tally::default();
    let mut by_cpi: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_group: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_channel: BTreeMap<String, Tally> = BTreeMap::new();
    let in_period = |day: Day| from <= day && day <= to;
    let keys = |candidate: &Candidate, day: Day| {
        let mut groups: Vec<String> = target_groups(state, candidate, day)
            .into_iter()
            .map(str::to_owned)
            .collect();
        groups.sort();
        (candidate.profile.cpi_code.clone(), groups)
    };
    let channel = |list: &IssuedList| {
        if list.requester.channel.is_empty() {
            "unspecified".to_owned()
        } else {
            list.requester.channel.clone()
        }
    };

    for (id, list) in state.lists() {
        if !in_period(list.issued_day) {
            continue;
        }
        overall.lists.insert(id.clone());
        let ch = by_channel.entry(channel(list)).or_default();
        ch.lists.insert(id.clone());
        ch.listed += list.rows.len() as u64;
        for (_, candidate_id, _) in pairs(state, list) {
            overall.listed += 1;
            let Some(candidate) = state.candidate(candidate_id) else {
                continue;
            };
            let (cpi, groups) = keys(candidate, list.issued_day);
            let t = by_cpi.entry(cpi).or_default();
            t.listed += 1;
            t.lists.insert(id.clone());
            for g in groups {
                let t = by_group.entry(g).or_default();
                t.listed += 1;
                t.lists.insert(id.clone());
            }
        }
    }
    let mut attributed_hire_codes = std::collections::HashSet::new();
    for a in &attributions {
        attributed_hire_codes.insert(a.hire_code.as_str());
        if !in_period(a.list_day) {
            continue;
        }
        let (Some(candidate), Some(list)) =
            (state.candidate(&a.candidate_id), state.list(&a.list_id))
        else {
            continue;
        };
        let (cpi, groups) = keys(candidate, a.list_day);
        let tallies = std::iter::once(&mut overall)
            .chain(std::iter::once(by_cpi.entry(cpi).or_default()))
            .chain(std::iter::once(
                by_channel.entry(channel(list)).or_default(),
            ));
        for t in tallies {
            t.days.push(a.days_to_hire());
            t.lists_with_hire.insert(a.list_id.clone());
        }
        for g in groups {
            let t = by_group.entry(g).or_default();
            t.days.push(a.days_to_hire());
            t.lists_with_hire.insert(a.list_id.clone());
        }
    }
    // Intermediation: of the hires of registered candidates in the period,
    // the share that followed a list.
    for (person, record) in state.employment_records() {
        let Some(candidate) = state.candidate_of_person(person) else {
            continue;
        };
        for contract in record.contracts() {
            if !in_period(contract.start_day) {
                continue;
            }
            let attributed = attributed_hire_codes.contains(contract.hire_code.as_str());
            let (cpi, groups) = keys(candidate, contract.start_day);
            let count = |t: &mut Tally| {
                t.hires += 1;
                t.hires_attributed += u64::from(attributed);
            };
            count(&mut overall);
            count(by_cpi.entry(cpi).or_default());
            for g in groups {
                count(by_group.entry(g).or_default());
            }
        }
    }
    let finish = |m: BTreeMap<String, Tally>| {
        m.into_iter()
            .map(|(k, t)| (k, t.figures()))
            .collect::<Vec<_>>()
    };
    OutcomeReport {
        from_day: from,
        to_day: to,
        window_days,
        overall: overall.figures(),
        by_cpi: finish(by_cpi),
        by_target_group: finish(by_group),
        by_channel: finish(by_channel),
    }
}

/// The recorded candidate lists issued in `from..=to`, each row labelled
/// hired when a hire was attributed to that list and row: the training data
/// of `learning::fit`, with each list's day for a split by time. Rows
/// recorded without similarities (none are, since lists carry them) are
/// skipped; the features are those the list was ranked on, not recomputed.
pub fn training_lists(
    state: &State,
    from: Day,
    to: Day,
    window_days: u32,
) -> Vec<(Day, String, TrainingList)> {
    // For a list of candidates, a row's id is the candidate's.
    let attributions = attribute(state, window_days);
    let hired: std::collections::HashSet<(&str, &str)> = attributions
        .iter()
        .map(|a| (a.list_id.as_str(), a.candidate_id.as_str()))
        .collect();
    let mut out: Vec<(Day, String, TrainingList)> = state
        .lists()
        .filter(|(_, l)| {
            l.direction == ListDirection::CandidatesForVacancy
                && from <= l.issued_day
                && l.issued_day <= to
        })
        .map(|(id, l)| {
            let rows = l
                .rows
                .iter()
                .filter_map(|r| {
                    let similarities: [f64; CRITERIA] =
                        r.similarities.as_slice().try_into().ok()?;
                    Some(TrainingRow {
                        similarities,
                        hired: hired.contains(&(id.as_str(), r.id.as_str())),
                    })
                })
                .collect();
            (l.issued_day, id.clone(), TrainingList { rows })
        })
        .collect();
    out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    out
}
