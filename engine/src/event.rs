//! Domain events: what the engine folds. Wire formats (protobuf envelopes)
//! are converted into these at the ingestion edge, which also validates and
//! pseudonymises them; a value of these types is therefore always applicable.

use serde::{Deserialize, Serialize};

use crate::model::{
    CandidateProfile, ContractType, Day, Demographics, Employer, ProtectedCategory,
    SealedPersonalData, VacancySpec,
};

/// Which stream an entity belongs to. Versions are monotonic per kind and
/// entity id, because the same person is both a candidacy and an employment
/// record, fed by different systems with their own counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EntityKind {
    Vacancy,
    Candidacy,
    Employment,
    /// An issued list (outcome tracking).
    List,
    /// An erasure (GDPR art. 17) of the candidacy with the entity's id; its
    /// own stream of versions, so it never collides with the producer's.
    Erasure,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMeta {
    pub event_id: String,
    pub entity_id: String,
    pub entity_version: u64,
    pub occurred_at_ms: i64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub meta: EventMeta,
    pub payload: EventPayload,
}

impl Event {
    pub fn kind(&self) -> EntityKind {
        match self.payload {
            EventPayload::Vacancy(_) => EntityKind::Vacancy,
            EventPayload::Candidacy(_) => EntityKind::Candidacy,
            EventPayload::Employment(_) => EntityKind::Employment,
            EventPayload::ListIssued(_) => EntityKind::List,
            EventPayload::Erasure(_) => EntityKind::Erasure,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventPayload {
    Vacancy(VacancyEvent),
    Candidacy(CandidacyEvent),
    /// A comunicazione obbligatoria about the worker named by `entity_id`
    /// (their pseudonym).
    Employment(ComunicazioneObbligatoria),
    /// A ranked list the service issued, recorded so hires can be
    /// attributed to it.
    ListIssued(IssuedList),
    /// The candidacy named by `entity_id` is erased (GDPR art. 17).
    Erasure(Erasure),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    /// Never personal data (checked at the edge for length only).
    pub reason: String,
}

/// A ranked list as issued: who asked, when, on which state, what it said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedList {
    pub direction: ListDirection,
    /// The vacancy or candidate the list was asked for.
    pub subject_id: String,
    pub requester: Requester,
    pub issued_day: Day,
    /// When it was issued (the envelope's time), to order lists of a day.
    pub issued_at_ms: i64,
    /// Events folded into the state the list was computed on.
    pub log_position: u64,
    pub weights_version: String,
    /// In rank order.
    pub rows: Vec<ListedRow>,
    /// What was asked, so the list can be computed again on the state at
    /// `log_position`; `None` for lists recorded before queries were.
    pub query: Option<ListQuery>,
}

/// The parameters of an issued list that change its rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListQuery {
    pub limit: u32,
    pub min_score: f64,
    pub only_congrua: bool,
    pub cpi_codes: Vec<String>,
    pub max_distance_km: u32,
    pub hide_reserved_quota: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ListDirection {
    CandidatesForVacancy,
    VacanciesForCandidate,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    pub user_id: String,
    pub cpi_code: String,
    pub channel: String,
    pub campaign_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedRow {
    /// Candidate id or vacancy id.
    pub id: String,
    pub score: f64,
    /// Per-criterion similarities, in `Criterion::ALL` order.
    pub similarities: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VacancyEvent {
    Published(VacancySpec),
    Updated(VacancySpec),
    PositionsFilled { count: u32 },
    Closed,
    Withdrawn { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CandidacyEvent {
    Registered {
        /// Sealed at the edge; the engine never opens it.
        personal: SealedPersonalData,
        /// Keyed pseudonym of the codice fiscale.
        person: String,
        /// Read from the codice fiscale where it could be.
        demographics: Option<Demographics>,
        did_day: Day,
        profile: CandidateProfile,
        protected_category: ProtectedCategory,
    },
    ProfileUpdated(CandidateProfile),
    AvailabilityChanged {
        available: bool,
        reason: String,
    },
    Withdrawn {
        reason: String,
    },
}

/// A comunicazione obbligatoria (CO): the legal notice every employer in
/// Italy sends for each hire, extension, transformation and termination
/// (modello Unificato LAV). The worker is the envelope's entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComunicazioneObbligatoria {
    /// Codice comunicazione (16 characters).
    pub code: String,
    pub action: CoAction,
    /// For a rettifica or annullamento: the notice it corrects.
    pub previous_code: String,
    pub datore: Employer,
    pub workplace_comune: String,
    pub quadro: CoQuadro,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoAction {
    Original,
    /// Rettifica: replaces the content of `previous_code`.
    Rettifica,
    /// Annullamento: `previous_code` never happened.
    Annullamento,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CoQuadro {
    Assunzione {
        start_day: Day,
        /// `None` for an open-ended contract.
        end_day: Option<Day>,
        contract_code: String,
        contract_type: ContractType,
        profession_code: String,
        ccnl: String,
        hours_percent: u32,
        /// The yearly gross pay the notice states (the Unificato LAV's retribuzione), in euros;
        /// `None` when the notice does not carry it. It decides whether the job keeps, suspends
        /// or ends the worker's unemployment status (`engine::unemployment`).
        annual_pay_eur: Option<u32>,
    },
    Proroga {
        new_end_day: Day,
    },
    Trasformazione {
        day: Day,
        contract_type: ContractType,
        contract_code: String,
        hours_percent: u32,
    },
    Cessazione {
        day: Day,
        cause: String,
    },
    /// An annullamento carries no quadro of its own.
    None,
}
