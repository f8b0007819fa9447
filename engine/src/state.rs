//! The folded state of all streams, and the only code that changes it.
//!
//! `State::apply` is total and deterministic: given the same sequence of
//! events it yields the same state, and a duplicate `event_id` or a
//! non-increasing `entity_version` leaves the state untouched and is counted.

use std::collections::{BTreeMap, BTreeSet};

// SipHash was a tenth of a million-candidate restore; FxHash, tried next,
// spreads ids with a long shared prefix ("SAP000…") so poorly over
// hashbrown's tag bits that a lookup compared strings most of the time.
use foldhash::{HashMap, HashSet};
use indexmap::IndexMap;
use roaring::{MultiOps, RoaringBitmap};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128;

use crate::eligibility::{Eligibility, VacancyEligibility};
use crate::employment::EmploymentRecord;
use crate::event::{CandidacyEvent, EntityKind, Event, EventPayload, IssuedList, VacancyEvent};
use crate::features::{CandidateRow, CandidateSketch, VacancyRow, Vocabulary};
use crate::model::{
    Candidate, CandidateProfile, Day, FillingHire, ProtectedCategory, SealedPersonalData, Vacancy,
    VacancyStatus,
};
use crate::profession_index::{ProfessionIndex, VacancyIndex};

/// What applying one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// The `event_id` was applied before.
    DuplicateEvent,
    /// The entity is already at this version or a later one.
    StaleVersion {
        current: u64,
    },
    /// Well-formed but meaningless here (e.g. a notice that contradicts
    /// the worker's contracts); recorded as seen so a replay ignores it the
    /// same way, and advancing no version.
    Ignored {
        reason: String,
    },
    /// Its entity does not exist yet (an update that arrived before the
    /// registration or publication): kept, and applied when the entity is
    /// created, as if it had arrived then.
    Waiting,
}

/// At most this many events wait for one entity, and in all: beyond, an
/// event for an entity nobody creates is ignored (and counted) instead.
pub const MAX_WAITING_PER_ENTITY: usize = 64;
pub const MAX_WAITING: usize = 100_000;

/// Raises `top` to `version`, never lowers it.
fn bump(top: &mut u64, version: u64) {
    *top = (*top).max(version);
}

/// An event's claim on the parts of a vacancy or candidacy: which of the
/// two parts it sets (each last-writer-wins by entity version), and
/// whether it also does something that holds whatever the order (adds
/// filled positions, withdraws for good).
struct Claim {
    parts: [bool; 2],
    lasting: bool,
}

/// The parts of a vacancy (0: the spec; 1: its status) and of a candidacy
/// (0: the profile; 1: availability) each event sets. `None`: the stream
/// is versioned as a whole.
fn claim(payload: &EventPayload) -> Option<Claim> {
    let c = |a, b, lasting| {
        Some(Claim {
            parts: [a, b],
            lasting,
        })
    };
    match payload {
        EventPayload::Vacancy(v) => match v {
            VacancyEvent::Published(_) => c(true, true, false),
            VacancyEvent::Updated(_) => c(true, false, false),
            VacancyEvent::Closed | VacancyEvent::Withdrawn { .. } => c(false, true, false),
            VacancyEvent::PositionsFilled { .. } => c(false, false, true),
        },
        EventPayload::Candidacy(ev) => match ev {
            CandidacyEvent::Registered { .. } => c(true, true, false),
            CandidacyEvent::ProfileUpdated(_) => c(true, false, false),
            CandidacyEvent::AvailabilityChanged { .. } => c(false, true, false),
            CandidacyEvent::Withdrawn { .. } => c(false, true, true),
        },
        _ => None,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub applied: u64,
    pub duplicates: u64,
    pub stale: u64,
    pub ignored: u64,
    /// Waiting for their entity now (an event that waited and was then
    /// applied counts as applied).
    pub waiting: u64,
}

impl Counters {
    /// Events folded, whatever their outcome: the journal position of a
    /// state built from a journal.
    pub fn folded(&self) -> u64 {
        self.applied + self.duplicates + self.stale + self.ignored + self.waiting
    }
}

/// A map that also numbers its entries densely in insertion order. Used for
/// candidates and employment records, which are never removed once folded:
/// a list scans residents by slot number (`u32`) instead of hashing an id
/// per candidate, which was 45 % of a preselection list.
type SlotMap<V> = IndexMap<String, V, foldhash::fast::RandomState>;

/// No employment record (in [`Link::employment`]).
const NO_SLOT: u32 = u32::MAX;

impl Link {
    /// See [`State::committed_until_at`].
    pub fn committed_until(&self) -> Day {
        self.committed_until
    }

    pub fn protected(&self) -> ProtectedCategory {
        self.protected
    }
}

/// What a list reads beside a candidate's row, by candidate slot, in one
/// place: a list judges tens of thousands of candidates, and each separate
/// array was a cache miss per candidate.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// The slot of their employment record, or [`NO_SLOT`].
    employment: u32,
    /// [`EmploymentRecord::committed_until`] of that record (`Day::MIN`
    /// without one): after it the worker is free, and a list need not read
    /// the record.
    committed_until: Day,
    /// Their L.68/99 category.
    protected: ProtectedCategory,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    vacancies: SlotMap<Vacancy>,
    candidates: SlotMap<Candidate>,
    /// Kept apart from candidates: identifying data never reaches scoring,
    /// and is kept sealed (only the edge holds the keys).
    personal: HashMap<String, SealedPersonalData>,
    /// L.68/99 registrations (health data), only for eligibility.
    protected: HashMap<String, ProtectedCategory>,
    /// Employment records by worker pseudonym.
    employment: SlotMap<EmploymentRecord>,
    /// Candidate id by worker pseudonym.
    person_to_candidate: HashMap<String, String>,
    /// Issued lists by id, for outcome attribution.
    lists: HashMap<String, IssuedList>,
    versions: HashMap<(EntityKind, String), u64>,
    /// Versions of the two parts of each vacancy and candidacy (see
    /// [`claim`]): a late event still sets a part no later event has.
    part_versions: HashMap<(EntityKind, String), [u64; 2]>,
    /// Events waiting for their entity to be created, by the stream and id
    /// of the entity that creates it, in arrival order.
    waiting: BTreeMap<(EntityKind, String), Vec<Event>>,
    /// 128-bit hashes of applied event ids: 16 bytes an event instead of the
    /// id, with a collision chance far below that of a disk error.
    seen_events: HashSet<u128>,
    counters: Counters,
    /// Issued lists are kept this many days before the newest one (None:
    /// for ever). Configuration, set by the projection at open.
    #[serde(skip)]
    list_retention_days: Option<u32>,
    /// The newest issued list's day.
    #[serde(skip)]
    newest_list_day: Option<Day>,
    /// Candidate slots by domicile comune, ascending.
    #[serde(skip)]
    candidates_by_comune: HashMap<String, Vec<u32>>,
    /// By candidate slot: their employment record's slot and horizon, and
    /// their L.68/99 category. Read once per candidate by a list, so kept
    /// beside the slot rather than looked up by id.
    #[serde(skip)]
    links: Vec<Link>,
    /// Largest stated mobility limit (km, 0 = unstated) of anyone who has
    /// lived in each comune: a list skips comuni no resident could travel
    /// from. Never lowered, so it can only over-include.
    #[serde(skip)]
    mobility_by_comune: HashMap<String, u32>,
    /// Candidate slots by CP2011 prefix and comune: the groups a list
    /// visits best first.
    #[serde(skip)]
    professions: ProfessionIndex,
    /// Candidate slots by skill id, declared or certified: a list bounds
    /// the people holding none of a vacancy's skills with no skill credit.
    #[serde(skip)]
    skill_holders: HashMap<u32, RoaringBitmap>,
    /// Candidate slots by the filters a list judges from bits alone: a
    /// list skips who fails them without reading their row.
    #[serde(skip)]
    eligibility: Eligibility,
    /// Vacancy slots by the filters a list of vacancies judges from bits.
    #[serde(skip)]
    vacancy_eligibility: VacancyEligibility,
    /// Listable vacancy slots by code length, CP2011 prefix and comune.
    #[serde(skip)]
    listable: VacancyIndex,
    /// Compact features by candidate slot, and the vocabulary they are
    /// written in: what a list scores a pair from.
    #[serde(skip)]
    rows: Vec<CandidateRow>,
    /// Each row's sketch again, in an array of its own: what a list reads
    /// of every candidate it visits, two to a cache line.
    #[serde(skip)]
    sketches: Vec<CandidateSketch>,
    #[serde(skip)]
    vacancy_rows: Vec<VacancyRow>,
    #[serde(skip)]
    vocabulary: Vocabulary,
    /// Vacancy ids by (employer, CP2011 categoria): where a notified hire
    /// can fill a position.
    #[serde(skip)]
    fill_vacancies: HashMap<FillKey, BTreeSet<String>>,
    /// Notified hires by (employer, CP2011 categoria), in start order.
    #[serde(skip)]
    fill_hires: HashMap<FillKey, BTreeMap<HireKey, ()>>,
}

/// (Employer codice fiscale, CP2011 code cut to its 4th level, the
/// categoria): a hire fills a vacancy of the same employer and categoria.
type FillKey = (String, String);
/// (Start day, codice comunicazione, worker pseudonym): the order in which
/// hires take positions.
type HireKey = (Day, String, String);

/// Days after a vacancy's validity ends during which a hire still fills it:
/// selection outlasts the advert.
pub const FILL_GRACE_DAYS: Day = 60;

/// Adds `slot` to the holders of every skill of its row.
fn hold_skills(holders: &mut HashMap<u32, RoaringBitmap>, slot: u32, row: &CandidateRow) {
    for skill in row.skill_ids() {
        holders.entry(skill).or_default().insert(slot);
    }
}

/// Keeps the row of candidate `slot` and what a list reads beside it: the
/// skill holders, the sketch and the eligibility sets (one place for the
/// fold and a restore).
fn keep_row(
    holders: &mut HashMap<u32, RoaringBitmap>,
    (rows, sketches, eligibility): (
        &mut Vec<CandidateRow>,
        &mut Vec<CandidateSketch>,
        &mut Eligibility,
    ),
    slot: usize,
    row: CandidateRow,
    protected: ProtectedCategory,
) {
    hold_skills(holders, slot as u32, &row);
    eligibility.set(slot as u32, &row, protected);
    put_at(sketches, slot, row.sketch);
    put_at(rows, slot, row);
}

/// Puts `row` at `slot`, growing `rows` with defaults up to it.
fn put_at<T: Default>(rows: &mut Vec<T>, slot: usize, row: T) {
    if slot >= rows.len() {
        rows.resize_with(slot + 1, T::default);
    }
    rows[slot] = row;
}

fn fill_key(employer: &str, profession_code: &str) -> FillKey {
    let categoria = profession_code
        .split('.')
        .take(4)
        .collect::<Vec<_>>()
        .join(".");
    (employer.to_owned(), categoria)
}

impl PartialEq for State {
    fn eq(&self, other: &Self) -> bool {
        // Derived indexes follow from the rest.
        self.vacancies == other.vacancies
            && self.candidates == other.candidates
            && self.personal == other.personal
            && self.protected == other.protected
            && self.employment == other.employment
            && self.person_to_candidate == other.person_to_candidate
            && self.lists == other.lists
            && self.versions == other.versions
            && self.seen_events == other.seen_events
            && self.counters == other.counters
    }
}

impl State {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the derived indexes; call after deserialising a snapshot.
    pub fn rebuild_indexes(&mut self) {
        self.newest_list_day = self.lists.values().map(|l| l.issued_day).max();
        self.candidates_by_comune.clear();
        self.mobility_by_comune.clear();
        self.links.clear();
        self.professions.clear();
        self.skill_holders.clear();
        self.eligibility.clear();
        self.rows.clear();
        self.sketches.clear();
        for (slot, c) in self.candidates.values().enumerate() {
            let row = CandidateRow::of(&mut self.vocabulary, c);
            let protected = self.protected.get(&c.id).copied().unwrap_or_default();
            let lists = (&mut self.rows, &mut self.sketches, &mut self.eligibility);
            keep_row(&mut self.skill_holders, lists, slot, row, protected);
            self.professions
                .insert(slot as u32, &c.profile.domicile_comune, &c.profile);
            self.candidates_by_comune
                .entry(c.profile.domicile_comune.clone())
                .or_default()
                .push(slot as u32);
            let protected = self.protected.get(&c.id).copied().unwrap_or_default();
            self.links.push(self.link_of(&c.person, protected));
            let m = self
                .mobility_by_comune
                .entry(c.profile.domicile_comune.clone())
                .or_default();
            *m = (*m).max(c.profile.max_distance_km);
        }
        self.fill_vacancies.clear();
        self.fill_hires.clear();
        let mut vacancy_keys: Vec<(FillKey, String)> = self
            .vacancies
            .values()
            .map(|v| {
                (
                    fill_key(&v.spec.employer.fiscal_code, &v.spec.profession_code),
                    v.id.clone(),
                )
            })
            .collect();
        vacancy_keys.sort();
        for (key, id) in vacancy_keys {
            self.fill_vacancies.entry(key).or_default().insert(id);
        }
        let hires: Vec<(FillKey, HireKey)> = self
            .employment
            .iter()
            .flat_map(|(person, record)| hire_keys(person, record))
            .collect();
        for (key, hire) in hires {
            self.fill_hires.entry(key).or_default().insert(hire, ());
        }
        let keys: Vec<FillKey> = self.fill_vacancies.keys().cloned().collect();
        for key in keys {
            self.refill(&key);
        }
        self.listable.clear();
        self.vacancy_rows = self
            .vacancies
            .values()
            .map(|v| VacancyRow::of(&mut self.vocabulary, v))
            .collect();
        self.vacancy_eligibility.clear();
        for (slot, row) in self.vacancy_rows.iter().enumerate() {
            self.vacancy_eligibility.set(slot as u32, row);
        }
        for slot in 0..self.vacancies.len() {
            self.relist(slot);
        }
    }

    /// Posts a vacancy in the listable index if it is open with a position
    /// left, or takes it out. Validity dates depend on the day judged, so
    /// lists still check them.
    fn relist(&mut self, slot: usize) {
        let Some((_, v)) = self.vacancies.get_index(slot) else {
            return;
        };
        let listing = v.is_listable().then_some((
            v.spec.profession_code.as_str(),
            v.spec.workplace_comune.as_str(),
        ));
        self.listable.set(slot as u32, listing);
    }

    fn relist_id(&mut self, id: &str) {
        if let Some(slot) = self.vacancies.get_index_of(id) {
            self.relist(slot);
        }
    }

    /// Re-derives which notified hires fill which vacancies of one employer
    /// and categoria. A pure function of the current vacancies and hires,
    /// so it is the same whatever order the streams arrived in (Kafka
    /// replicas interleave the topics differently): hires in start order
    /// take the earliest-published vacancy whose window they fall in and
    /// which has a position left.
    fn refill(&mut self, key: &FillKey) {
        let Some(ids) = self.fill_vacancies.get(key) else {
            return;
        };
        let mut order: Vec<(Day, String)> = ids
            .iter()
            .filter_map(|id| self.vacancies.get(id))
            .map(|v| (v.spec.valid_from_day, v.id.clone()))
            .collect();
        order.sort();
        let mut slots: Vec<(String, Day, Day, usize, Vec<FillingHire>)> = order
            .into_iter()
            .filter_map(|(_, id)| {
                let v = self.vacancies.get(&id)?;
                let until = if v.spec.valid_until_day == 0 {
                    Day::MAX
                } else {
                    v.spec.valid_until_day.saturating_add(FILL_GRACE_DAYS)
                };
                let capacity = if v.status == VacancyStatus::Withdrawn {
                    0
                } else {
                    v.spec.positions as usize
                };
                Some((id, v.spec.valid_from_day, until, capacity, Vec::new()))
            })
            .collect();
        if let (Some(first), Some(hires)) =
            (slots.iter().map(|s| s.1).min(), self.fill_hires.get(key))
        {
            let mut left: usize = slots.iter().map(|s| s.3).sum();
            // Hires before every vacancy opened cannot fill one; the scan
            // stops once every position is taken, so a burst of thousands
            // of hires by one employer costs the positions, not the burst.
            for (start, code, person) in hires
                .range((first, String::new(), String::new())..)
                .map(|(k, _)| k)
            {
                if left == 0 {
                    break;
                }
                if let Some(slot) = slots
                    .iter_mut()
                    .find(|s| s.1 <= *start && *start <= s.2 && s.4.len() < s.3)
                {
                    slot.4.push(FillingHire {
                        hire_code: code.clone(),
                        person: person.clone(),
                        start_day: *start,
                    });
                    left -= 1;
                }
            }
        }
        for (id, _, _, _, filled) in slots {
            if let Some(v) = self.vacancies.get_mut(&id) {
                v.filled_by_hires = filled;
            }
            self.relist_id(&id);
        }
    }

    fn unindex_hires(&mut self, person: &str) -> Vec<FillKey> {
        let Some(record) = self.employment.get(person) else {
            return Vec::new();
        };
        let keys = hire_keys(person, record);
        for (key, hire) in &keys {
            if let Some(hires) = self.fill_hires.get_mut(key) {
                hires.remove(hire);
            }
        }
        keys.into_iter().map(|(k, _)| k).collect()
    }

    fn index_hires(&mut self, person: &str) -> Vec<FillKey> {
        let Some(record) = self.employment.get(person) else {
            return Vec::new();
        };
        let keys = hire_keys(person, record);
        for (key, hire) in &keys {
            self.fill_hires
                .entry(key.clone())
                .or_default()
                .insert(hire.clone(), ());
        }
        keys.into_iter().map(|(k, _)| k).collect()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn vacancy(&self, id: &str) -> Option<&Vacancy> {
        self.vacancies.get(id)
    }

    pub fn candidate(&self, id: &str) -> Option<&Candidate> {
        self.candidates.get(id)
    }

    /// Sealed: the node's key store opens it, unless the person was erased.
    pub fn personal_data(&self, candidate_id: &str) -> Option<&SealedPersonalData> {
        self.personal.get(candidate_id)
    }

    pub fn protected_category(&self, candidate_id: &str) -> ProtectedCategory {
        self.protected
            .get(candidate_id)
            .copied()
            .unwrap_or_default()
    }

    pub fn employment_of(&self, candidate: &Candidate) -> Option<&EmploymentRecord> {
        self.employment.get(&candidate.person)
    }

    pub fn employment_record(&self, person: &str) -> Option<&EmploymentRecord> {
        self.employment.get(person)
    }

    pub fn vacancies(&self) -> impl Iterator<Item = &Vacancy> {
        self.vacancies.values()
    }

    pub fn candidates(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates.values()
    }

    pub fn vacancy_count(&self) -> usize {
        self.vacancies.len()
    }

    pub fn candidate_count(&self) -> usize {
        self.candidates.len()
    }

    /// Issued lists, in no particular order.
    pub fn lists(&self) -> impl Iterator<Item = (&String, &IssuedList)> {
        self.lists.iter()
    }

    pub fn list(&self, id: &str) -> Option<&IssuedList> {
        self.lists.get(id)
    }

    /// Employment records with their worker pseudonyms.
    pub fn employment_records(&self) -> impl Iterator<Item = (&String, &EmploymentRecord)> {
        self.employment.iter()
    }

    /// The candidate a worker pseudonym is registered as.
    pub fn candidate_of_person(&self, person: &str) -> Option<&Candidate> {
        self.person_to_candidate
            .get(person)
            .and_then(|id| self.candidates.get(id))
    }

    pub fn employment_count(&self) -> usize {
        self.employment.len()
    }

    /// The residents of a comune with what a list reads of each beside the
    /// candidate (employment record, L.68/99 category), by slot: no lookup
    /// by id.
    pub fn residents_of(
        &self,
        comune: &str,
    ) -> impl Iterator<Item = (&Candidate, Option<&EmploymentRecord>, ProtectedCategory)> {
        self.resident_slots(comune)
            .iter()
            .filter_map(|&slot| self.candidate_at(slot))
    }

    /// Slots of the residents of a comune, ascending.
    pub fn resident_slots(&self, comune: &str) -> &[u32] {
        self.candidates_by_comune
            .get(comune)
            .map_or(&[], Vec::as_slice)
    }

    /// A candidate by slot.
    pub fn candidate_at_slot(&self, slot: u32) -> Option<&Candidate> {
        self.candidates.get_index(slot as usize).map(|(_, c)| c)
    }

    /// A candidate by slot with what a list reads beside it (employment
    /// record, L.68/99 category): no lookup by id.
    pub fn candidate_at(
        &self,
        slot: u32,
    ) -> Option<(&Candidate, Option<&EmploymentRecord>, ProtectedCategory)> {
        let slot = slot as usize;
        let (_, candidate) = self.candidates.get_index(slot)?;
        let link = self.links.get(slot)?;
        let employment = match link.employment {
            NO_SLOT => None,
            e => self.employment.get_index(e as usize).map(|(_, r)| r),
        };
        Some((candidate, employment, link.protected))
    }

    /// The slot of a candidate id.
    pub fn candidate_slot(&self, id: &str) -> Option<u32> {
        self.candidates.get_index_of(id).map(|s| s as u32)
    }

    /// The slot of a vacancy id.
    pub fn vacancy_slot(&self, id: &str) -> Option<u32> {
        self.vacancies.get_index_of(id).map(|s| s as u32)
    }

    /// A vacancy by slot.
    pub fn vacancy_at(&self, slot: u32) -> Option<&Vacancy> {
        self.vacancies.get_index(slot as usize).map(|(_, v)| v)
    }

    /// The listable vacancies by code length, profession prefix and comune.
    pub fn listable(&self) -> &VacancyIndex {
        &self.listable
    }

    /// The sketch of a candidate slot's row ([`CandidateSketch`]).
    pub fn sketch_at(&self, slot: u32) -> Option<&CandidateSketch> {
        self.sketches.get(slot as usize)
    }

    /// The compact row of a candidate slot.
    pub fn row_at(&self, slot: u32) -> Option<&CandidateRow> {
        self.rows.get(slot as usize)
    }

    /// The compact row of a vacancy slot.
    pub fn vacancy_row_at(&self, slot: u32) -> Option<&VacancyRow> {
        self.vacancy_rows.get(slot as usize)
    }

    /// The vocabulary of the compact rows.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// The candidate index by profession prefix and comune.
    pub fn professions(&self) -> &ProfessionIndex {
        &self.professions
    }

    /// The candidate slots that may pass the hard filters of the vacancy of
    /// `row` which read only the person's row and category (listed,
    /// contract, hours, reserved quota): every slot that passes them, and
    /// some that do not.
    pub fn eligible_for(&self, row: &VacancyRow) -> fixedbitset::FixedBitSet {
        self.eligibility
            .for_vacancy(row.contract, row.hours, row.quota)
    }

    /// The vacancy slots that may pass the hard filters of a person with
    /// the row sketch `sketch` and L.68/99 category `protected` which read
    /// only the vacancy's row (contract, hours, reserved quota): every slot
    /// that passes them, and some that do not.
    pub fn vacancies_eligible_for(
        &self,
        sketch: &CandidateSketch,
        protected: ProtectedCategory,
    ) -> fixedbitset::FixedBitSet {
        self.vacancy_eligibility.for_person(sketch, protected)
    }

    /// Whether the vacancy at `slot` is within its validity on `today`,
    /// read from a dense array (what a list of vacancies checks before
    /// reading a vacancy's row).
    pub fn vacancy_valid_on(&self, slot: u32, today: Day) -> bool {
        self.vacancy_eligibility.valid_on(slot, today)
    }

    /// The candidate slots holding at least one of `skills` (ids of the
    /// rows' vocabulary), declared or certified.
    pub fn holders_of_any(&self, skills: impl IntoIterator<Item = u32>) -> RoaringBitmap {
        // All at once, container by container: unions one after another
        // copied the growing result for every skill.
        skills
            .into_iter()
            .filter_map(|skill| self.skill_holders.get(&skill))
            .union()
    }

    /// A digest of the whole state, independent of hash-map order: two
    /// replicas, or a replica and a clean replay, agree exactly when their
    /// digests do.
    pub fn digest(&self) -> String {
        fn sorted<'m, K: Ord + 'm, V: 'm>(
            map: impl IntoIterator<Item = (&'m K, &'m V)>,
        ) -> Vec<(&'m K, &'m V)> {
            let mut v: Vec<(&K, &V)> = map.into_iter().collect();
            v.sort_by(|a, b| a.0.cmp(b.0));
            v
        }
        let mut seen: Vec<&u128> = self.seen_events.iter().collect();
        seen.sort();
        let parts = (
            sorted(&self.vacancies),
            sorted(&self.candidates),
            // Only whose: each node seals with its own random keys and
            // nonces, so the ciphertext differs between replicas.
            sorted(&self.personal)
                .into_iter()
                .map(|(id, _)| id)
                .collect::<Vec<_>>(),
            sorted(&self.protected),
            sorted(&self.employment),
            sorted(&self.person_to_candidate),
            sorted(&self.lists),
            sorted(&self.versions),
            sorted(&self.part_versions),
            &self.waiting,
            seen,
            &self.counters,
        );
        match postcard::to_allocvec(&parts) {
            Ok(bytes) => format!("{:032x}", xxh3_128(&bytes)),
            // Serialising plain data to memory cannot fail; say so rather
            // than panic if it ever does.
            Err(e) => format!("digest-error:{e}"),
        }
    }

    /// Applies one event; never fails, never applies the same event twice.
    ///
    /// Order within an entity does not matter: an event for an entity not
    /// created yet waits for it ([`Outcome::Waiting`]); each part of a
    /// vacancy or candidacy takes the value of the highest version that set
    /// it, whatever arrived first; an event that is not applied advances no
    /// version. So any arrival order of one entity's events ends in the
    /// state the ordered stream gives (`engine/tests/fold.rs`).
    pub fn apply(&mut self, event: &Event) -> Outcome {
        let id_hash = xxh3_128(event.meta.event_id.as_bytes());
        if self.seen_events.contains(&id_hash) {
            self.counters.duplicates += 1;
            return Outcome::DuplicateEvent;
        }
        if let Some(creator) = self.awaited_creator(event) {
            return self.wait(creator, event);
        }
        let key = (event.kind(), event.meta.entity_id.clone());
        let version = event.meta.entity_version;
        // Which parts this event may still set.
        let claim = claim(&event.payload);
        let mut newer = [true, true];
        match &claim {
            Some(Claim { parts, lasting }) => {
                let current = self.part_versions.get(&key).copied().unwrap_or_default();
                for i in 0..2 {
                    newer[i] = parts[i] && version > current[i];
                }
                if !newer.iter().any(|n| *n) && !lasting {
                    // Seen, so a resend is a duplicate whatever came since.
                    self.seen_events.insert(id_hash);
                    self.counters.stale += 1;
                    let current = (0..2)
                        .filter(|i| parts[*i])
                        .map(|i| current[i])
                        .max()
                        .unwrap_or(0);
                    return Outcome::StaleVersion { current };
                }
            }
            None => {
                if let Some(&current) = self.versions.get(&key) {
                    if version <= current {
                        self.seen_events.insert(id_hash);
                        self.counters.stale += 1;
                        return Outcome::StaleVersion { current };
                    }
                }
            }
        }
        let result = match &event.payload {
            EventPayload::Vacancy(v) => self.apply_vacancy(event, v).inspect(|_| {
                self.refresh_vacancy_row(&event.meta.entity_id);
            }),
            EventPayload::Candidacy(c) => self.apply_candidacy(event, c, newer).inspect(|_| {
                self.refresh_row(&event.meta.entity_id);
            }),
            EventPayload::Erasure(_) => self
                .erase_candidate(&event.meta.entity_id, event.meta.occurred_at_ms)
                .inspect(|_| self.refresh_row(&event.meta.entity_id)),
            EventPayload::ListIssued(list) => {
                if self.lists.contains_key(&event.meta.entity_id) {
                    Err(format!("list {} already recorded", event.meta.entity_id))
                } else if self
                    .list_cutoff()
                    .is_some_and(|cutoff| list.issued_day < cutoff)
                {
                    Err(format!(
                        "list {} older than the retention of recorded lists",
                        event.meta.entity_id
                    ))
                } else {
                    self.lists
                        .insert(event.meta.entity_id.clone(), list.clone());
                    if self.newest_list_day.is_none_or(|d| list.issued_day > d) {
                        self.newest_list_day = Some(list.issued_day);
                        self.drop_old_lists();
                    }
                    Ok(())
                }
            }
            EventPayload::Employment(co) => {
                let person = &event.meta.entity_id;
                let before = self.unindex_hires(person);
                let entry = self.employment.entry(person.clone());
                let created = matches!(entry, indexmap::map::Entry::Vacant(_));
                let record = entry.or_default();
                let result = record.record(co.clone());
                let kept = !record.notices().is_empty() || result.is_ok();
                if kept {
                    // Its slot when it is new, its horizon either way.
                    self.link_employment(person);
                } else if created {
                    // A refused first notice must not leave an empty record
                    // behind: an invalid CO changes nothing. It is the last
                    // entry, so no other slot moves.
                    self.employment.pop();
                }
                let after = self.index_hires(person);
                let mut keys: Vec<FillKey> = before.into_iter().chain(after).collect();
                keys.sort();
                keys.dedup();
                for key in &keys {
                    self.refill(key);
                }
                result
                    .map_err(|reason| format!("comunicazione {} non applicata: {reason}", co.code))
            }
        };
        // Seen either way, so a replay or a redelivery is ignored the same way.
        self.seen_events.insert(id_hash);
        match result {
            Ok(()) => {
                // Only what was applied moves a version on. Every event
                // passes here: no key is cloned unless it is new to a map.
                if claim.is_some() {
                    if !self.part_versions.contains_key(&key) {
                        self.part_versions.insert(key.clone(), [0, 0]);
                    }
                    if let Some(parts) = self.part_versions.get_mut(&key) {
                        for i in 0..2 {
                            if newer[i] {
                                parts[i] = version;
                            }
                        }
                    }
                }
                self.counters.applied += 1;
                if self.waiting.is_empty() {
                    bump(self.versions.entry(key).or_default(), version);
                } else {
                    bump(self.versions.entry(key.clone()).or_default(), version);
                    self.release_waiting(&key);
                }
                Outcome::Applied
            }
            Err(reason) => {
                self.counters.ignored += 1;
                Outcome::Ignored { reason }
            }
        }
    }

    /// The entity whose creation `event` waits for: a vacancy event other
    /// than its publication, a candidacy event other than its registration
    /// or an erasure, when that vacancy or candidacy does not exist yet.
    fn awaited_creator(&self, event: &Event) -> Option<(EntityKind, String)> {
        let id = &event.meta.entity_id;
        let waits = match &event.payload {
            EventPayload::Vacancy(VacancyEvent::Published(_)) => false,
            EventPayload::Vacancy(_) => !self.vacancies.contains_key(id),
            EventPayload::Candidacy(CandidacyEvent::Registered { .. }) => false,
            EventPayload::Candidacy(_) | EventPayload::Erasure(_) => {
                !self.candidates.contains_key(id)
            }
            _ => false,
        };
        let kind = match event.payload {
            EventPayload::Vacancy(_) => EntityKind::Vacancy,
            _ => EntityKind::Candidacy,
        };
        waits.then(|| (kind, id.clone()))
    }

    fn wait(&mut self, creator: (EntityKind, String), event: &Event) -> Outcome {
        let total = self.counters.waiting as usize;
        let queue = self.waiting.entry(creator).or_default();
        if queue.iter().any(|e| e.meta.event_id == event.meta.event_id) {
            self.counters.duplicates += 1;
            return Outcome::DuplicateEvent;
        }
        if queue.len() >= MAX_WAITING_PER_ENTITY || total >= MAX_WAITING {
            // Seen, so it is ignored the same way on every replay.
            self.seen_events
                .insert(xxh3_128(event.meta.event_id.as_bytes()));
            self.counters.ignored += 1;
            return Outcome::Ignored {
                reason: format!(
                    "{} non esiste e troppi eventi lo attendono già",
                    event.meta.entity_id
                ),
            };
        }
        queue.push(event.clone());
        self.counters.waiting += 1;
        Outcome::Waiting
    }

    /// Applies, in version order, the events that waited for the entity
    /// `key` names, now that it exists.
    fn release_waiting(&mut self, key: &(EntityKind, String)) {
        let Some(mut queue) = self.waiting.remove(key) else {
            return;
        };
        queue.sort_by_key(|e| (e.meta.entity_version, e.kind()));
        for event in queue {
            self.counters.waiting -= 1;
            // Counted by this call as whatever it turns out to be.
            self.apply(&event);
        }
    }

    /// Keeps issued lists `days` days before the newest one (`None`: for
    /// ever), dropping the older ones now. The set kept depends only on the
    /// lists, never on their order: a list older than the cutoff is refused,
    /// and a newer list moves the cutoff and drops what falls behind it.
    pub fn set_list_retention(&mut self, days: Option<u32>) {
        self.list_retention_days = days;
        self.drop_old_lists();
    }

    /// The day before which issued lists are no longer kept, when a
    /// retention is set.
    pub fn list_cutoff(&self) -> Option<Day> {
        let days = i32::try_from(self.list_retention_days?).unwrap_or(i32::MAX);
        Some(self.newest_list_day?.saturating_sub(days))
    }

    fn drop_old_lists(&mut self) {
        if let Some(cutoff) = self.list_cutoff() {
            self.lists.retain(|_, l| l.issued_day >= cutoff);
        }
    }

    /// Events waiting for their entity, in all.
    pub fn waiting_count(&self) -> u64 {
        self.counters.waiting
    }

    fn apply_vacancy(&mut self, event: &Event, ev: &VacancyEvent) -> Result<(), String> {
        let result = self.apply_vacancy_event(event, ev);
        self.relist_id(&event.meta.entity_id);
        result
    }

    /// Which of the spec and the status this event's version may still set
    /// is settled by [`claim`] before: each event here sets one part, or
    /// only adds.
    fn apply_vacancy_event(&mut self, event: &Event, ev: &VacancyEvent) -> Result<(), String> {
        let id = &event.meta.entity_id;
        let at = event.meta.occurred_at_ms;
        match ev {
            VacancyEvent::Published(spec) => {
                if self.vacancies.contains_key(id) {
                    return Err(format!("vacancy {id} already published"));
                }
                self.vacancies.insert(
                    id.clone(),
                    Vacancy {
                        id: id.clone(),
                        spec: spec.clone(),
                        status: VacancyStatus::Open,
                        positions_filled: 0,
                        published_at_ms: at,
                        updated_at_ms: at,
                        filled_by_hires: Vec::new(),
                    },
                );
                let key = fill_key(&spec.employer.fiscal_code, &spec.profession_code);
                self.fill_vacancies
                    .entry(key.clone())
                    .or_default()
                    .insert(id.clone());
                self.refill(&key);
            }
            VacancyEvent::Updated(spec) => {
                let v = self.vacancy_mut(id)?;
                let old_key = fill_key(&v.spec.employer.fiscal_code, &v.spec.profession_code);
                v.spec = spec.clone();
                v.updated_at_ms = v.updated_at_ms.max(at);
                let new_key = fill_key(&spec.employer.fiscal_code, &spec.profession_code);
                if let Some(ids) = self.fill_vacancies.get_mut(&old_key) {
                    ids.remove(id);
                }
                self.fill_vacancies
                    .entry(new_key.clone())
                    .or_default()
                    .insert(id.clone());
                self.refill(&old_key);
                self.refill(&new_key);
            }
            VacancyEvent::PositionsFilled { count } => {
                // Counts add up in any order. A vacancy with no position
                // left is not listable (`Vacancy::is_listable`) without its
                // status changing: "full" follows from the final counts,
                // whatever order they and the spec's edits arrived in.
                let v = self.vacancy_mut(id)?;
                v.positions_filled = v.positions_filled.saturating_add(*count);
                v.updated_at_ms = v.updated_at_ms.max(at);
            }
            VacancyEvent::Closed => {
                let v = self.vacancy_mut(id)?;
                v.status = VacancyStatus::Closed;
                v.updated_at_ms = v.updated_at_ms.max(at);
            }
            VacancyEvent::Withdrawn { .. } => {
                let v = self.vacancy_mut(id)?;
                v.status = VacancyStatus::Withdrawn;
                v.updated_at_ms = v.updated_at_ms.max(at);
                // Its positions go back to the employer's other vacancies.
                let key = fill_key(&v.spec.employer.fiscal_code, &v.spec.profession_code);
                self.refill(&key);
            }
        }
        Ok(())
    }

    fn vacancy_mut(&mut self, id: &str) -> Result<&mut Vacancy, String> {
        self.vacancies
            .get_mut(id)
            .ok_or_else(|| format!("unknown vacancy {id}"))
    }

    /// A candidacy that events may still change: known and not erased.
    fn candidate_mut(&mut self, id: &str) -> Result<&mut Candidate, String> {
        match self.candidates.get_mut(id) {
            None => Err(format!("unknown candidate {id}")),
            Some(c) if c.erased => Err(format!("candidate {id} was erased")),
            Some(c) => Ok(c),
        }
    }

    /// Erases a candidacy (GDPR art. 17). The slot stays (slots are never
    /// reused) but holds nothing of the person: the profile is emptied but
    /// for the CPI and comune outcome aggregates count by, personal data and
    /// L.68/99 registration are dropped, and the candidacy is withdrawn for
    /// good. Their pseudonym's link to the slot and their CO stay, so their
    /// hires keep counting in aggregates.
    fn erase_candidate(&mut self, id: &str, at: i64) -> Result<(), String> {
        let old = self.candidate_mut(id)?.profile.clone();
        let slot = self
            .candidates
            .get_index_of(id)
            .ok_or_else(|| format!("unknown candidate {id}"))?;
        let kept = CandidateProfile {
            domicile_comune: old.domicile_comune.clone(),
            cpi_code: old.cpi_code.clone(),
            ..CandidateProfile::default()
        };
        self.professions
            .remove(slot as u32, &old.domicile_comune, &old);
        self.professions
            .insert(slot as u32, &kept.domicile_comune, &kept);
        self.personal.remove(id);
        self.protected.remove(id);
        if let Some(link) = self.links.get_mut(slot) {
            link.protected = ProtectedCategory::None;
        }
        let c = self.candidate_mut(id)?;
        c.profile = kept;
        c.withdrawn = true;
        c.available = false;
        c.demographics = None;
        c.erased = true;
        c.updated_at_ms = c.updated_at_ms.max(at);
        Ok(())
    }

    pub fn candidate_count_in(&self, comune: &str) -> usize {
        self.candidates_by_comune.get(comune).map_or(0, Vec::len)
    }

    /// Largest stated mobility limit among the comune's residents (0 when
    /// none stated one, or nobody lives there).
    pub fn max_mobility_km_in(&self, comune: &str) -> u32 {
        self.mobility_by_comune.get(comune).copied().unwrap_or(0)
    }

    /// Points a newly recorded worker's candidate, if registered, at the
    /// worker's employment record.
    /// Points the candidate of `person` (if registered) at their employment
    /// record again, after it was created or changed.
    fn link_employment(&mut self, person: &str) {
        let Some(candidate) = self
            .person_to_candidate
            .get(person)
            .and_then(|id| self.candidates.get_index_of(id))
        else {
            return;
        };
        let Some(protected) = self.links.get(candidate).map(|l| l.protected) else {
            return;
        };
        let link = self.link_of(person, protected);
        self.links[candidate] = link;
    }

    /// The link of a candidate who is `person`, from their employment
    /// record as it is now.
    fn link_of(&self, person: &str, protected: ProtectedCategory) -> Link {
        match self.employment.get_full(person) {
            Some((slot, _, record)) => Link {
                employment: slot as u32,
                committed_until: record.committed_until().unwrap_or(Day::MIN),
                protected,
            },
            None => Link {
                employment: NO_SLOT,
                committed_until: Day::MIN,
                protected,
            },
        }
    }

    /// The last day on which the candidate at `slot` has a contract that is
    /// not over ([`EmploymentRecord::committed_until`]); `Day::MIN` when
    /// they have none. Lists read no employment record after it.
    pub fn committed_until_at(&self, slot: u32) -> Day {
        self.links
            .get(slot as usize)
            .map_or(Day::MIN, |l| l.committed_until)
    }

    /// What a list reads beside the row of the candidate at `slot`; a list
    /// holds the reference and reads it only for the pairs that need it.
    pub fn link_at(&self, slot: u32) -> Option<&Link> {
        self.links.get(slot as usize)
    }

    /// The employment record a link points at.
    pub fn employment_of_link(&self, link: &Link) -> Option<&EmploymentRecord> {
        match link.employment {
            NO_SLOT => None,
            e => self.employment.get_index(e as usize).map(|(_, r)| r),
        }
    }

    /// Rewrites the compact row of a vacancy after a change.
    fn refresh_vacancy_row(&mut self, id: &str) {
        let Some((slot, _, vacancy)) = self.vacancies.get_full(id) else {
            return;
        };
        let row = VacancyRow::of(&mut self.vocabulary, vacancy);
        self.vacancy_eligibility.set(slot as u32, &row);
        put_at(&mut self.vacancy_rows, slot, row);
    }

    /// Rewrites the compact row of a candidate after a change.
    fn refresh_row(&mut self, id: &str) {
        let Some((slot, _, candidate)) = self.candidates.get_full(id) else {
            return;
        };
        let row = CandidateRow::of(&mut self.vocabulary, candidate);
        if let Some(old) = self.rows.get(slot) {
            for skill in old.skill_ids() {
                if let Some(holders) = self.skill_holders.get_mut(&skill) {
                    holders.remove(slot as u32);
                }
            }
        }
        let protected = self.protected.get(id).copied().unwrap_or_default();
        let lists = (&mut self.rows, &mut self.sketches, &mut self.eligibility);
        keep_row(&mut self.skill_holders, lists, slot, row, protected);
    }

    fn index_candidate(&mut self, slot: usize, comune: &str, old: Option<&str>, max_km: u32) {
        let m = self
            .mobility_by_comune
            .entry(comune.to_owned())
            .or_default();
        *m = (*m).max(max_km);
        let slot = slot as u32;
        if let Some(old) = old {
            if let Some(slots) = self.candidates_by_comune.get_mut(old) {
                if let Ok(i) = slots.binary_search(&slot) {
                    slots.remove(i);
                }
            }
        }
        let slots = self
            .candidates_by_comune
            .entry(comune.to_owned())
            .or_default();
        if let Err(i) = slots.binary_search(&slot) {
            slots.insert(i, slot);
        }
    }

    /// `newer`: which of the profile and availability this event's version
    /// may still set (see [`claim`]).
    fn apply_candidacy(
        &mut self,
        event: &Event,
        ev: &CandidacyEvent,
        newer: [bool; 2],
    ) -> Result<(), String> {
        let id = &event.meta.entity_id;
        let at = event.meta.occurred_at_ms;
        match ev {
            CandidacyEvent::Registered {
                personal,
                person,
                demographics,
                did_day,
                profile,
                protected_category,
            } => {
                if self.candidates.contains_key(id) {
                    return Err(format!("candidate {id} already registered"));
                }
                if let Some(other) = self.person_to_candidate.get(person) {
                    if other != id {
                        return Err(format!("person already registered as candidate {other}"));
                    }
                }
                self.person_to_candidate.insert(person.clone(), id.clone());
                self.personal.insert(id.clone(), personal.clone());
                if *protected_category != ProtectedCategory::None {
                    self.protected.insert(id.clone(), *protected_category);
                }
                let (slot, _) = self.candidates.insert_full(
                    id.clone(),
                    Candidate {
                        id: id.clone(),
                        person: person.clone(),
                        did_day: *did_day,
                        profile: profile.clone(),
                        available: true,
                        withdrawn: false,
                        registered_at_ms: at,
                        updated_at_ms: at,
                        demographics: *demographics,
                        erased: false,
                    },
                );
                let link = self.link_of(person, *protected_category);
                self.links.push(link);
                self.professions
                    .insert(slot as u32, &profile.domicile_comune, profile);
                self.index_candidate(
                    slot,
                    &profile.domicile_comune,
                    None,
                    profile.max_distance_km,
                );
            }
            CandidacyEvent::ProfileUpdated(profile) => {
                let old = self.candidate_mut(id)?.profile.domicile_comune.clone();
                let slot = self
                    .candidates
                    .get_index_of(id)
                    .ok_or_else(|| format!("unknown candidate {id}"))?;
                if let Some((_, c)) = self.candidates.get_index(slot) {
                    self.professions.remove(slot as u32, &old, &c.profile);
                }
                self.professions
                    .insert(slot as u32, &profile.domicile_comune, profile);
                self.index_candidate(
                    slot,
                    &profile.domicile_comune,
                    Some(&old),
                    profile.max_distance_km,
                );
                let c = self.candidate_mut(id)?;
                c.profile = profile.clone();
                c.updated_at_ms = c.updated_at_ms.max(at);
            }
            CandidacyEvent::AvailabilityChanged { available, .. } => {
                let c = self.candidate_mut(id)?;
                c.available = *available;
                c.updated_at_ms = c.updated_at_ms.max(at);
            }
            CandidacyEvent::Withdrawn { .. } => {
                // Withdrawn for good whatever the order; unavailable unless
                // a later version said otherwise.
                let c = self.candidate_mut(id)?;
                c.withdrawn = true;
                if newer[1] {
                    c.available = false;
                }
                c.updated_at_ms = c.updated_at_ms.max(at);
            }
        }
        Ok(())
    }
}

/// Every hire in a worker's record, keyed for filling.
fn hire_keys(person: &str, record: &EmploymentRecord) -> Vec<(FillKey, HireKey)> {
    record
        .contracts()
        .iter()
        .map(|c| {
            (
                fill_key(&c.employer_fiscal_code, &c.profession_code),
                (c.start_day, c.hire_code.clone(), person.to_owned()),
            )
        })
        .collect()
}
