//! Explained scoring of one candidate against one vacancy: the hard filters
//! that decide eligibility and the weighted soft criteria that rank.
//!
//! Every number comes with an Italian sentence an operator can read aloud.
//! Similarities are computed first, without text, so a ranked list builds
//! sentences only for the candidates it returns.

use crate::availability::{describe, WorkLoad, WorkerAvailability};
use crate::config::ScoringConfig;
use crate::congruity::{Congruity, CongruityInput, CongruityRules};
use crate::employment::EmploymentRecord;
use crate::features::{self, CandidateRow, CandidateSketch, VacancyRow};
use crate::model::{
    format_day, Candidate, Day, IncomeSupport, ProtectedCategory, ReservedQuota, Vacancy,
    VacancyStatus,
};
use crate::reference::{haversine_km, Comune, ReferenceData};

/// Soft criteria, in the order of `Similarities`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Criterion {
    Profession,
    Skills,
    Text,
    Distance,
    Experience,
    Education,
    Languages,
    Licences,
    // Target-group boosts: not part of the weighted fit, added on top.
    BoostLongTermUnemployed,
    BoostBenefitRecipient,
    BoostVulnerable,
    BoostGolLavoroEInclusione,
}

impl Criterion {
    pub const ALL: [Criterion; 8] = [
        Criterion::Profession,
        Criterion::Skills,
        Criterion::Text,
        Criterion::Distance,
        Criterion::Experience,
        Criterion::Education,
        Criterion::Languages,
        Criterion::Licences,
    ];

    /// The target-group boosts, in the order contributions list them.
    pub const BOOSTS: [Criterion; 4] = [
        Criterion::BoostLongTermUnemployed,
        Criterion::BoostBenefitRecipient,
        Criterion::BoostVulnerable,
        Criterion::BoostGolLavoroEInclusione,
    ];

    pub fn is_boost(self) -> bool {
        Criterion::BOOSTS.contains(&self)
    }

    /// Stable name used in the API.
    pub fn name(self) -> &'static str {
        match self {
            Criterion::BoostLongTermUnemployed => "boost_long_term_unemployed",
            Criterion::BoostBenefitRecipient => "boost_benefit_recipient",
            Criterion::BoostVulnerable => "boost_vulnerable",
            Criterion::BoostGolLavoroEInclusione => "boost_gol_lavoro_e_inclusione",
            Criterion::Profession => "profession",
            Criterion::Skills => "skills",
            Criterion::Text => "text",
            Criterion::Distance => "distance",
            Criterion::Experience => "experience",
            Criterion::Education => "education",
            Criterion::Languages => "languages",
            Criterion::Licences => "licences",
        }
    }

    /// Italian label for text an operator reads (the demo's list, say);
    /// [`Criterion::name`] stays the API's key.
    pub fn label(self) -> &'static str {
        match self {
            Criterion::BoostLongTermUnemployed => "priorità disoccupazione di lunga durata",
            Criterion::BoostBenefitRecipient => "priorità percettore di sostegno al reddito",
            Criterion::BoostVulnerable => "priorità persona vulnerabile",
            Criterion::BoostGolLavoroEInclusione => "priorità GOL lavoro e inclusione",
            Criterion::Profession => "professione",
            Criterion::Skills => "competenze",
            Criterion::Text => "testo",
            Criterion::Distance => "distanza",
            Criterion::Experience => "esperienza",
            Criterion::Education => "istruzione",
            Criterion::Languages => "lingue",
            Criterion::Licences => "patenti",
        }
    }

    fn weight(self, config: &ScoringConfig) -> f64 {
        let w = &config.weights;
        let b = &config.boosts;
        match self {
            Criterion::BoostLongTermUnemployed => b.long_term_unemployed,
            Criterion::BoostBenefitRecipient => b.benefit_recipient,
            Criterion::BoostVulnerable => b.vulnerable,
            Criterion::BoostGolLavoroEInclusione => b.gol_lavoro_e_inclusione,
            Criterion::Profession => w.profession,
            Criterion::Skills => w.skills,
            Criterion::Text => w.text,
            Criterion::Distance => w.distance,
            Criterion::Experience => w.experience,
            Criterion::Education => w.education,
            Criterion::Languages => w.languages,
            Criterion::Licences => w.licences,
        }
    }
}

/// Hard filters: a pair failing any of them is not on a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HardFilter {
    VacancyOpen,
    Availability,
    Location,
    Distance,
    Contract,
    Hours,
    ReservedQuota,
    Cpi,
}

impl HardFilter {
    /// Every filter, in the order they are judged and responses list them.
    pub const ALL: [HardFilter; 8] = [
        HardFilter::VacancyOpen,
        HardFilter::Availability,
        HardFilter::Location,
        HardFilter::Distance,
        HardFilter::Contract,
        HardFilter::Hours,
        HardFilter::ReservedQuota,
        HardFilter::Cpi,
    ];

    /// Stable key used in the API's machine-readable fields (`filter`,
    /// exclusion counts): never translated, never changed.
    pub fn name(self) -> &'static str {
        match self {
            HardFilter::VacancyOpen => "vacancy_open",
            HardFilter::Availability => "availability",
            HardFilter::Location => "location",
            HardFilter::Distance => "distance",
            HardFilter::Contract => "contract",
            HardFilter::Hours => "hours",
            HardFilter::ReservedQuota => "reserved_quota",
            HardFilter::Cpi => "cpi",
        }
    }

    /// Italian label for text an operator reads: an English key inside an
    /// Italian sentence ("esclusi: availability 2609") reads as a defect.
    pub fn label(self) -> &'static str {
        match self {
            HardFilter::VacancyOpen => "annuncio aperto",
            HardFilter::Availability => "disponibilità",
            HardFilter::Location => "comuni noti",
            HardFilter::Distance => "distanza",
            HardFilter::Contract => "tipo di contratto",
            HardFilter::Hours => "orario",
            HardFilter::ReservedQuota => "posto riservato L.68/99",
            HardFilter::Cpi => "CPI richiesti",
        }
    }

    /// The filter of an API key ([`HardFilter::name`]).
    pub fn from_name(name: &str) -> Option<HardFilter> {
        HardFilter::ALL.into_iter().find(|f| f.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FilterVerdict {
    pub filter: HardFilter,
    pub passed: bool,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub criterion: Criterion,
    pub similarity: f64,
    pub weight: f64,
    /// weight x similarity / sum of weights.
    pub contribution: f64,
    pub reason: String,
}

/// Per-criterion similarities in [0,1], in the order of [`Criterion::ALL`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarities(pub [f64; 8]);

impl Similarities {
    /// The score: the sum of the weighted contributions.
    pub fn score(&self, config: &ScoringConfig) -> f64 {
        let total = total_weight(config);
        Criterion::ALL
            .iter()
            .zip(self.0)
            .map(|(c, s)| c.weight(config) * s / total)
            .sum()
    }
}

/// Everything about one pair, as `Explain` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub eligible: bool,
    pub filters: Vec<FilterVerdict>,
    pub score: f64,
    pub contributions: Vec<Contribution>,
    pub distance_km: Option<f64>,
    /// Whether the offer would be an offerta congrua for the candidate, per
    /// criterion; `None` without rules, or on a day no rule pack covers.
    pub congruity: Option<Congruity>,
}

/// What a scoring call needs besides the pair.
pub struct Context<'a> {
    pub reference: &'a ReferenceData,
    pub config: &'a ScoringConfig,
    /// The day eligibility is judged on (contracts in force, validity).
    pub today: Day,
    /// Offerta congrua rules; without them no verdict is given and the
    /// "only congrua" filter cannot be asked for.
    pub congruity: Option<&'a CongruityRules>,
}

/// Per-request narrowing applied as extra hard filters.
#[derive(Debug, Clone, Default)]
pub struct RequestFilters {
    pub cpi_codes: Vec<String>,
    /// 0 = no tighter limit than the candidate's own.
    pub max_distance_km: u32,
    /// The caller may not read L.68/99 categories: a list of vacancies is
    /// judged as if the person held none, so reserved-quota vacancies fail
    /// their filter (and are never visited) whatever the person's category.
    pub hide_reserved_quota: bool,
}

/// The facts about a candidate that live outside `Candidate`.
#[derive(Clone, Copy)]
pub struct CandidateFacts<'a> {
    pub employment: Option<&'a EmploymentRecord>,
    pub protected: ProtectedCategory,
}

fn total_weight(config: &ScoringConfig) -> f64 {
    Criterion::ALL.iter().map(|c| c.weight(config)).sum()
}

impl Context<'_> {
    /// The offerta congrua verdict of offering `vacancy` to `candidate`
    /// today, at `distance_km` by road.
    pub fn congruity(
        &self,
        vacancy: &Vacancy,
        candidate: &Candidate,
        facts: CandidateFacts<'_>,
        distance_km: f64,
    ) -> Option<Congruity> {
        let rules = self.congruity?;
        // The last contract that started on or before today: the one whose
        // hours the decree compares against.
        let last_contract_hours_percent = facts.employment.and_then(|e| {
            e.contracts()
                .iter()
                .filter(|c| c.start_day <= self.today)
                .max_by_key(|c| c.start_day)
                .map(|c| c.hours_percent)
        });
        rules.assess(&CongruityInput {
            candidate,
            vacancy,
            distance_km,
            travel_minutes: None,
            last_contract_hours_percent,
            collocamento_mirato: facts.protected == ProtectedCategory::Art1,
            employment: facts.employment,
            today: self.today,
        })
    }

    /// Whether a candidate with a DID on `did_day` and the target-group
    /// bits `groups` ([`features::target_groups`]) belongs to the target
    /// group of `boost` today.
    fn in_group(&self, boost: Criterion, did_day: Day, groups: u8) -> bool {
        match boost {
            Criterion::BoostLongTermUnemployed => {
                i64::from(self.today) - i64::from(did_day)
                    >= i64::from(self.config.boosts.long_term_months) * 365 / 12
            }
            Criterion::BoostBenefitRecipient => groups & features::BENEFIT != 0,
            Criterion::BoostVulnerable => groups & features::VULNERABLE != 0,
            Criterion::BoostGolLavoroEInclusione => groups & features::GOL_INCLUSIONE != 0,
            _ => false,
        }
    }

    fn unemployed_days(&self, candidate: &Candidate) -> i64 {
        i64::from(self.today) - i64::from(candidate.did_day)
    }

    /// The sum of the boosts the candidate of `row` receives: what lists
    /// add to the fit score before ranking.
    pub fn boost_total(&self, c: &CandidateSketch) -> f64 {
        Criterion::BOOSTS
            .iter()
            .filter(|&&b| self.in_group(b, c.did_day, c.groups()))
            .map(|b| b.weight(self.config))
            .sum()
    }

    /// One contribution per boost `candidate` receives (none for a boost set
    /// to 0), with the reason.
    pub fn boost_contributions(&self, candidate: &Candidate) -> Vec<Contribution> {
        let groups = features::target_groups(candidate);
        Criterion::BOOSTS
            .iter()
            .filter(|&&b| {
                b.weight(self.config) > 0.0 && self.in_group(b, candidate.did_day, groups)
            })
            .map(|&b| {
                let weight = b.weight(self.config);
                let reason = match b {
                    Criterion::BoostLongTermUnemployed => format!(
                        "Priorità disoccupazione di lunga durata: disoccupato/a da {} mesi (DID)",
                        self.unemployed_days(candidate) * 12 / 365
                    ),
                    Criterion::BoostBenefitRecipient => format!(
                        "Priorità percettore di sostegno al reddito ({})",
                        income_support_label(candidate.profile.income_support)
                    ),
                    Criterion::BoostVulnerable => {
                        "Priorità persona in condizione di vulnerabilità".to_owned()
                    }
                    _ => "Priorità percorso GOL 4 «lavoro e inclusione»".to_owned(),
                };
                Contribution {
                    criterion: b,
                    similarity: 1.0,
                    weight,
                    contribution: weight,
                    reason,
                }
            })
            .collect()
    }

    /// Road-distance estimate between two comuni, `None` if either is unknown.
    pub fn road_km(&self, from: &str, to: &str) -> Option<f64> {
        let a = self.reference.comune(from)?;
        let b = self.reference.comune(to)?;
        Some(self.road_km_between(a, b))
    }

    /// [`Context::road_km`] of two comuni already looked up.
    pub fn road_km_between(&self, a: &Comune, b: &Comune) -> f64 {
        haversine_km(a.lat, a.lon, b.lat, b.lon) * self.config.distance.road_factor
    }

    fn comune_name<'b>(&'b self, code: &'b str) -> &'b str {
        self.reference
            .comune(code)
            .map(|c| c.name.as_str())
            .unwrap_or(code)
    }

    fn profession_label<'b>(&'b self, code: &'b str) -> &'b str {
        self.reference.profession_label(code).unwrap_or(code)
    }

    /// The candidate's mobility limit, tightened by the request.
    pub fn distance_limit(&self, candidate: &Candidate, request: &RequestFilters) -> u32 {
        self.limit_km(candidate.profile.max_distance_km, request)
    }

    /// The mobility limit of someone who declared `declared_km` (0: none),
    /// tightened by the request.
    pub fn limit_km(&self, declared_km: u32, request: &RequestFilters) -> u32 {
        let own = if declared_km == 0 {
            self.config.distance.default_max_km
        } else {
            declared_km
        };
        let own = own.min(self.config.distance.max_search_km);
        if request.max_distance_km > 0 {
            own.min(request.max_distance_km)
        } else {
            own
        }
    }

    /// Checks the hard filters in order. With `all` false it stops at the
    /// first failure (the ranking path) and only a failing verdict carries
    /// its reason; with `all` true it reports every filter with its reason
    /// (the `Explain` path). Returns the verdicts and the distance.
    pub fn hard_filters(
        &self,
        vacancy: &Vacancy,
        candidate: &Candidate,
        facts: CandidateFacts<'_>,
        request: &RequestFilters,
        all: bool,
    ) -> (Vec<FilterVerdict>, Option<f64>) {
        let km = self.road_km(
            &candidate.profile.domicile_comune,
            &vacancy.spec.workplace_comune,
        );
        self.hard_filters_at(vacancy, candidate, facts, request, km, all)
    }

    /// [`Context::hard_filters`] with the road distance already known (a
    /// list computes it once per comune, not once per candidate); `None`
    /// when a comune is unknown.
    pub fn hard_filters_at(
        &self,
        vacancy: &Vacancy,
        candidate: &Candidate,
        facts: CandidateFacts<'_>,
        request: &RequestFilters,
        road_km: Option<f64>,
        all: bool,
    ) -> (Vec<FilterVerdict>, Option<f64>) {
        let mut out = Vec::new();
        let mut distance = None;
        // Sentences are built only when someone will read them: a list
        // checks every candidate in reach, and formatting dominated it.
        let push =
            |out: &mut Vec<FilterVerdict>, filter, passed: bool, reason: &dyn Fn() -> String| {
                out.push(FilterVerdict {
                    filter,
                    passed,
                    reason: if all || !passed {
                        reason()
                    } else {
                        String::new()
                    },
                });
                passed || all
            };

        let open = vacancy.is_open_on(self.today);
        let reason = || {
            if open {
                match vacancy.open_positions() {
                    1 => "Annuncio aperto con 1 posto disponibile".to_string(),
                    n => format!("Annuncio aperto con {n} posti disponibili"),
                }
            } else {
                match vacancy.status {
                    VacancyStatus::Withdrawn => "Annuncio ritirato".to_string(),
                    _ if vacancy.open_positions() == 0 => {
                        "Tutti i posti dell'annuncio sono stati coperti".to_string()
                    }
                    VacancyStatus::Closed => "Annuncio chiuso".to_string(),
                    VacancyStatus::Open => format!(
                        "Annuncio scaduto il {}",
                        format_day(vacancy.spec.valid_until_day)
                    ),
                }
            }
        };
        if !push(&mut out, HardFilter::VacancyOpen, open, &reason) {
            return (out, distance);
        }

        let available = self.is_available(
            vacancy.spec.hours_percent,
            candidate.available && !candidate.withdrawn,
            facts.employment,
        );
        let reason = || self.availability(vacancy, candidate, facts.employment).1;
        if !push(&mut out, HardFilter::Availability, available, &reason) {
            return (out, distance);
        }

        match road_km {
            None => {
                let reason =
                    || "Comune di domicilio o della sede di lavoro sconosciuto".to_string();
                if !push(&mut out, HardFilter::Location, false, &reason) {
                    return (out, distance);
                }
            }
            Some(km) => {
                distance = Some(km);
                let limit = self.distance_limit(candidate, request);
                let passed = km <= f64::from(limit);
                let reason = || {
                    if passed {
                        format!("Sede di lavoro a {km:.0} km, entro il limite di {limit} km")
                    } else {
                        format!(
                        "Sede di lavoro a {km:.0} km, oltre il limite di mobilità di {limit} km"
                    )
                    }
                };
                if !push(&mut out, HardFilter::Distance, passed, &reason) {
                    return (out, distance);
                }
            }
        }

        let (vrow, crow) = features::pair_rows(vacancy, candidate);
        let contract = vacancy.spec.contract_type;
        let passed = contract_accepted(&vrow, &crow.sketch);
        let reason = || {
            if passed {
                format!("Contratto di {} accettato", contract.label())
            } else {
                format!("Contratto di {} non tra quelli accettati", contract.label())
            }
        };
        if !push(&mut out, HardFilter::Contract, passed, &reason) {
            return (out, distance);
        }

        let (hours, min, max) = (vrow.hours, crow.sketch.min_hours, crow.sketch.max_hours);
        let passed = hours_fit(&vrow, &crow.sketch);
        let reason = || {
            if passed {
                format!("Orario al {hours}% compatibile con la disponibilità ({min}-{max}%)")
            } else {
                format!("Orario al {hours}% fuori dalla disponibilità dichiarata ({min}-{max}%)")
            }
        };
        if !push(&mut out, HardFilter::Hours, passed, &reason) {
            return (out, distance);
        }

        let quota = vacancy.spec.reserved_quota;
        let passed = quota_fits(quota, facts.protected);
        let reason = match quota {
            ReservedQuota::None => "Posto non riservato",
            _ if passed => "Iscrizione al collocamento mirato compatibile con il posto riservato",
            ReservedQuota::Art1 => {
                "Posto riservato L.68/99 art.1: richiede l'iscrizione al collocamento mirato"
            }
            ReservedQuota::Art18 => {
                "Posto riservato L.68/99 art.18: richiede l'iscrizione alle categorie protette"
            }
        };
        if !push(&mut out, HardFilter::ReservedQuota, passed, &|| {
            reason.to_string()
        }) {
            return (out, distance);
        }

        if !request.cpi_codes.is_empty() {
            let passed = request.cpi_codes.contains(&candidate.profile.cpi_code);
            let reason = || {
                if passed {
                    format!("Seguito dal CPI {}", candidate.profile.cpi_code)
                } else {
                    format!(
                        "Seguito dal CPI {}, fuori dai CPI richiesti",
                        candidate.profile.cpi_code
                    )
                }
            };
            push(&mut out, HardFilter::Cpi, passed, &reason);
        }
        (out, distance)
    }

    /// The verdict of [`Context::availability`] without its sentence, for
    /// a vacancy of `hours` percent and a candidate `listed` (neither
    /// withdrawn nor declared unavailable).
    pub fn is_available(
        &self,
        hours: u32,
        listed: bool,
        employment: Option<&EmploymentRecord>,
    ) -> bool {
        listed
            && match self.config.availability.load(employment, self.today) {
                WorkLoad::Free => true,
                WorkLoad::Taken => false,
                WorkLoad::Busy(busy) => busy + hours <= 100,
            }
    }

    /// The availability verdict's sentence, followed, when congruity rules
    /// (and so the income thresholds) are loaded, by the legal unemployment
    /// status with its article: an operator sees both the practical
    /// availability a list judges and the status the law gives the person.
    fn availability(
        &self,
        vacancy: &Vacancy,
        candidate: &Candidate,
        employment: Option<&EmploymentRecord>,
    ) -> (bool, String) {
        let (available, reason) = self.practical_availability(vacancy, candidate, employment);
        match self.congruity {
            Some(rules) => {
                let status = crate::unemployment::status(
                    employment,
                    candidate.did_day,
                    self.today,
                    &rules.thresholds,
                );
                (available, format!("{reason}. {}", status.reason()))
            }
            None => (available, reason),
        }
    }

    fn practical_availability(
        &self,
        vacancy: &Vacancy,
        candidate: &Candidate,
        employment: Option<&EmploymentRecord>,
    ) -> (bool, String) {
        if candidate.withdrawn {
            return (false, "Candidatura ritirata".into());
        }
        if !candidate.available {
            return (false, "Dichiarato/a non disponibile".into());
        }
        match self.config.availability.assess(employment, self.today) {
            WorkerAvailability::Free => (
                true,
                "Disponibile, senza rapporti di lavoro in corso".into(),
            ),
            WorkerAvailability::Unavailable { contract } => (
                false,
                format!(
                    "Non disponibile: {} (comunicazione obbligatoria {})",
                    describe(&contract, self.today),
                    contract.hire_code
                ),
            ),
            WorkerAvailability::Flagged {
                contract,
                busy_hours_percent: busy,
            } => {
                let what = describe(&contract, self.today);
                if busy + vacancy.spec.hours_percent > 100 {
                    (
                        false,
                        format!("Occupato/a al {busy}%: orario incompatibile ({what})"),
                    )
                } else if busy < 100 {
                    (
                        true,
                        format!(
                            "Disponibile con segnalazione: occupato/a part-time al {busy}% ({what}), compatibile con l'orario richiesto"
                        ),
                    )
                } else {
                    (
                        true,
                        format!("Disponibile con segnalazione: contratto breve ({what})"),
                    )
                }
            }
        }
    }

    /// Similarities of a pair that passed the hard filters.
    pub fn similarities(
        &self,
        vacancy: &Vacancy,
        candidate: &Candidate,
        distance_km: f64,
        text_relevance: f64,
    ) -> Similarities {
        let (v, c) = features::pair_rows(vacancy, candidate);
        self.similarities_of_rows(&v, &c, distance_km, text_relevance)
    }

    /// [`Context::similarities`] of a pair's rows.
    pub fn similarities_of_rows(
        &self,
        v: &VacancyRow,
        c: &CandidateRow,
        distance_km: f64,
        text_relevance: f64,
    ) -> Similarities {
        let depth = features::shared_levels(v, c);
        let mut sims =
            self.cheap_similarities(v, &c.sketch, depth, distance_km, text_relevance, 1.0);
        self.complete_similarities(&mut sims, v, c);
        sims
    }

    /// The similarities a candidate's sketch decides (profession, text,
    /// distance, education) and upper bounds of the rest from it: skills
    /// and licences from the sketch's bloom bits, skills at most `skills`
    /// (0 when the caller knows the candidate holds none of the vacancy's
    /// skills), experience from the months practised, languages at full
    /// credit; `depth` is the pair's [`features::shared_levels`].
    /// Their `score(..)` plus `boost_total(..)` is an upper bound of the
    /// pair's score: the terms are the same and are added in the same
    /// order, and float addition is monotonic, so the bound is never below
    /// the score, not even by rounding. Lists skip the rest of a pair whose
    /// bound cannot reach the worst score they keep.
    pub fn cheap_similarities(
        &self,
        v: &VacancyRow,
        c: &CandidateSketch,
        depth: usize,
        distance_km: f64,
        text_relevance: f64,
        skills: f64,
    ) -> Similarities {
        let skills = if skills <= 0.0 {
            0.0
        } else {
            features::skill_bound(self.config, v, c).min(skills)
        };
        Similarities([
            features::depth_similarity(depth, v.levels()),
            skills,
            text_relevance.clamp(0.0, 1.0),
            distance_similarity(self.config, distance_km),
            features::experience_bound(self.config, v, c, depth),
            features::education_similarity(v.min_education, c.education),
            1.0,
            features::licence_bound(v, c),
        ])
    }

    /// An upper bound of the score of every pair whose candidate shares
    /// exactly `depth` of the vacancy's `levels` CP2011 levels, lives
    /// `distance_km` away and has text relevance at most `text` and skills
    /// similarity at most `skills`: the profession credit of that depth,
    /// experience only where the depth reaches the relevant level (no
    /// experience can be relevant below it), full credit for the criteria
    /// the group says nothing about, and every boost. The same terms in the
    /// same order as [`Similarities::score`] plus [`Context::boost_total`],
    /// each at least the pair's own, so float rounding cannot put it below a
    /// member's score.
    pub fn group_bound(
        &self,
        depth: usize,
        levels: usize,
        distance_km: f64,
        text: f64,
        skills: f64,
    ) -> f64 {
        let profession = features::depth_similarity(depth, levels);
        let experience = if depth >= features::relevant_depth(self.config, levels) {
            1.0
        } else {
            0.0
        };
        Similarities([
            profession,
            skills.clamp(0.0, 1.0),
            text.clamp(0.0, 1.0),
            distance_similarity(self.config, distance_km),
            experience,
            1.0,
            1.0,
            1.0,
        ])
        .score(self.config)
            + self.max_boost()
    }

    /// The sum of every boost: what the best-placed person receives.
    pub fn max_boost(&self) -> f64 {
        Criterion::BOOSTS
            .iter()
            .map(|b| b.weight(self.config))
            .sum()
    }

    /// Replaces the bounds [`Context::cheap_similarities`] gave skills,
    /// experience, languages and licences with the pair's own.
    pub fn complete_similarities(&self, sims: &mut Similarities, v: &VacancyRow, c: &CandidateRow) {
        let cfg = self.config;
        sims.0[Criterion::Skills as usize] = features::skill_similarity(cfg, v, c);
        sims.0[Criterion::Experience as usize] = features::experience_similarity(cfg, v, c);
        sims.0[Criterion::Languages as usize] = features::language_similarity(v, c);
        sims.0[Criterion::Licences as usize] = features::licence_similarity(v, c);
    }

    /// Weighted contributions with their sentences; they add up to the score.
    /// `rows` are the pair's rows (both in one vocabulary), which the
    /// sentences read.
    pub fn contributions(
        &self,
        vacancy: &Vacancy,
        candidate: &Candidate,
        rows: (&VacancyRow, &CandidateRow),
        distance_km: f64,
        sims: &Similarities,
    ) -> Vec<Contribution> {
        let total = total_weight(self.config);
        Criterion::ALL
            .iter()
            .zip(sims.0)
            .map(|(&criterion, similarity)| {
                let weight = criterion.weight(self.config);
                let pair = (vacancy, candidate, rows);
                Contribution {
                    criterion,
                    similarity,
                    weight,
                    contribution: weight * similarity / total,
                    reason: self.reason(criterion, pair, distance_km, similarity),
                }
            })
            .collect()
    }

    /// The sentence of one criterion; `pair` carries both sides with their
    /// rows, built once per explanation.
    fn reason(
        &self,
        criterion: Criterion,
        (vacancy, candidate, (vrow, crow)): (&Vacancy, &Candidate, (&VacancyRow, &CandidateRow)),
        distance_km: f64,
        similarity: f64,
    ) -> String {
        let v = &vacancy.spec;
        let p = &candidate.profile;
        match criterion {
            Criterion::Profession => {
                let wanted = self.profession_label(&v.profession_code);
                let (depth, code) = best_profession(&v.profession_code, candidate);
                let levels = segments(&v.profession_code);
                match code {
                    Some(_) if depth == levels => {
                        format!("Professione «{wanted}» tra quelle svolte o cercate")
                    }
                    Some(code) if depth > 0 => format!(
                        "Professione affine: «{}» ({depth} {} su {levels} della classificazione ISTAT in comune con «{wanted}»)",
                        self.profession_label(code),
                        if depth == 1 { "livello" } else { "livelli" },
                    ),
                    _ => format!("Nessuna professione affine a «{wanted}» nel profilo"),
                }
            }
            Criterion::Skills => {
                let held = features::skills_held(vrow, crow);
                let mut tally = SkillTally::default();
                for (name, held) in v
                    .required_skills
                    .iter()
                    .chain(&v.preferred_skills)
                    .zip(held)
                {
                    // The row folds ASCII case when it interns a skill, so a
                    // skill is certified under the same comparison.
                    let certified = || {
                        p.certified_skills
                            .iter()
                            .any(|c| c.eq_ignore_ascii_case(name))
                    };
                    match (held, held && certified()) {
                        (false, _) => tally.missing.push(name),
                        (true, true) => tally.certified += 1,
                        (true, false) => tally.declared += 1,
                    }
                }
                tally.sentence(self.config.skills.declared_credit)
            }
            Criterion::Text => {
                if similarity > 0.0 {
                    format!(
                        "Profilo pertinente al testo dell'annuncio (pertinenza {:.0}%)",
                        similarity * 100.0
                    )
                } else {
                    "Profilo non pertinente al testo dell'annuncio".into()
                }
            }
            Criterion::Distance
                if self
                    .road_km(&p.domicile_comune, &v.workplace_comune)
                    .is_none() =>
            {
                "Distanza non calcolabile: comune di domicilio o della sede di lavoro sconosciuto"
                    .to_string()
            }
            Criterion::Distance if p.domicile_comune == v.workplace_comune => format!(
                "Domicilio nello stesso comune della sede di lavoro ({})",
                self.comune_name(&v.workplace_comune)
            ),
            Criterion::Distance => format!(
                "Domicilio a {:.0} km dalla sede di lavoro di {}",
                distance_km.max(1.0),
                self.comune_name(&v.workplace_comune)
            ),
            Criterion::Experience => {
                let months = features::relevant_months(self.config, vrow, crow);
                if v.min_experience_months > 0 {
                    format!(
                        "{months} mesi di esperienza in professioni affini (richiesti {})",
                        v.min_experience_months
                    )
                } else if months > 0 {
                    format!("{months} mesi di esperienza in professioni affini")
                } else {
                    "Nessuna esperienza in professioni affini".into()
                }
            }
            Criterion::Education => {
                if v.min_education == crate::model::EducationLevel::Unspecified {
                    format!(
                        "Titolo di studio: {} (nessun requisito)",
                        p.education.label()
                    )
                } else {
                    format!(
                        "Titolo di studio: {} (richiesto: {})",
                        p.education.label(),
                        v.min_education.label()
                    )
                }
            }
            Criterion::Languages => {
                if v.languages.is_empty() {
                    "Nessuna lingua straniera richiesta".into()
                } else {
                    let parts: Vec<String> = v
                        .languages
                        .iter()
                        .map(|req| {
                            let have = p
                                .languages
                                .iter()
                                .find(|l| l.language == req.language)
                                .map(|l| l.level.label())
                                .unwrap_or("non conosciuta");
                            format!(
                                "{} {} richiesto, posseduto {have}",
                                req.language,
                                req.level.label()
                            )
                        })
                        .collect();
                    format!("Lingue: {}", parts.join("; "))
                }
            }
            Criterion::Licences => {
                if v.driving_licences.is_empty() {
                    "Nessuna patente richiesta".into()
                } else {
                    let missing: Vec<&str> = v
                        .driving_licences
                        .iter()
                        .filter(|l| !p.driving_licences.contains(l))
                        .map(String::as_str)
                        .collect();
                    if missing.is_empty() {
                        format!(
                            "Possiede la patente richiesta ({})",
                            v.driving_licences.join(", ")
                        )
                    } else {
                        format!("Manca la patente richiesta: {}", missing.join(", "))
                    }
                }
            }
            // Boosts carry their own sentences (`boost_contributions`).
            _ => String::new(),
        }
    }

    /// The full evaluation of one pair, for `Explain`.
    pub fn evaluate(
        &self,
        vacancy: &Vacancy,
        candidate: &Candidate,
        facts: CandidateFacts<'_>,
        text_relevance: f64,
    ) -> Evaluation {
        let (filters, distance_km) =
            self.hard_filters(vacancy, candidate, facts, &RequestFilters::default(), true);
        let eligible = filters.iter().all(|f| f.passed);
        let km = distance_km.unwrap_or(f64::from(self.config.distance.max_search_km));
        let (vrow, crow) = features::pair_rows(vacancy, candidate);
        let sims = self.similarities_of_rows(&vrow, &crow, km, text_relevance);
        let mut contributions = self.contributions(vacancy, candidate, (&vrow, &crow), km, &sims);
        contributions.extend(self.boost_contributions(candidate));
        let score = contributions.iter().map(|c| c.contribution).sum();
        let congruity = distance_km.and_then(|km| self.congruity(vacancy, candidate, facts, km));
        Evaluation {
            eligible,
            filters,
            score,
            contributions,
            distance_km,
            congruity,
        }
    }
}

fn income_support_label(support: IncomeSupport) -> &'static str {
    match support {
        IncomeSupport::None => "nessuno",
        IncomeSupport::Naspi => "NASpI",
        IncomeSupport::DisColl => "DIS-COLL",
        IncomeSupport::Adi => "ADI",
        IncomeSupport::Sfl => "SFL",
    }
}

/// Whether the candidate accepts the vacancy's contract type (accepting
/// none in particular accepts all).
pub fn contract_accepted(v: &VacancyRow, c: &CandidateSketch) -> bool {
    c.accepts(v.contract)
}

/// Whether the vacancy's hours are within the candidate's stated range.
pub fn hours_fit(v: &VacancyRow, c: &CandidateSketch) -> bool {
    (u32::from(c.min_hours)..=u32::from(c.max_hours)).contains(&v.hours)
}

/// Whether a person of L.68/99 category `protected` may take a position
/// reserved as `quota`.
pub fn quota_fits(quota: ReservedQuota, protected: ProtectedCategory) -> bool {
    matches!(
        (quota, protected),
        (ReservedQuota::None, _)
            | (ReservedQuota::Art1, ProtectedCategory::Art1)
            | (ReservedQuota::Art18, ProtectedCategory::Art18)
    )
}

/// Number of levels of a CP2011 code ("5.2.2" has 3).
pub fn segments(code: &str) -> usize {
    if code.is_empty() {
        0
    } else {
        code.split('.').count()
    }
}

/// Levels two CP2011 codes share from the top.
pub fn shared_depth(a: &str, b: &str) -> usize {
    if a.is_empty() || b.is_empty() {
        return 0;
    }
    // Byte-wise rather than `split('.')`: this runs for every profession of
    // every candidate a list visits (a tenth of a list's time with split).
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut depth = 0;
    let mut start = 0;
    loop {
        let end_a = a[start..]
            .iter()
            .position(|&c| c == b'.')
            .map_or(a.len(), |p| start + p);
        let end_b = b[start..]
            .iter()
            .position(|&c| c == b'.')
            .map_or(b.len(), |p| start + p);
        if end_a != end_b || a[start..end_a] != b[start..end_b] {
            return depth;
        }
        depth += 1;
        if end_a == a.len() || end_b == b.len() {
            return depth;
        }
        start = end_a + 1;
    }
}

fn distance_similarity(config: &ScoringConfig, distance_km: f64) -> f64 {
    (-distance_km / config.distance.decay_km).exp()
}

/// Deepest shared prefix with any desired or practised profession (for
/// the sentence that names it).
fn best_profession<'c>(wanted: &str, candidate: &'c Candidate) -> (usize, Option<&'c str>) {
    let p = &candidate.profile;
    p.desired_professions
        .iter()
        .map(String::as_str)
        .chain(p.experience.iter().map(|e| e.profession_code.as_str()))
        .map(|code| (shared_depth(wanted, code), Some(code)))
        .max_by_key(|(d, _)| *d)
        .unwrap_or((0, None))
}

/// The skills a vacancy names, as the candidate holds them.
#[derive(Default)]
struct SkillTally<'a> {
    certified: usize,
    /// Declared and not certified: each earns `declared_credit` of a
    /// certified one, so the sentence must say which are which.
    declared: usize,
    missing: Vec<&'a str>,
}

impl SkillTally<'_> {
    fn sentence(&self, declared_credit: f64) -> String {
        let have = self.certified + self.declared;
        let named = have + self.missing.len();
        let missing = self.missing.join(", ");
        let plural = |n: usize, one: &'static str, many: &'static str| {
            if n == 1 {
                one
            } else {
                many
            }
        };
        let held = match (named, have) {
            (0, _) => return "Nessuna competenza specifica richiesta".into(),
            (1, 0) => {
                return format!("Non possiede la competenza indicata nell'annuncio ({missing})")
            }
            (_, 0) => {
                return format!(
                    "Non possiede nessuna delle {named} competenze indicate nell'annuncio \
                     (mancano: {missing})"
                )
            }
            (1, _) => "Possiede la competenza indicata nell'annuncio".to_string(),
            _ if self.missing.is_empty() => {
                format!("Possiede tutte le {named} competenze indicate nell'annuncio")
            }
            _ => format!("Possiede {have} delle {named} competenze indicate nell'annuncio"),
        };
        let how = match (self.certified, self.declared) {
            (c, 0) => plural(c, "certificata", "tutte certificate").to_string(),
            (0, d) => plural(
                d,
                "dichiarata, non certificata",
                "tutte dichiarate, nessuna certificata",
            )
            .to_string(),
            (c, d) => format!(
                "{c} {} e {d} solo {}",
                plural(c, "certificata", "certificate"),
                plural(d, "dichiarata", "dichiarate"),
            ),
        };
        let mut sentence = format!("{held}, {how}");
        if self.declared > 0 {
            // The similarity this sentence explains is lower than for the same
            // skills certified: say by how much.
            let credit = format!("{declared_credit}").replace('.', ",");
            sentence.push_str(&format!(
                " (ogni competenza solo dichiarata pesa {credit}, ogni certificata 1)"
            ));
        }
        if !self.missing.is_empty() {
            let verb = plural(self.missing.len(), "manca", "mancano");
            sentence.push_str(&format!("; {verb}: {missing}"));
        }
        sentence
    }
}

#[cfg(test)]
mod tests {
    use super::shared_depth;
    use proptest::prelude::*;

    /// The definition `shared_depth` implements without allocating.
    fn by_split(a: &str, b: &str) -> usize {
        if a.is_empty() || b.is_empty() {
            return 0;
        }
        a.split('.')
            .zip(b.split('.'))
            .take_while(|(x, y)| x == y)
            .count()
    }

    #[test]
    fn shared_depth_counts_levels_from_the_top() {
        assert_eq!(shared_depth("5.2.2.1.0", "5.2.2.1.0"), 5);
        assert_eq!(shared_depth("5.2.2", "5.2.2.1.0"), 3);
        assert_eq!(shared_depth("5.2.2.1.0", "5.2.3.1.0"), 2);
        assert_eq!(shared_depth("5.2", "5.22"), 1);
        assert_eq!(shared_depth("6.2", "5.2"), 0);
        assert_eq!(shared_depth("", "5.2"), 0);
    }

    proptest! {
        #[test]
        fn shared_depth_agrees_with_splitting(a in "[0-9.]{0,12}", b in "[0-9.]{0,12}") {
            prop_assert_eq!(shared_depth(&a, &b), by_split(&a, &b));
        }
    }
}
