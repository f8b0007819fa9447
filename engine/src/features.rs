//! Compact features of both sides of a pair, by slot: what scoring reads,
//! as small integers (interned skills, CP2011 prefixes, languages,
//! licences, CPI codes), so that a list judges and scores a pair with no
//! hashing, no string comparison and no allocation.
//!
//! The fold keeps a [`CandidateRow`] per candidate slot and a
//! [`VacancyRow`] per vacancy slot (in [`State`](crate::state::State),
//! beside the profession index, rebuilt on restore, never serialised). Each row
//! is one record rather than one array per field: a pair reads every field
//! of its row, so one row is one or two cache lines, where separate arrays
//! would be one line each.
//!
//! The similarity formulas of the criteria that compare sets (skills,
//! experience, languages, licences, profession depth) are defined here,
//! once, on these rows; the explanation path builds the rows of its one
//! pair and calls the same functions.

use std::collections::HashMap;

use crate::config::ScoringConfig;
use crate::model::Day;
use crate::model::{
    Candidate, Cefr, ContractType, EducationLevel, GolPath, IncomeSupport, LanguageSkill,
    ReservedQuota, Vacancy,
};

/// An id no row holds: what a code unknown to the vocabulary (a request's
/// CPI code no candidate has) is looked up as.
const UNKNOWN: u32 = u32::MAX;
/// A level a candidate's CP2011 code does not have: never an interned id,
/// so it matches no vacancy level.
const ABSENT: u32 = u32::MAX - 1;

/// Interned strings of one kind.
#[derive(Debug, Default, Clone)]
struct Interner {
    ids: HashMap<Box<str>, u32>,
}

impl Interner {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        // Ids stay below the two sentinels.
        let id = u32::try_from(self.ids.len())
            .unwrap_or(ABSENT - 1)
            .min(ABSENT - 1);
        self.ids.insert(s.into(), id);
        id
    }

    fn get(&self, s: &str) -> u32 {
        self.ids.get(s).copied().unwrap_or(UNKNOWN)
    }
}

/// The interners rows are written with. Only ever grows (an id is never
/// reused), so a row stays valid for as long as the state lives.
#[derive(Debug, Default, Clone)]
pub struct Vocabulary {
    /// Skill names, ASCII case folded: the comparison skills always had.
    skills: Interner,
    /// CP2011 prefixes at every level ("5", "5.2", "5.2.2", ...).
    prefixes: Interner,
    /// Language codes, licence codes and CPI codes, each compared exactly.
    words: Interner,
}

impl Vocabulary {
    /// The id of a language, licence or CPI code ([`UNKNOWN`] if no row
    /// holds it).
    pub fn word(&self, s: &str) -> u32 {
        self.words.get(s)
    }
}

impl Vocabulary {
    fn skill(&mut self, s: &str) -> u32 {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            self.skills.intern(&s.to_ascii_lowercase())
        } else {
            self.skills.intern(s)
        }
    }

    fn prefix(&mut self, s: &str) -> u32 {
        self.prefixes.intern(s)
    }

    fn intern_word(&mut self, s: &str) -> u32 {
        self.words.intern(s)
    }
}

/// The prefix ids of a CP2011 code, one per level.
fn code_prefixes(ids: &mut Vocabulary, code: &str) -> Box<[u32]> {
    crate::profession_index::prefixes(code)
        .map(|p| ids.prefix(p))
        .collect()
}

fn languages(ids: &mut Vocabulary, languages: &[LanguageSkill]) -> Box<[(u32, Cefr)]> {
    languages
        .iter()
        .map(|l| (ids.intern_word(&l.language), l.level))
        .collect()
}

/// Target-group bits of [`CandidateRow::groups`].
pub const BENEFIT: u8 = 1;
pub const VULNERABLE: u8 = 2;
pub const GOL_INCLUSIONE: u8 = 4;

/// What a list reads of every candidate it visits, in 32 bytes: the
/// fields of the hard filters that read the profile, exactly, and a
/// sketch of the sets the soft criteria compare (skills and licences as
/// bloom bits, experience as total months), enough for an upper bound of
/// those criteria. The fold keeps one per slot in an array of their own
/// (two to a cache line), so a pair the bound leaves out costs one memory
/// read; the rest of the [`CandidateRow`] is read only for pairs that
/// could be kept.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[repr(C)]
pub struct CandidateSketch {
    /// Bit [`bloom_bit`] of every skill id held, declared or certified.
    skills: u64,
    pub cpi: u32,
    pub did_day: Day,
    /// Declared mobility limit, 0 when none was stated.
    pub max_km: u32,
    pub min_hours: u16,
    /// 100 when none was stated.
    pub max_hours: u16,
    /// A bit per accepted [`ContractType`]; 0 accepts every type.
    pub contracts: u16,
    /// Months of every practised profession, [`u16::MAX`] for that many or
    /// more: no experience can be relevant for more.
    months: u16,
    /// Bit [`licence_bit`] of every licence id held.
    licences: u16,
    pub education: EducationLevel,
    /// [`BENEFIT`], [`VULNERABLE`], [`GOL_INCLUSIONE`]; [`LISTED`].
    flags: u8,
}

/// [`CandidateSketch`] flag: neither withdrawn nor declared unavailable.
const LISTED: u8 = 8;

/// The bit of a skill id in [`CandidateSketch`]'s skills: ids are given
/// in order of first sight, so they are spread by a multiplicative hash.
fn bloom_bit(id: u32) -> u64 {
    1 << (id.wrapping_mul(0x9E37_79B9) >> 26)
}

/// The bit of a licence id in [`CandidateSketch`]'s licences (a handful of
/// licence codes exist, so their ids rarely share a bit).
fn licence_bit(id: u32) -> u16 {
    1 << (id % 16)
}

impl CandidateSketch {
    /// Neither withdrawn nor declared unavailable.
    pub fn listed(&self) -> bool {
        self.flags & LISTED != 0
    }

    /// [`BENEFIT`], [`VULNERABLE`], [`GOL_INCLUSIONE`].
    pub fn groups(&self) -> u8 {
        self.flags & !LISTED
    }

    pub fn accepts(&self, contract: ContractType) -> bool {
        self.contracts == 0 || self.contracts & contract_bit(contract) != 0
    }

    /// Whether the skill may be held (a bloom bit: never false for a skill
    /// held).
    fn may_hold_skill(&self, id: u32) -> bool {
        self.skills & bloom_bit(id) != 0
    }

    fn may_hold_licence(&self, id: u32) -> bool {
        self.licences & licence_bit(id) != 0
    }
}

/// What a list reads of a candidate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CandidateRow {
    pub sketch: CandidateSketch,
    /// The prefix ids of the desired professions, then of the practised
    /// ones (one per experience), `width` ids each (a shorter code padded
    /// with [`ABSENT`]); then the months of each experience. One allocation:
    /// every pair a list bounds reads it, and a box per code was a cache
    /// miss per code.
    codes: Box<[u32]>,
    width: u8,
    desired: u16,
    practised: u16,
    /// (skill id, certified), sorted by id; a skill both declared and
    /// certified counts as certified.
    skills: Box<[(u32, bool)]>,
    languages: Box<[(u32, Cefr)]>,
    licences: Box<[u32]>,
}

/// The target groups a candidate belongs to, as [`CandidateRow::groups`]
/// bits (what the boosts other than long-term unemployment read).
pub fn target_groups(candidate: &Candidate) -> u8 {
    let p = &candidate.profile;
    let mut groups = 0;
    if p.income_support != IncomeSupport::None {
        groups |= BENEFIT;
    }
    if p.vulnerable {
        groups |= VULNERABLE;
    }
    if p.gol_path == GolPath::LavoroEInclusione {
        groups |= GOL_INCLUSIONE;
    }
    groups
}

fn contract_bit(c: ContractType) -> u16 {
    1 << (c as u16)
}

impl CandidateRow {
    /// The row the fold keeps, interning what it has not seen.
    pub fn of(ids: &mut Vocabulary, candidate: &Candidate) -> CandidateRow {
        let p = &candidate.profile;
        let mut skills: Vec<(u32, bool)> =
            Vec::with_capacity(p.skills.len() + p.certified_skills.len());
        for s in &p.skills {
            skills.push((ids.skill(s), false));
        }
        for s in &p.certified_skills {
            skills.push((ids.skill(s), true));
        }
        // Certified (true) after declared for one id: keep the last.
        skills.sort_unstable();
        let mut deduped: Vec<(u32, bool)> = Vec::with_capacity(skills.len());
        for (id, certified) in skills {
            match deduped.last_mut() {
                Some(last) if last.0 == id => last.1 |= certified,
                _ => deduped.push((id, certified)),
            }
        }
        let prefixes: Vec<Box<[u32]>> = p
            .desired_professions
            .iter()
            .chain(p.experience.iter().map(|e| &e.profession_code))
            .map(|code| code_prefixes(ids, code))
            .collect();
        let width = prefixes.iter().map(|c| c.len()).max().unwrap_or(0);
        let mut codes: Vec<u32> = Vec::with_capacity(prefixes.len() * width + p.experience.len());
        for code in &prefixes {
            codes.extend(code.iter().copied());
            codes.extend(std::iter::repeat_n(ABSENT, width - code.len()));
        }
        codes.extend(p.experience.iter().map(|e| e.months));
        // A profile has a few professions; a count beyond these types is
        // impossible, and would only shorten what the row holds.
        let width = u8::try_from(width).unwrap_or(u8::MAX);
        let desired = u16::try_from(p.desired_professions.len()).unwrap_or(u16::MAX);
        let practised = u16::try_from(p.experience.len()).unwrap_or(u16::MAX);
        let licences: Box<[u32]> = p
            .driving_licences
            .iter()
            .map(|l| ids.intern_word(l))
            .collect();
        let months = p
            .experience
            .iter()
            .fold(0u32, |sum, e| sum.saturating_add(e.months));
        let listed = if candidate.available && !candidate.withdrawn {
            LISTED
        } else {
            0
        };
        // The hours a profile states are percentages, checked at the edge;
        // one beyond u16 would only be clamped further from any vacancy.
        let hours = |h: u32| u16::try_from(h).unwrap_or(u16::MAX);
        CandidateRow {
            sketch: CandidateSketch {
                skills: deduped.iter().fold(0, |bits, s| bits | bloom_bit(s.0)),
                cpi: ids.intern_word(&p.cpi_code),
                did_day: candidate.did_day,
                max_km: p.max_distance_km,
                min_hours: hours(p.min_hours_percent),
                max_hours: hours(match p.max_hours_percent {
                    0 => 100,
                    m => m,
                }),
                contracts: p
                    .accepted_contracts
                    .iter()
                    .fold(0, |bits, &c| bits | contract_bit(c)),
                months: u16::try_from(months).unwrap_or(u16::MAX),
                licences: licences.iter().fold(0, |bits, &l| bits | licence_bit(l)),
                education: p.education,
                flags: target_groups(candidate) | listed,
            },
            codes: codes.into(),
            width,
            desired,
            practised,
            skills: deduped.into(),
            languages: languages(ids, &p.languages),
            licences,
        }
    }

    /// The prefix ids of each desired, then practised, profession (padded).
    fn professions(&self) -> std::slice::ChunksExact<'_, u32> {
        let width = usize::from(self.width).max(1);
        let n = (usize::from(self.desired) + usize::from(self.practised)) * usize::from(self.width);
        self.codes[..n.min(self.codes.len())].chunks_exact(width)
    }

    /// (prefix ids of the profession, months), per experience.
    fn experience(&self) -> impl Iterator<Item = (&[u32], u32)> {
        let n = (usize::from(self.desired) + usize::from(self.practised)) * usize::from(self.width);
        let months = self.codes.get(n..).unwrap_or_default();
        self.professions()
            .skip(usize::from(self.desired))
            .zip(months.iter().copied())
    }

    /// The ids of the skills held, declared or certified.
    pub fn skill_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.skills.iter().map(|s| s.0)
    }

    fn skill(&self, id: u32) -> Option<bool> {
        self.skills
            .binary_search_by_key(&id, |s| s.0)
            .ok()
            .map(|i| self.skills[i].1)
    }
}

/// What a list reads of a vacancy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VacancyRow {
    /// Prefix ids of the CP2011 code, one per level.
    pub profession: Box<[u32]>,
    required: Box<[u32]>,
    preferred: Box<[u32]>,
    pub min_education: EducationLevel,
    languages: Box<[(u32, Cefr)]>,
    licences: Box<[u32]>,
    pub min_experience_months: u32,
    pub contract: ContractType,
    pub hours: u32,
    pub quota: ReservedQuota,
    /// The last day of validity, 0 for none ([`crate::model::valid_on`]).
    pub valid_until: Day,
}

impl VacancyRow {
    /// The row the fold keeps, interning what it has not seen.
    pub fn of(ids: &mut Vocabulary, vacancy: &Vacancy) -> VacancyRow {
        let v = &vacancy.spec;
        VacancyRow {
            profession: code_prefixes(ids, &v.profession_code)
                .iter()
                // A level unknown to the vocabulary matches no candidate.
                .copied()
                .collect(),
            required: v.required_skills.iter().map(|s| ids.skill(s)).collect(),
            preferred: v.preferred_skills.iter().map(|s| ids.skill(s)).collect(),
            min_education: v.min_education,
            languages: languages(ids, &v.languages),
            licences: v
                .driving_licences
                .iter()
                .map(|l| ids.intern_word(l))
                .collect(),
            min_experience_months: v.min_experience_months,
            contract: v.contract_type,
            hours: v.hours_percent,
            quota: v.reserved_quota,
            valid_until: v.valid_until_day,
        }
    }

    pub fn levels(&self) -> usize {
        self.profession.len()
    }

    pub fn has_skills(&self) -> bool {
        !(self.required.is_empty() && self.preferred.is_empty())
    }

    /// The skill ids the vacancy names, required then preferred.
    pub fn skill_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.required.iter().chain(self.preferred.iter()).copied()
    }
}

/// Both rows of one pair, on a vocabulary of their own: how the
/// explanation of a single pair reaches the same formulas as a list.
pub fn pair_rows(vacancy: &Vacancy, candidate: &Candidate) -> (VacancyRow, CandidateRow) {
    let mut vocabulary = Vocabulary::default();
    let c = CandidateRow::of(&mut vocabulary, candidate);
    let v = VacancyRow::of(&mut vocabulary, vacancy);
    (v, c)
}

/// Levels of the vacancy's code that the candidate's closest desired or
/// practised profession shares from the top.
pub fn shared_levels(v: &VacancyRow, c: &CandidateRow) -> usize {
    c.professions()
        .map(|code| {
            v.profession
                .iter()
                .zip(code.iter())
                .take_while(|(a, b)| a == b)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Share of the vacancy's CP2011 levels the candidate shares.
pub fn profession_similarity(v: &VacancyRow, c: &CandidateRow) -> f64 {
    depth_similarity(shared_levels(v, c), v.levels())
}

/// Profession credit of `depth` shared levels of `levels`.
pub fn depth_similarity(depth: usize, levels: usize) -> f64 {
    match levels {
        0 => 0.0,
        levels => depth as f64 / levels as f64,
    }
}

/// Shared CP2011 levels that make an experience relevant to a vacancy
/// whose code has `levels` levels.
pub fn relevant_depth(config: &ScoringConfig, levels: usize) -> usize {
    config.experience.relevant_depth.min(levels).max(1)
}

/// Months of experience in professions sharing the relevant depth with
/// the vacancy's.
pub fn relevant_months(config: &ScoringConfig, v: &VacancyRow, c: &CandidateRow) -> u32 {
    let depth = relevant_depth(config, v.levels());
    let Some(&wanted) = v.profession.get(depth - 1) else {
        return 0;
    };
    c.experience()
        .filter(|(code, _)| code.get(depth - 1).copied().unwrap_or(ABSENT) == wanted)
        .map(|(_, months)| months)
        .sum()
}

/// Experience similarity: relevant months against what the vacancy asks
/// (or the configured full credit when it asks for none).
pub fn experience_similarity(config: &ScoringConfig, v: &VacancyRow, c: &CandidateRow) -> f64 {
    experience_formula(config, v, relevant_months(config, v, c))
}

/// An upper bound of [`experience_similarity`] for a candidate sharing
/// `depth` levels with the vacancy: none below the relevant depth (no
/// experience can share it), else every month practised counted relevant.
pub fn experience_bound(
    config: &ScoringConfig,
    v: &VacancyRow,
    c: &CandidateSketch,
    depth: usize,
) -> f64 {
    if depth < relevant_depth(config, v.levels()) {
        0.0
    } else if c.months == u16::MAX {
        1.0
    } else {
        experience_formula(config, v, u32::from(c.months))
    }
}

fn experience_formula(config: &ScoringConfig, v: &VacancyRow, months: u32) -> f64 {
    let target = match v.min_experience_months {
        0 => config.experience.full_credit_months.max(1),
        m => m,
    };
    (f64::from(months) / f64::from(target)).min(1.0)
}

/// Skills similarity, and for each skill the vacancy names (required
/// first, then preferred) whether the candidate holds it.
pub fn skill_similarity(config: &ScoringConfig, v: &VacancyRow, c: &CandidateRow) -> f64 {
    skill_formula(config, v, |s| match c.skill(s) {
        Some(true) => 1.0,
        Some(false) => config.skills.declared_credit,
        None => 0.0,
    })
}

/// An upper bound of [`skill_similarity`] from the sketch: full credit for
/// every skill its bloom bits say may be held. The same formula with each
/// skill's credit at least the pair's own, so rounding cannot put it below.
pub fn skill_bound(config: &ScoringConfig, v: &VacancyRow, c: &CandidateSketch) -> f64 {
    skill_formula(config, v, |s| if c.may_hold_skill(s) { 1.0 } else { 0.0 })
}

/// The skills similarity given each named skill's credit (certified 1,
/// declared less, absent 0).
fn skill_formula(config: &ScoringConfig, v: &VacancyRow, credit_of: impl Fn(u32) -> f64) -> f64 {
    let credit = |skills: &[u32]| -> Option<f64> {
        if skills.is_empty() {
            return None;
        }
        let sum: f64 = skills.iter().map(|&s| credit_of(s)).sum();
        Some(sum / skills.len() as f64)
    };
    let share = config.skills.required_share;
    match (credit(&v.required), credit(&v.preferred)) {
        (Some(r), Some(p)) => share * r + (1.0 - share) * p,
        (Some(r), None) => r,
        (None, Some(p)) => p,
        (None, None) => 1.0,
    }
}

/// Whether the candidate holds each skill the vacancy names, required
/// first, then preferred (for the explanation's sentence).
pub fn skills_held(v: &VacancyRow, c: &CandidateRow) -> Vec<bool> {
    v.skill_ids().map(|s| c.skill(s).is_some()).collect()
}

pub fn education_similarity(required: EducationLevel, held: EducationLevel) -> f64 {
    if required == EducationLevel::Unspecified || held >= required {
        1.0
    } else if (held as u8) + 1 == required as u8 {
        0.5
    } else {
        0.0
    }
}

pub fn language_similarity(v: &VacancyRow, c: &CandidateRow) -> f64 {
    if v.languages.is_empty() {
        return 1.0;
    }
    let sum: f64 = v
        .languages
        .iter()
        .map(
            |&(language, level)| match c.languages.iter().find(|l| l.0 == language) {
                Some(l) if l.1 >= level => 1.0,
                Some(_) => 0.5,
                None => 0.0,
            },
        )
        .sum();
    sum / v.languages.len() as f64
}

pub fn licence_similarity(v: &VacancyRow, c: &CandidateRow) -> f64 {
    licence_formula(v, |l| c.licences.contains(&l))
}

/// An upper bound of [`licence_similarity`] from the sketch's bits.
pub fn licence_bound(v: &VacancyRow, c: &CandidateSketch) -> f64 {
    licence_formula(v, |l| c.may_hold_licence(l))
}

fn licence_formula(v: &VacancyRow, held: impl Fn(u32) -> bool) -> f64 {
    if v.licences.is_empty() {
        return 1.0;
    }
    let have = v.licences.iter().filter(|&&l| held(l)).count();
    have as f64 / v.licences.len() as f64
}
