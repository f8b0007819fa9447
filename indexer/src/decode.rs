//! The ingestion edge: turns wire envelopes (`incontra.events.v1`) into
//! engine events, rejecting what cannot be applied with a reason that names
//! the field, and replacing codici fiscali by their keyed pseudonyms.
//!
//! Everything that reaches the journal has passed here, so the fold never
//! meets a malformed event; replay runs the same code.
//!
//! Skills are mapped here through the Italian skill vocabulary
//! (`incontra_engine::skills`): each is stored under its canonical label when
//! the vocabulary knows it, and skills a vacancy's title or description or a
//! candidate's summary mentions are added (as preferred, resp. declared), so
//! scoring can keep comparing labels.

use std::sync::OnceLock;

use incontra_engine::codice_fiscale::{validate_partita_iva, CodiceFiscale, Pseudonymiser};
use incontra_engine::event::{
    CandidacyEvent, CoAction, CoQuadro, ComunicazioneObbligatoria, Erasure, Event, EventMeta,
    EventPayload, IssuedList, ListDirection, ListQuery, ListedRow, Requester, VacancyEvent,
};
use incontra_engine::model::{
    CandidateProfile, Cefr, ContractType, Day, Demographics, EducationLevel, Employer, GolPath,
    IncomeSupport, LanguageSkill, PersonalData, ProtectedCategory, ReservedQuota,
    SealedPersonalData, TargetProgramme, VacancySpec, WorkExperience,
};
use incontra_engine::reference::ReferenceData;
use incontra_engine::scoring::Criterion;
use incontra_engine::skills::SkillVocabulary;
use incontra_engine::unilav::CodeTables;
use incontra_proto::events::v1 as pb;
use prost::Message;

use crate::keys::PersonKeys;

/// The envelope schema version this build reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Why an event was refused. `field` is the protobuf path of the offending
/// field, so a producer can find it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("undecodable bytes: {0}")]
    Undecodable(String),
    #[error("unknown schema_version {0} (this build reads {SCHEMA_VERSION})")]
    UnknownSchema(u32),
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
}

/// The compiled-in skill vocabulary, loaded once; a load failure (a broken
/// `skills_it.csv`, caught by the tests) refuses events that carry skills
/// rather than panicking.
static SKILL_VOCABULARY: OnceLock<Result<SkillVocabulary, String>> = OnceLock::new();

fn skill_vocabulary(field: &str) -> Result<&'static SkillVocabulary, DecodeError> {
    SKILL_VOCABULARY
        .get_or_init(|| SkillVocabulary::embedded().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| invalid(field, format!("skill vocabulary unavailable: {e}")))
}

fn invalid(field: &str, reason: impl Into<String>) -> DecodeError {
    DecodeError::Invalid {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Where an envelope comes from: a producer writes codici fiscali and
/// personal data in clear; this node's journal holds the sealed form
/// [`Decoder::decode_for_journal`] made of them, which no producer may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Producer,
    Journal,
}

/// Converts wire envelopes into engine events.
pub struct Decoder<'r> {
    reference: &'r ReferenceData,
    pseudonymiser: &'r Pseudonymiser,
    keys: &'r PersonKeys,
}

impl<'r> Decoder<'r> {
    pub fn new(
        reference: &'r ReferenceData,
        pseudonymiser: &'r Pseudonymiser,
        keys: &'r PersonKeys,
    ) -> Self {
        Self {
            reference,
            pseudonymiser,
            keys,
        }
    }

    /// A producer's envelope, from its bytes.
    pub fn decode_bytes(&self, bytes: &[u8]) -> Result<Event, DecodeError> {
        self.decode(&envelope(bytes)?)
    }

    /// A producer's envelope. Personal data is sealed under the person's
    /// key (created if new; see [`PersonKeys::sync`]).
    /// Free text loses the identifiers people write in it first
    /// ([`crate::redact`]).
    pub fn decode(&self, e: &pb::Envelope) -> Result<Event, DecodeError> {
        match crate::redact::envelope(e) {
            Some(redacted) => self.decode_from(&redacted, Origin::Producer),
            None => self.decode_from(e, Origin::Producer),
        }
    }

    /// A record of this node's journal: the sealed form is read back (its
    /// personal data stays sealed, and opens only while the key lives).
    pub fn decode_stored(&self, bytes: &[u8]) -> Result<Event, DecodeError> {
        self.decode_from(&envelope(bytes)?, Origin::Journal)
    }

    /// A producer's envelope, and the bytes the journal is to keep of it:
    /// the same envelope with personal data sealed, identifiers redacted
    /// from free text, and a CO's codice fiscale replaced by the worker's
    /// pseudonym, so that no identifying data is ever written to the journal
    /// in clear. `bytes` are the envelope's own, returned as they are when
    /// nothing needs changing.
    pub fn decode_for_journal(
        &self,
        e: &pb::Envelope,
        bytes: Vec<u8>,
    ) -> Result<(Event, Vec<u8>), DecodeError> {
        let redacted = crate::redact::envelope(e);
        let e = redacted.as_ref().unwrap_or(e);
        let event = self.decode_from(e, Origin::Producer)?;
        let stored = match (&e.payload, &event.payload) {
            (
                Some(pb::envelope::Payload::Candidacy(c)),
                EventPayload::Candidacy(CandidacyEvent::Registered { personal, .. }),
            ) => {
                let mut registered = match &c.kind {
                    Some(pb::candidacy_event::Kind::Registered(r)) => r.clone(),
                    _ => return Err(invalid("candidacy.kind", "changed while sealing")),
                };
                registered.personal = None;
                registered.sealed_personal = Some(pb::SealedPersonalData {
                    key_owner: personal.key_owner.clone(),
                    nonce: personal.nonce.clone(),
                    ciphertext: personal.ciphertext.clone(),
                });
                let mut stored = e.clone();
                stored.payload = Some(pb::envelope::Payload::Candidacy(pb::CandidacyEvent {
                    kind: Some(pb::candidacy_event::Kind::Registered(registered)),
                }));
                stored.encode_to_vec()
            }
            (Some(pb::envelope::Payload::Co(co)), _) => {
                let mut co = co.clone();
                co.lavoratore_codice_fiscale.clear();
                co.lavoratore_pseudonym = event.meta.entity_id.clone();
                let mut stored = e.clone();
                stored.entity_id = event.meta.entity_id.clone();
                stored.payload = Some(pb::envelope::Payload::Co(co));
                stored.encode_to_vec()
            }
            _ if redacted.is_some() => e.encode_to_vec(),
            _ => bytes,
        };
        Ok((event, stored))
    }

    fn decode_from(&self, e: &pb::Envelope, origin: Origin) -> Result<Event, DecodeError> {
        if e.schema_version != SCHEMA_VERSION {
            return Err(DecodeError::UnknownSchema(e.schema_version));
        }
        require_id("event_id", &e.event_id)?;
        require_id("entity_id", &e.entity_id)?;
        if e.entity_version == 0 {
            return Err(invalid("entity_version", "must be >= 1"));
        }
        // One event at 2^64-1 would make every later one stale for ever.
        if e.entity_version > MAX_ENTITY_VERSION {
            return Err(invalid(
                "entity_version",
                format!("above {MAX_ENTITY_VERSION}"),
            ));
        }
        if !(FIRST_MS..=LAST_MS).contains(&e.occurred_at_ms) {
            return Err(invalid("occurred_at_ms", "outside 1950-2100"));
        }
        require_text("source", &e.source, 64)?;
        let mut meta = EventMeta {
            event_id: e.event_id.clone(),
            entity_id: e.entity_id.clone(),
            entity_version: e.entity_version,
            occurred_at_ms: e.occurred_at_ms,
            source: e.source.clone(),
        };
        let payload = match &e.payload {
            None => return Err(invalid("payload", "missing")),
            Some(pb::envelope::Payload::Vacancy(v)) => EventPayload::Vacancy(self.vacancy(v)?),
            Some(pb::envelope::Payload::Candidacy(c)) => {
                let day = (e.occurred_at_ms.div_euclid(86_400_000)) as Day;
                EventPayload::Candidacy(self.candidacy(c, origin, day)?)
            }
            Some(pb::envelope::Payload::Co(co)) => {
                // The worker is known by pseudonym from here on.
                meta.entity_id = self.worker(e, co, origin)?;
                EventPayload::Employment(self.co(co)?)
            }
            Some(pb::envelope::Payload::ListIssued(list)) => {
                EventPayload::ListIssued(issued_list(list, e.occurred_at_ms)?)
            }
            Some(pb::envelope::Payload::Erasure(erasure)) => {
                if erasure.reason.trim().is_empty() {
                    return Err(invalid("erasure.reason", "empty"));
                }
                if erasure.reason.len() > 500 {
                    return Err(invalid("erasure.reason", "longer than 500 bytes"));
                }
                EventPayload::Erasure(Erasure {
                    reason: erasure.reason.clone(),
                })
            }
        };
        Ok(Event { meta, payload })
    }

    /// The worker's pseudonym: from their codice fiscale, or, in this node's
    /// journal, as stored in its place.
    fn worker(
        &self,
        e: &pb::Envelope,
        co: &pb::ComunicazioneObbligatoria,
        origin: Origin,
    ) -> Result<String, DecodeError> {
        if !co.lavoratore_pseudonym.is_empty() {
            if origin == Origin::Producer {
                return Err(invalid(
                    "co.lavoratore_pseudonym",
                    "set only by a node in its own journal",
                ));
            }
            if !is_pseudonym(&co.lavoratore_pseudonym) || e.entity_id != co.lavoratore_pseudonym {
                return Err(invalid(
                    "co.lavoratore_pseudonym",
                    "not this entity's pseudonym",
                ));
            }
            return Ok(co.lavoratore_pseudonym.clone());
        }
        let worker = CodiceFiscale::parse(&co.lavoratore_codice_fiscale)
            .map_err(|err| invalid("co.lavoratore_codice_fiscale", err.to_string()))?;
        let entity = CodiceFiscale::parse(&e.entity_id).map_err(|err| {
            invalid(
                "entity_id",
                format!("a CO is keyed by the worker's codice fiscale: {err}"),
            )
        })?;
        let person = self.pseudonymiser.pseudonym(&worker);
        if self.pseudonymiser.pseudonym(&entity) != person {
            return Err(invalid(
                "entity_id",
                "differs from co.lavoratore_codice_fiscale",
            ));
        }
        Ok(person)
    }

    /// An ATECO 2007 code ("NN", "NN.N", "NN.NN", "NN.NN.N", "NN.NN.NN")
    /// whose division the table knows (the table lists codes down to the
    /// class, so longer codes are checked by shape below it).
    fn known_ateco(&self, code: &str) -> bool {
        let parts: Vec<&str> = code.split('.').collect();
        let digits = |p: &str, n: std::ops::RangeInclusive<usize>| {
            n.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
        };
        let shaped = match parts.as_slice() {
            [d] => digits(d, 2..=2),
            [d, g] => digits(d, 2..=2) && digits(g, 1..=2),
            [d, g, s] => digits(d, 2..=2) && digits(g, 2..=2) && digits(s, 1..=2),
            _ => false,
        };
        shaped && self.reference.ateco(parts[0]).is_some()
    }

    fn comune(&self, field: &str, code: &str) -> Result<String, DecodeError> {
        if self.reference.comune(code).is_none() {
            return Err(invalid(
                field,
                format!("comune {code:?} is not an ISTAT code of Piemonte"),
            ));
        }
        Ok(code.to_owned())
    }

    fn vacancy(&self, v: &pb::VacancyEvent) -> Result<VacancyEvent, DecodeError> {
        use pb::vacancy_event::Kind;
        Ok(match &v.kind {
            None => return Err(invalid("vacancy.kind", "missing")),
            Some(Kind::Published(spec)) => {
                VacancyEvent::Published(self.vacancy_spec("vacancy.published", spec)?)
            }
            Some(Kind::Updated(spec)) => {
                VacancyEvent::Updated(self.vacancy_spec("vacancy.updated", spec)?)
            }
            Some(Kind::PositionsFilled(p)) => {
                if p.count == 0 {
                    return Err(invalid("vacancy.positions_filled.count", "must be >= 1"));
                }
                VacancyEvent::PositionsFilled { count: p.count }
            }
            Some(Kind::Closed(_)) => VacancyEvent::Closed,
            Some(Kind::Withdrawn(w)) => VacancyEvent::Withdrawn {
                reason: w.reason.clone(),
            },
        })
    }

    fn vacancy_spec(&self, at: &str, v: &pb::Vacancy) -> Result<VacancySpec, DecodeError> {
        let f = |name: &str| format!("{at}.{name}");
        require_text(&f("title"), &v.title, 300)?;
        bounded_text(&f("description"), &v.description, 20_000)?;
        if v.valid_from_day != 0 {
            plausible_day(&f("valid_from_day"), v.valid_from_day)?;
        }
        if v.valid_until_day != 0 {
            plausible_day(&f("valid_until_day"), v.valid_until_day)?;
        }
        profession_code(&f("profession_code"), &v.profession_code, true)?;
        if !(1..=100).contains(&v.hours_percent) {
            return Err(invalid(&f("hours_percent"), "must be 1..=100"));
        }
        if v.positions == 0 {
            return Err(invalid(&f("positions"), "must be >= 1"));
        }
        if v.valid_until_day != 0 && v.valid_until_day < v.valid_from_day {
            return Err(invalid(&f("valid_until_day"), "before valid_from_day"));
        }
        let employer = v
            .employer
            .as_ref()
            .ok_or_else(|| invalid(&f("employer"), "missing"))?;
        let vocabulary = skill_vocabulary(&f("required_skills"))?;
        let required_skills = canonical_skills(vocabulary, &v.required_skills, &[]);
        let mut preferred_skills =
            canonical_skills(vocabulary, &v.preferred_skills, &required_skills);
        let mentioned = vocabulary
            .mentioned_in(&v.title)
            .into_iter()
            .chain(vocabulary.mentioned_in(&v.description));
        for skill in mentioned {
            if !has_skill(&required_skills, skill) && !has_skill(&preferred_skills, skill) {
                preferred_skills.push(skill.to_owned());
            }
        }
        Ok(VacancySpec {
            title: v.title.clone(),
            description: v.description.clone(),
            employer: self.employer(&f("employer"), employer)?,
            workplace_comune: self.comune(&f("workplace_comune"), &v.workplace_comune)?,
            profession_code: v.profession_code.clone(),
            required_skills,
            preferred_skills,
            min_education: education(v.min_education()),
            languages: languages(&f("languages"), &v.languages)?,
            driving_licences: clean_list(&v.driving_licences),
            min_experience_months: v.min_experience_months,
            contract_type: contract(v.contract_type()),
            contract_months: v.contract_months,
            hours_percent: v.hours_percent,
            shifts: v.shifts,
            nights: v.nights,
            weekends: v.weekends,
            gross_monthly_pay_eur: v.gross_monthly_pay_eur,
            ccnl: v.ccnl.trim().to_owned(),
            ccnl_level: v.ccnl_level.trim().to_owned(),
            positions: v.positions,
            reserved_quota: match v.reserved_quota() {
                pb::ReservedQuota::None => ReservedQuota::None,
                pb::ReservedQuota::Art1 => ReservedQuota::Art1,
                pb::ReservedQuota::Art18 => ReservedQuota::Art18,
            },
            target_programme: match v.target_programme() {
                pb::TargetProgramme::None => TargetProgramme::None,
                pb::TargetProgramme::Gol => TargetProgramme::Gol,
                pb::TargetProgramme::Tirocinio => TargetProgramme::Tirocinio,
                pb::TargetProgramme::Apprendistato => TargetProgramme::Apprendistato,
            },
            valid_from_day: v.valid_from_day,
            valid_until_day: v.valid_until_day,
            cpi_code: v.cpi_code.clone(),
        })
    }

    fn employer(&self, field: &str, e: &pb::Employer) -> Result<Employer, DecodeError> {
        let f = |name: &str| format!("{field}.{name}");
        require_text(&f("name"), &e.name, 300)?;
        // A company's partita IVA, or a sole trader's codice fiscale.
        let code = e.fiscal_code.trim().to_uppercase();
        if validate_partita_iva(&code).is_err() && CodiceFiscale::parse(&code).is_err() {
            return Err(invalid(
                &f("fiscal_code"),
                "neither a partita IVA nor a codice fiscale",
            ));
        }
        if !e.ateco_code.is_empty() && !self.known_ateco(&e.ateco_code) {
            return Err(invalid(
                &f("ateco_code"),
                format!("{:?} is not an ATECO 2007 code", e.ateco_code),
            ));
        }
        Ok(Employer {
            fiscal_code: code,
            name: e.name.clone(),
            ateco_code: e.ateco_code.clone(),
            employees: e.employees,
        })
    }

    fn candidacy(
        &self,
        c: &pb::CandidacyEvent,
        origin: Origin,
        day: Day,
    ) -> Result<CandidacyEvent, DecodeError> {
        use pb::candidacy_event::Kind;
        Ok(match &c.kind {
            None => return Err(invalid("candidacy.kind", "missing")),
            Some(Kind::Registered(r)) => {
                let profile = r
                    .profile
                    .as_ref()
                    .ok_or_else(|| invalid("candidacy.registered.profile", "missing"))?;
                plausible_day("candidacy.registered.did_day", r.did_day)?;
                let (person, personal, demographics) = self.registered_person(r, origin, day)?;
                CandidacyEvent::Registered {
                    person,
                    personal,
                    demographics,
                    did_day: r.did_day,
                    profile: self.profile("candidacy.registered.profile", profile)?,
                    protected_category: match r.protected_category() {
                        pb::ProtectedCategory::None => ProtectedCategory::None,
                        pb::ProtectedCategory::Art1 => ProtectedCategory::Art1,
                        pb::ProtectedCategory::Art18 => ProtectedCategory::Art18,
                    },
                }
            }
            Some(Kind::ProfileUpdated(p)) => {
                CandidacyEvent::ProfileUpdated(self.profile("candidacy.profile_updated", p)?)
            }
            Some(Kind::AvailabilityChanged(a)) => CandidacyEvent::AvailabilityChanged {
                available: a.available,
                reason: a.reason.clone(),
            },
            Some(Kind::Withdrawn(w)) => CandidacyEvent::Withdrawn {
                reason: w.reason.clone(),
            },
        })
    }

    /// The registered person's pseudonym, sealed personal data and
    /// demographics. From a producer: the codice fiscale is checked, and the
    /// data sealed. From the journal: the sealed data as written, opened only
    /// to read the demographics again (gone with the key, like the rest).
    fn registered_person(
        &self,
        r: &pb::CandidacyRegistered,
        origin: Origin,
        day: Day,
    ) -> Result<(String, SealedPersonalData, Option<Demographics>), DecodeError> {
        const AT: &str = "candidacy.registered";
        if let (Some(sealed), None) = (&r.sealed_personal, &r.personal) {
            if origin == Origin::Producer {
                return Err(invalid(
                    &format!("{AT}.sealed_personal"),
                    "set only by a node in its own journal",
                ));
            }
            if !is_pseudonym(&sealed.key_owner) {
                return Err(invalid(
                    &format!("{AT}.sealed_personal.key_owner"),
                    "not a pseudonym",
                ));
            }
            let sealed = SealedPersonalData {
                key_owner: sealed.key_owner.clone(),
                nonce: sealed.nonce.clone(),
                ciphertext: sealed.ciphertext.clone(),
            };
            let demographics = self
                .keys
                .open_sealed(&sealed)
                .and_then(|p| CodiceFiscale::parse(&p.codice_fiscale).ok())
                .and_then(|cf| cf.demographics(day));
            return Ok((sealed.key_owner.clone(), sealed, demographics));
        }
        if r.sealed_personal.is_some() {
            return Err(invalid(
                &format!("{AT}.sealed_personal"),
                "set only by a node in its own journal",
            ));
        }
        let personal = r
            .personal
            .as_ref()
            .ok_or_else(|| invalid(&format!("{AT}.personal"), "missing"))?;
        for (field, value, max) in [
            ("given_name", &personal.given_name, 100),
            ("family_name", &personal.family_name, 100),
            ("email", &personal.email, 254),
            ("phone", &personal.phone, 32),
        ] {
            bounded_text(&format!("{AT}.personal.{field}"), value, max)?;
        }
        let cf = CodiceFiscale::parse(&personal.codice_fiscale)
            .map_err(|e| invalid(&format!("{AT}.personal.codice_fiscale"), e.to_string()))?;
        let person = self.pseudonymiser.pseudonym(&cf);
        let data = PersonalData {
            codice_fiscale: cf.as_str().to_owned(),
            given_name: personal.given_name.clone(),
            family_name: personal.family_name.clone(),
            email: personal.email.clone(),
            phone: personal.phone.clone(),
        };
        let sealed = self
            .keys
            .seal(&person, &data)
            .map_err(|e| invalid(&format!("{AT}.personal"), e.to_string()))?;
        Ok((person, sealed, cf.demographics(day)))
    }

    fn profile(&self, at: &str, p: &pb::CandidateProfile) -> Result<CandidateProfile, DecodeError> {
        let f = |name: &str| format!("{at}.{name}");
        bounded_text(&f("summary"), &p.summary, 10_000)?;
        for (i, x) in p.experience.iter().enumerate() {
            bounded_text(
                &f(&format!("experience[{i}].description")),
                &x.description,
                5_000,
            )?;
        }
        for (i, code) in p.desired_professions.iter().enumerate() {
            profession_code(&f(&format!("desired_professions[{i}]")), code, true)?;
        }
        for (i, x) in p.experience.iter().enumerate() {
            profession_code(
                &f(&format!("experience[{i}].profession_code")),
                &x.profession_code,
                true,
            )?;
        }
        let max_hours = if p.max_hours_percent == 0 {
            100
        } else {
            p.max_hours_percent
        };
        if max_hours > 100 || p.min_hours_percent > max_hours {
            return Err(invalid(
                &f("min_hours_percent"),
                "hours range must satisfy min <= max <= 100",
            ));
        }
        let vocabulary = skill_vocabulary(&f("skills"))?;
        let certified_skills = canonical_skills(vocabulary, &p.certified_skills, &[]);
        let mut skills = canonical_skills(vocabulary, &p.skills, &certified_skills);
        for skill in vocabulary.mentioned_in(&p.summary) {
            if !has_skill(&certified_skills, skill) && !has_skill(&skills, skill) {
                skills.push(skill.to_owned());
            }
        }
        Ok(CandidateProfile {
            domicile_comune: self.comune(&f("domicile_comune"), &p.domicile_comune)?,
            max_distance_km: p.max_distance_km,
            own_vehicle: p.own_vehicle,
            desired_professions: p.desired_professions.clone(),
            experience: p
                .experience
                .iter()
                .map(|x| WorkExperience {
                    profession_code: x.profession_code.clone(),
                    ateco_code: x.ateco_code.clone(),
                    months: x.months,
                    description: x.description.clone(),
                })
                .collect(),
            skills,
            certified_skills,
            education: education(p.education()),
            languages: languages(&f("languages"), &p.languages)?,
            driving_licences: clean_list(&p.driving_licences),
            accepted_contracts: p.accepted_contracts().map(contract).collect(),
            min_hours_percent: p.min_hours_percent,
            max_hours_percent: max_hours,
            income_support: match p.income_support() {
                pb::IncomeSupport::None => IncomeSupport::None,
                pb::IncomeSupport::Naspi => IncomeSupport::Naspi,
                pb::IncomeSupport::DisColl => IncomeSupport::DisColl,
                pb::IncomeSupport::Adi => IncomeSupport::Adi,
                pb::IncomeSupport::Sfl => IncomeSupport::Sfl,
            },
            gol_path: match p.gol_path() {
                pb::GolPath::None => GolPath::None,
                pb::GolPath::Reinserimento => GolPath::Reinserimento,
                pb::GolPath::Upskilling => GolPath::Upskilling,
                pb::GolPath::Reskilling => GolPath::Reskilling,
                pb::GolPath::LavoroEInclusione => GolPath::LavoroEInclusione,
                pb::GolPath::RicollocazioneCollettiva => GolPath::RicollocazioneCollettiva,
            },
            cpi_code: p.cpi_code.clone(),
            vulnerable: p.vulnerable,
            summary: p.summary.clone(),
            monthly_benefit_eur: p.monthly_benefit_eur,
            // Zero km would make every offer beyond the domicile not congrua: a patto that
            // agreed no distance says nothing, so it is read as unstated.
            patto_max_distance_km: p.patto_max_distance_km.filter(|&km| km > 0),
            children_under_14: p.children_under_14,
        })
    }

    fn co(
        &self,
        co: &pb::ComunicazioneObbligatoria,
    ) -> Result<ComunicazioneObbligatoria, DecodeError> {
        if co.code.trim().is_empty() {
            return Err(invalid("co.code", "empty"));
        }
        let action = match co.action() {
            pb::CoAction::Unspecified | pb::CoAction::Original => CoAction::Original,
            pb::CoAction::Rettifica => CoAction::Rettifica,
            pb::CoAction::Annullamento => CoAction::Annullamento,
        };
        if action != CoAction::Original && co.previous_code.trim().is_empty() {
            return Err(invalid(
                "co.previous_code",
                "required for a rettifica or annullamento",
            ));
        }
        use pb::comunicazione_obbligatoria::Quadro;
        let tables = CodeTables::embedded().map_err(|e| invalid("co", e.to_string()))?;
        let quadro = match &co.quadro {
            None if action == CoAction::Annullamento => CoQuadro::None,
            None => return Err(invalid("co.quadro", "missing")),
            Some(Quadro::Assunzione(a)) => {
                profession_code("co.assunzione.profession_code", &a.profession_code, true)?;
                if !(1..=100).contains(&a.hours_percent) {
                    return Err(invalid("co.assunzione.hours_percent", "must be 1..=100"));
                }
                plausible_day("co.assunzione.start_day", a.start_day)?;
                if a.end_day != 0 {
                    plausible_day("co.assunzione.end_day", a.end_day)?;
                    if a.end_day < a.start_day {
                        return Err(invalid("co.assunzione.end_day", "before start_day"));
                    }
                }
                let contract_type = contract(a.contract_type());
                if contract_type == ContractType::Unspecified {
                    return Err(invalid("co.assunzione.contract_type", "missing"));
                }
                tables
                    .check_tipologia(a.contract_code.trim(), contract_type, a.start_day)
                    .map_err(|e| invalid("co.assunzione.contract_code", e.to_string()))?;
                if a.end_day == 0
                    && !matches!(
                        contract_type,
                        ContractType::Indeterminato
                            | ContractType::Apprendistato
                            | ContractType::Intermittente
                            | ContractType::Somministrazione
                    )
                {
                    return Err(invalid(
                        "co.assunzione.end_day",
                        format!("required for a {} contract", contract_type.label()),
                    ));
                }
                CoQuadro::Assunzione {
                    start_day: a.start_day,
                    end_day: (a.end_day != 0).then_some(a.end_day),
                    contract_code: a.contract_code.clone(),
                    contract_type: contract(a.contract_type()),
                    profession_code: a.profession_code.clone(),
                    ccnl: a.ccnl.clone(),
                    hours_percent: a.hours_percent,
                    // The wire format does not carry the notice's retribuzione yet, so the
                    // legal unemployment status of a worker with a job is not determinable.
                    annual_pay_eur: None,
                }
            }
            Some(Quadro::Proroga(p)) => {
                plausible_day("co.proroga.new_end_day", p.new_end_day)?;
                CoQuadro::Proroga {
                    new_end_day: p.new_end_day,
                }
            }
            Some(Quadro::Trasformazione(t)) => {
                if t.hours_percent > 100 {
                    return Err(invalid("co.trasformazione.hours_percent", "must be <= 100"));
                }
                plausible_day("co.trasformazione.day", t.day)?;
                if !t.contract_code.trim().is_empty() {
                    tables
                        .check_tipologia(t.contract_code.trim(), contract(t.contract_type()), t.day)
                        .map_err(|e| invalid("co.trasformazione.contract_code", e.to_string()))?;
                }
                CoQuadro::Trasformazione {
                    day: t.day,
                    contract_type: contract(t.contract_type()),
                    contract_code: t.contract_code.clone(),
                    hours_percent: t.hours_percent,
                }
            }
            Some(Quadro::Cessazione(c)) => {
                plausible_day("co.cessazione.day", c.day)?;
                CoQuadro::Cessazione {
                    day: c.day,
                    cause: tables
                        .check_cause(&c.cause)
                        .map_err(|e| invalid("co.cessazione.cause", e.to_string()))?,
                }
            }
        };
        let datore = co
            .datore
            .as_ref()
            .ok_or_else(|| invalid("co.datore", "missing"))?;
        let workplace = if co.workplace_comune.is_empty() {
            String::new()
        } else {
            // A CO may name a workplace outside Piemonte; keep it, it only
            // describes the contract.
            co.workplace_comune.clone()
        };
        Ok(ComunicazioneObbligatoria {
            code: co.code.trim().to_owned(),
            action,
            previous_code: co.previous_code.trim().to_owned(),
            datore: self.employer("co.datore", datore)?,
            workplace_comune: workplace,
            quadro,
        })
    }
}

/// Rows a recorded list may hold: the API's largest page.
const MAX_LIST_ROWS: usize = 500;

fn issued_list(list: &pb::ListIssued, issued_at_ms: i64) -> Result<IssuedList, DecodeError> {
    let direction = match list.direction() {
        pb::ListDirection::Unspecified => {
            return Err(invalid("list_issued.direction", "missing"));
        }
        pb::ListDirection::CandidatesForVacancy => ListDirection::CandidatesForVacancy,
        pb::ListDirection::VacanciesForCandidate => ListDirection::VacanciesForCandidate,
    };
    require_id("list_issued.subject_id", &list.subject_id)?;
    if list.rows.len() > MAX_LIST_ROWS {
        return Err(invalid(
            "list_issued.rows",
            format!("more than {MAX_LIST_ROWS} rows"),
        ));
    }
    let mut rows = Vec::with_capacity(list.rows.len());
    for (i, row) in list.rows.iter().enumerate() {
        require_id(&format!("list_issued.rows[{i}].id"), &row.id)?;
        let similarities = if row.packed_similarities.is_empty() {
            row.similarities.clone()
        } else {
            unpack_similarities(&row.packed_similarities).ok_or_else(|| {
                invalid(
                    &format!("list_issued.rows[{i}].packed_similarities"),
                    format!("must be {} little-endian u16", Criterion::ALL.len()),
                )
            })?
        };
        let finite = row.score.is_finite() && similarities.iter().all(|x| x.is_finite());
        if !finite || !(similarities.is_empty() || similarities.len() == Criterion::ALL.len()) {
            return Err(invalid(
                &format!("list_issued.rows[{i}]"),
                format!(
                    "score and similarities must be finite, with 0 or {} similarities",
                    Criterion::ALL.len()
                ),
            ));
        }
        rows.push(ListedRow {
            id: row.id.clone(),
            score: row.score,
            similarities,
        });
    }
    let requester = list.requester.clone().unwrap_or_default();
    check_requester("list_issued.requester", &requester)?;
    Ok(IssuedList {
        direction,
        subject_id: list.subject_id.clone(),
        requester: Requester {
            user_id: requester.user_id,
            cpi_code: requester.cpi_code,
            channel: requester.channel,
            campaign_id: requester.campaign_id,
        },
        issued_day: list.issued_day,
        issued_at_ms,
        log_position: list.log_position,
        weights_version: list.weights_version.clone(),
        rows,
        query: match &list.query {
            None => None,
            Some(q) => {
                if q.limit == 0 || q.limit as usize > MAX_LIST_ROWS {
                    return Err(invalid(
                        "list_issued.query.limit",
                        format!("must be in 1..={MAX_LIST_ROWS}"),
                    ));
                }
                if !(0.0..=1.0).contains(&q.min_score) {
                    return Err(invalid("list_issued.query.min_score", "must be in [0,1]"));
                }
                if q.cpi_codes.len() > 100 {
                    return Err(invalid("list_issued.query.cpi_codes", "more than 100"));
                }
                Some(ListQuery {
                    limit: q.limit,
                    min_score: q.min_score,
                    only_congrua: q.only_congrua,
                    cpi_codes: q.cpi_codes.clone(),
                    max_distance_km: q.max_distance_km,
                    hide_reserved_quota: q.hide_reserved_quota,
                })
            }
        },
    })
}

/// A row's similarities as a recorded list keeps them: each in [0, 1] as a
/// little-endian u16 of round(x × 65535), a step of 1.5e-5, far below what
/// a weight fit or a reader can tell apart.
pub fn pack_similarities(similarities: &[f64]) -> Vec<u8> {
    similarities
        .iter()
        .flat_map(|x| ((x.clamp(0.0, 1.0) * 65_535.0).round() as u16).to_le_bytes())
        .collect()
}

/// [`pack_similarities`] read back; `None` unless it holds exactly one
/// value per criterion.
pub fn unpack_similarities(packed: &[u8]) -> Option<Vec<f64>> {
    if packed.len() != 2 * Criterion::ALL.len() {
        return None;
    }
    Some(
        packed
            .chunks_exact(2)
            .map(|b| f64::from(u16::from_le_bytes([b[0], b[1]])) / 65_535.0)
            .collect(),
    )
}

/// Who asked for a list: short identifiers, named by `prefix` when one is
/// not. The API checks a request with this before recording its list.
pub fn check_requester(prefix: &str, r: &pb::Requester) -> Result<(), DecodeError> {
    for (field, value) in [
        ("user_id", &r.user_id),
        ("cpi_code", &r.cpi_code),
        ("channel", &r.channel),
        ("campaign_id", &r.campaign_id),
    ] {
        if value.len() > 128 {
            return Err(invalid(
                &format!("{prefix}.{field}"),
                "longer than 128 bytes",
            ));
        }
    }
    if r.purpose.len() > 500 {
        return Err(invalid(
            &format!("{prefix}.purpose"),
            "longer than 500 bytes",
        ));
    }
    Ok(())
}

/// A date of working life (a CO's, a DID, a vacancy's validity): a fixed
/// range, never "today", so a journaled event decodes the same on every
/// replay.
fn plausible_day(field: &str, day: i32) -> Result<(), DecodeError> {
    // 1950-01-01 and 2100-12-31.
    const FIRST: i32 = -7_305;
    const LAST: i32 = 47_846;
    if (FIRST..=LAST).contains(&day) {
        Ok(())
    } else {
        Err(invalid(field, format!("day {day} outside 1950-2100")))
    }
}

/// The shape [`Pseudonymiser::pseudonym`] gives: "p" and 24 hex digits.
fn is_pseudonym(value: &str) -> bool {
    value.len() == 25 && value.starts_with('p') && value[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn envelope(bytes: &[u8]) -> Result<pb::Envelope, DecodeError> {
    pb::Envelope::decode(bytes).map_err(|e| DecodeError::Undecodable(e.to_string()))
}

/// The largest entity version: 2^53, what a JSON number holds exactly, far
/// beyond any producer's counter or millisecond clock.
pub const MAX_ENTITY_VERSION: u64 = 1 << 53;
/// 1950-01-01 and 2100-12-31 23:59:59.999 in milliseconds: a fixed window,
/// never "now", so a journaled event decodes the same on every replay.
const FIRST_MS: i64 = -631_152_000_000;
const LAST_MS: i64 = 4_133_980_799_999;

fn require_id(field: &str, value: &str) -> Result<(), DecodeError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "empty"));
    }
    if value.len() > 128 {
        return Err(invalid(field, "longer than 128 bytes"));
    }
    printable(field, value)
}

/// A required short text: not blank, at most `max` bytes, printable.
fn require_text(field: &str, value: &str, max: usize) -> Result<(), DecodeError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "empty"));
    }
    bounded_text(field, value, max)
}

/// An optional text: at most `max` bytes, printable (line breaks and tabs
/// allowed in free text).
fn bounded_text(field: &str, value: &str, max: usize) -> Result<(), DecodeError> {
    if value.len() > max {
        return Err(invalid(field, format!("longer than {max} bytes")));
    }
    printable(field, value)
}

fn printable(field: &str, value: &str) -> Result<(), DecodeError> {
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(invalid(field, "holds control characters"));
    }
    Ok(())
}

/// A CP2011 code: 1 to 5 dot-separated numeric levels ("5.2.2.1.0").
fn profession_code(field: &str, code: &str, required: bool) -> Result<(), DecodeError> {
    if code.is_empty() {
        return if required {
            Err(invalid(field, "empty"))
        } else {
            Ok(())
        };
    }
    let parts: Vec<&str> = code.split('.').collect();
    let ok = parts.len() <= 5
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{code:?} is not an ISTAT CP2011 code"),
        ))
    }
}

fn clean_list(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = items
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    out.dedup();
    out
}

/// Skills under their canonical label where the vocabulary knows them (else
/// trimmed as written), without empties, without repeats (compared as
/// scoring compares them) and without those already in `exclude`.
fn canonical_skills(
    vocabulary: &SkillVocabulary,
    items: &[String],
    exclude: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let skill = vocabulary.canonical(item).unwrap_or(item);
        if !has_skill(exclude, skill) && !has_skill(&out, skill) {
            out.push(skill.to_owned());
        }
    }
    out
}

fn has_skill(list: &[String], skill: &str) -> bool {
    list.iter().any(|s| s.eq_ignore_ascii_case(skill))
}

fn languages(
    field: &str,
    items: &[pb::LanguageRequirement],
) -> Result<Vec<LanguageSkill>, DecodeError> {
    items
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let code = l.language.trim().to_lowercase();
            if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_lowercase()) {
                return Err(invalid(
                    &format!("{field}[{i}].language"),
                    "not an ISO 639-1 code",
                ));
            }
            Ok(LanguageSkill {
                language: code,
                level: match l.level() {
                    pb::CefrLevel::Unspecified => Cefr::Unspecified,
                    pb::CefrLevel::A1 => Cefr::A1,
                    pb::CefrLevel::A2 => Cefr::A2,
                    pb::CefrLevel::B1 => Cefr::B1,
                    pb::CefrLevel::B2 => Cefr::B2,
                    pb::CefrLevel::C1 => Cefr::C1,
                    pb::CefrLevel::C2 => Cefr::C2,
                },
            })
        })
        .collect()
}

fn contract(c: pb::ContractType) -> ContractType {
    match c {
        pb::ContractType::Unspecified => ContractType::Unspecified,
        pb::ContractType::Indeterminato => ContractType::Indeterminato,
        pb::ContractType::Determinato => ContractType::Determinato,
        pb::ContractType::Somministrazione => ContractType::Somministrazione,
        pb::ContractType::Apprendistato => ContractType::Apprendistato,
        pb::ContractType::Tirocinio => ContractType::Tirocinio,
        pb::ContractType::Intermittente => ContractType::Intermittente,
        pb::ContractType::Stagionale => ContractType::Stagionale,
    }
}

fn education(e: pb::EducationLevel) -> EducationLevel {
    match e {
        pb::EducationLevel::Unspecified => EducationLevel::Unspecified,
        pb::EducationLevel::None => EducationLevel::None,
        pb::EducationLevel::LicenzaMedia => EducationLevel::LicenzaMedia,
        pb::EducationLevel::QualificaProfessionale => EducationLevel::QualificaProfessionale,
        pb::EducationLevel::Diploma => EducationLevel::Diploma,
        pb::EducationLevel::Its => EducationLevel::Its,
        pb::EducationLevel::LaureaTriennale => EducationLevel::LaureaTriennale,
        pb::EducationLevel::LaureaMagistrale => EducationLevel::LaureaMagistrale,
        pb::EducationLevel::Dottorato => EducationLevel::Dottorato,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        reference: ReferenceData,
        pseudonymiser: Pseudonymiser,
        keys: PersonKeys,
        events: Vec<pb::Envelope>,
    }

    fn fixture() -> Fixture {
        let reference = ReferenceData::embedded().unwrap();
        let config = incontra_datagen::GeneratorConfig {
            candidates: 300,
            vacancies: 100,
            ..incontra_datagen::GeneratorConfig::small()
        };
        let events = incontra_datagen::Generator::new(&reference, config)
            .events()
            .collect();
        Fixture {
            reference,
            pseudonymiser: Pseudonymiser::new(&[7u8; 32]),
            keys: PersonKeys::in_memory(),
            events,
        }
    }

    /// A generated vacancy publication, with its spec made editable.
    fn published_vacancy(f: &Fixture) -> (pb::Envelope, pb::Vacancy) {
        use pb::vacancy_event::Kind;
        f.events
            .iter()
            .find_map(|e| match &e.payload {
                Some(pb::envelope::Payload::Vacancy(pb::VacancyEvent {
                    kind: Some(Kind::Published(spec)),
                })) => Some((e.clone(), spec.clone())),
                _ => None,
            })
            .unwrap()
    }

    fn with_vacancy(mut e: pb::Envelope, spec: pb::Vacancy) -> pb::Envelope {
        e.payload = Some(pb::envelope::Payload::Vacancy(pb::VacancyEvent {
            kind: Some(pb::vacancy_event::Kind::Published(spec)),
        }));
        e
    }

    fn decoded_spec(f: &Fixture, e: &pb::Envelope) -> VacancySpec {
        match Decoder::new(&f.reference, &f.pseudonymiser, &f.keys)
            .decode(e)
            .unwrap()
            .payload
        {
            EventPayload::Vacancy(VacancyEvent::Published(spec)) => spec,
            other => panic!("not a publication: {other:?}"),
        }
    }

    #[test]
    fn the_journal_form_holds_no_identifying_data_and_decodes_to_the_same_event() {
        let f = fixture();
        let d = Decoder::new(&f.reference, &f.pseudonymiser, &f.keys);
        let (registration, _) = registration(&f);
        let co = f
            .events
            .iter()
            .find(|e| matches!(e.payload, Some(pb::envelope::Payload::Co(_))))
            .unwrap()
            .clone();
        for e in [registration, co] {
            let bytes = e.encode_to_vec();
            let (event, stored) = d.decode_for_journal(&e, bytes.clone()).unwrap();
            let mut secrets = vec![e.entity_id.clone()];
            if let Some(pb::envelope::Payload::Candidacy(pb::CandidacyEvent {
                kind: Some(pb::candidacy_event::Kind::Registered(r)),
            })) = &e.payload
            {
                let p = r.personal.clone().unwrap();
                secrets = vec![
                    p.codice_fiscale,
                    p.given_name,
                    p.family_name,
                    p.email,
                    p.phone,
                ];
            }
            for secret in secrets.iter().filter(|s| s.len() >= 4) {
                let found = |b: &[u8]| b.windows(secret.len()).any(|w| w == secret.as_bytes());
                assert!(found(&bytes), "the producer's form holds it");
                assert!(!found(&stored), "the journal's form holds {secret}");
            }
            let replayed = d.decode_stored(&stored).unwrap();
            assert_eq!(replayed, event);
            // A producer may not send the node's own form.
            let refused = d.decode_bytes(&stored).unwrap_err();
            assert!(
                matches!(&refused, DecodeError::Invalid { field, .. }
                    if field.ends_with("sealed_personal") || field.ends_with("lavoratore_pseudonym")),
                "{refused}"
            );
        }
    }

    #[test]
    fn a_registration_sealed_under_a_destroyed_key_still_replays_without_its_data() {
        let f = fixture();
        let d = Decoder::new(&f.reference, &f.pseudonymiser, &f.keys);
        let (e, _) = registration(&f);
        let (event, stored) = d.decode_for_journal(&e, e.encode_to_vec()).unwrap();
        let EventPayload::Candidacy(CandidacyEvent::Registered {
            person,
            personal,
            demographics,
            ..
        }) = &event.payload
        else {
            panic!("not a registration")
        };
        assert!(demographics.is_some());
        assert!(f.keys.open_sealed(personal).is_some());
        f.keys.shred(person).unwrap();
        let replayed = d.decode_stored(&stored).unwrap();
        let EventPayload::Candidacy(CandidacyEvent::Registered {
            personal,
            demographics,
            ..
        }) = &replayed.payload
        else {
            panic!("not a registration")
        };
        assert!(f.keys.open_sealed(personal).is_none());
        assert_eq!(*demographics, None, "gone with the key");
    }

    #[test]
    fn values_that_cannot_be_true_are_refused_naming_their_field() {
        use pb::candidacy_event::Kind as C;
        let f = fixture();
        let d = Decoder::new(&f.reference, &f.pseudonymiser, &f.keys);
        let (registration, _) = registration(&f);
        let (vacancy, spec) = published_vacancy(&f);
        let registered = |edit: &dyn Fn(&mut pb::CandidacyRegistered)| {
            let mut e = registration.clone();
            if let Some(pb::envelope::Payload::Candidacy(pb::CandidacyEvent {
                kind: Some(C::Registered(r)),
            })) = &mut e.payload
            {
                edit(r);
            }
            e
        };
        let employer = |edit: &dyn Fn(&mut pb::Employer)| {
            let mut spec = spec.clone();
            if let Some(employer) = &mut spec.employer {
                edit(employer);
            }
            with_vacancy(vacancy.clone(), spec)
        };
        let cases: Vec<(&str, pb::Envelope)> = vec![
            (
                "entity_id",
                pb::Envelope {
                    entity_id: "C\u{0}1".into(),
                    ..registration.clone()
                },
            ),
            (
                "event_id",
                pb::Envelope {
                    event_id: "e\u{7}".into(),
                    ..registration.clone()
                },
            ),
            (
                "entity_version",
                pb::Envelope {
                    entity_version: u64::MAX,
                    ..registration.clone()
                },
            ),
            (
                "occurred_at_ms",
                pb::Envelope {
                    occurred_at_ms: i64::MAX,
                    ..registration.clone()
                },
            ),
            (
                "source",
                pb::Envelope {
                    source: String::new(),
                    ..registration.clone()
                },
            ),
            (
                "candidacy.registered.did_day",
                registered(&|r| r.did_day = 1_826_000_000),
            ),
            (
                "candidacy.registered.did_day",
                registered(&|r| r.did_day = i32::MIN),
            ),
            (
                "candidacy.registered.personal.family_name",
                registered(&|r| {
                    if let Some(p) = &mut r.personal {
                        p.family_name = "x".repeat(400_000);
                    }
                }),
            ),
            (
                "candidacy.registered.profile.summary",
                registered(&|r| {
                    if let Some(p) = &mut r.profile {
                        p.summary = "parola ".repeat(5_000);
                    }
                }),
            ),
            (
                "vacancy.published.employer.fiscal_code",
                employer(&|e| e.fiscal_code = "not-a-piva".into()),
            ),
            (
                "vacancy.published.employer.ateco_code",
                employer(&|e| e.ateco_code = "ZZ.ZZ".into()),
            ),
            (
                "vacancy.published.employer.ateco_code",
                employer(&|e| e.ateco_code = "04.11".into()),
            ),
            ("vacancy.published.valid_until_day", {
                let mut spec = spec.clone();
                spec.valid_until_day = i32::MAX;
                with_vacancy(vacancy.clone(), spec)
            }),
        ];
        for (field, e) in cases {
            match d.decode(&e) {
                Err(DecodeError::Invalid { field: named, .. }) => {
                    assert_eq!(named, field, "the refusal names the field")
                }
                other => panic!("{field}: accepted or misnamed: {other:?}"),
            }
        }
        // What real data looks like still passes.
        assert!(d.decode(&registration).is_ok());
        assert!(d
            .decode(&employer(&|e| e.ateco_code = "56.10.11".into()))
            .is_ok());
    }

    #[test]
    fn packed_similarities_read_back_to_the_step_and_pack_again_the_same() {
        let exact = [
            0.0,
            1.0,
            0.5,
            1.0 / 3.0,
            0.123_456_789,
            0.999_99,
            1e-9,
            0.75,
        ];
        let packed = pack_similarities(&exact);
        assert_eq!(packed.len(), 16);
        let back = unpack_similarities(&packed).expect("eight values");
        for (x, y) in exact.iter().zip(&back) {
            assert!((x - y).abs() <= 0.5 / 65_535.0, "{x} read back as {y}");
        }
        assert_eq!(pack_similarities(&back), packed, "stable once packed");
        assert_eq!(unpack_similarities(&packed[..15]), None);
    }

    /// A generated registration, with its profile made editable.
    fn registration(f: &Fixture) -> (pb::Envelope, pb::CandidateProfile) {
        use pb::candidacy_event::Kind;
        f.events
            .iter()
            .find_map(|e| match &e.payload {
                Some(pb::envelope::Payload::Candidacy(pb::CandidacyEvent {
                    kind: Some(Kind::Registered(r)),
                })) => Some((e.clone(), r.profile.clone().unwrap())),
                _ => None,
            })
            .unwrap()
    }

    fn with_profile(mut e: pb::Envelope, profile: pb::CandidateProfile) -> pb::Envelope {
        use pb::candidacy_event::Kind;
        if let Some(pb::envelope::Payload::Candidacy(pb::CandidacyEvent {
            kind: Some(Kind::Registered(r)),
        })) = &mut e.payload
        {
            r.profile = Some(profile);
        }
        e
    }

    fn decoded_profile(f: &Fixture, e: &pb::Envelope) -> CandidateProfile {
        match Decoder::new(&f.reference, &f.pseudonymiser, &f.keys)
            .decode(e)
            .unwrap()
            .payload
        {
            EventPayload::Candidacy(CandidacyEvent::Registered { profile, .. }) => profile,
            other => panic!("not a registration: {other:?}"),
        }
    }

    #[test]
    fn vacancy_skills_map_to_canonical_labels_without_duplicates() {
        let f = fixture();
        let (e, mut spec) = published_vacancy(&f);
        spec.title = "Saldatore/trice".into();
        spec.description = "Si richiede esperienza di saldatura a TIG.".into();
        spec.required_skills = vec![
            " saldature TIG ".into(),
            "Saldatura TIG".into(),
            "igiene alimentare HACCP".into(),
            "tornitura di precisione".into(),
            "".into(),
        ];
        spec.preferred_skills = vec!["haccp".into(), "Carrelli elevatori".into()];
        let decoded = decoded_spec(&f, &with_vacancy(e, spec));
        assert_eq!(
            decoded.required_skills,
            ["saldatura TIG", "HACCP", "tornitura di precisione"]
        );
        assert_eq!(decoded.preferred_skills, ["uso del muletto"]);
    }

    #[test]
    fn skills_in_a_vacancy_text_become_preferred() {
        let f = fixture();
        let (e, mut spec) = published_vacancy(&f);
        spec.title = "Magazziniere/a con patentino muletto".into();
        spec.description = "Si occuperà di picking e packing e di carico e scarico. \
                            Gradita conoscenza di Excel; HACCP."
            .into();
        spec.required_skills = vec!["HACCP".into()];
        spec.preferred_skills = vec!["uso del transpallet".into()];
        let decoded = decoded_spec(&f, &with_vacancy(e, spec));
        assert_eq!(decoded.required_skills, ["HACCP"]);
        assert_eq!(
            decoded.preferred_skills,
            [
                "uso del transpallet",
                "patentino carrellista",
                "uso del muletto",
                "picking e packing",
                "carico e scarico merci",
                "Excel"
            ]
        );
    }

    #[test]
    fn skills_in_a_summary_become_declared_unless_already_held() {
        let f = fixture();
        let (e, mut profile) = registration(&f);
        profile.skills = vec!["Lavoro di squadra".into(), "lavoro in team".into()];
        profile.certified_skills = vec!["attestato HACCP".into()];
        profile.summary = "Candidato con esperienza in saldature TIG e igiene alimentare \
                           HACCP; usa il foglio di calcolo. Lavora bene in gruppo."
            .into();
        let decoded = decoded_profile(&f, &with_profile(e, profile));
        assert_eq!(decoded.certified_skills, ["HACCP"]);
        assert_eq!(decoded.skills, ["lavoro in team", "saldatura TIG", "Excel"]);
    }

    #[test]
    fn generated_skills_keep_their_labels() {
        let f = fixture();
        let decoder = Decoder::new(&f.reference, &f.pseudonymiser, &f.keys);
        let mut checked = 0;
        for e in &f.events {
            let event = decoder.decode(e).unwrap();
            let (wire, decoded): (Vec<&String>, Vec<String>) = match (&e.payload, event.payload) {
                (
                    Some(pb::envelope::Payload::Vacancy(pb::VacancyEvent {
                        kind: Some(pb::vacancy_event::Kind::Published(spec)),
                    })),
                    EventPayload::Vacancy(VacancyEvent::Published(d)),
                ) => (spec.required_skills.iter().collect(), d.required_skills),
                (
                    Some(pb::envelope::Payload::Candidacy(pb::CandidacyEvent {
                        kind: Some(pb::candidacy_event::Kind::Registered(r)),
                    })),
                    EventPayload::Candidacy(CandidacyEvent::Registered { profile, .. }),
                ) => (
                    r.profile
                        .as_ref()
                        .unwrap()
                        .certified_skills
                        .iter()
                        .collect(),
                    profile.certified_skills,
                ),
                _ => continue,
            };
            assert_eq!(wire, decoded.iter().collect::<Vec<_>>());
            checked += 1;
        }
        assert!(checked > 100, "{checked} events checked");
    }

    /// A generated hire notice, with its assunzione made editable.
    fn hire_notice(f: &Fixture) -> (pb::Envelope, pb::ComunicazioneObbligatoria, pb::Assunzione) {
        use pb::comunicazione_obbligatoria::Quadro;
        f.events
            .iter()
            .find_map(|e| match &e.payload {
                Some(pb::envelope::Payload::Co(co)) => match &co.quadro {
                    Some(Quadro::Assunzione(a)) if co.action() != pb::CoAction::Rettifica => {
                        Some((e.clone(), co.clone(), a.clone()))
                    }
                    _ => None,
                },
                _ => None,
            })
            .unwrap()
    }

    fn with_hire(
        mut e: pb::Envelope,
        mut co: pb::ComunicazioneObbligatoria,
        a: pb::Assunzione,
    ) -> pb::Envelope {
        co.action = pb::CoAction::Original as i32;
        co.previous_code.clear();
        co.quadro = Some(pb::comunicazione_obbligatoria::Quadro::Assunzione(a));
        e.payload = Some(pb::envelope::Payload::Co(co));
        e
    }

    /// Codes in current use (somministrazione, co.co.co.) decode and their hire is applied: a
    /// Kafka replica's Preparer decodes with this decoder, and a CO that decodes is never
    /// dead-lettered.
    #[test]
    fn a_co_with_a_06_00_or_b_03_00_is_applied() {
        use incontra_engine::state::{Outcome, State};
        let f = fixture();
        let decoder = Decoder::new(&f.reference, &f.pseudonymiser, &f.keys);
        let (e, co, a) = hire_notice(&f);
        let start = 20_600; // 2026-05-27
        let cases = [
            ("A.06.00", pb::ContractType::Somministrazione, 0),
            ("B.03.00", pb::ContractType::Determinato, start + 180),
        ];
        for (i, (code, kind, end)) in cases.into_iter().enumerate() {
            let mut e = with_hire(
                e.clone(),
                co.clone(),
                pb::Assunzione {
                    contract_code: code.into(),
                    contract_type: kind as i32,
                    start_day: start,
                    end_day: end,
                    ..a.clone()
                },
            );
            e.event_id = format!("law-{i}");
            let event = decoder
                .decode(&e)
                .unwrap_or_else(|err| panic!("{code}: {err}"));
            let person = event.meta.entity_id.clone();
            let mut state = State::new();
            assert_eq!(state.apply(&event), Outcome::Applied, "{code}");
            let record = state.employment_record(&person).expect("a record");
            assert!(
                record.contracts().iter().any(|c| c.start_day == start),
                "{code}: no contract"
            );
        }
    }

    /// A closed code decodes for a relationship that started while it was open and is refused
    /// for one that starts after it closed, with the field and the reason.
    #[test]
    fn a_closed_code_decodes_only_for_old_relationships() {
        let f = fixture();
        let decoder = Decoder::new(&f.reference, &f.pseudonymiser, &f.keys);
        let (e, co, a) = hire_notice(&f);
        let hire = |start: i32| {
            with_hire(
                e.clone(),
                co.clone(),
                pb::Assunzione {
                    contract_code: "B.01.00".into(),
                    contract_type: pb::ContractType::Determinato as i32,
                    start_day: start,
                    end_day: start + 90,
                    ..a.clone()
                },
            )
        };
        // B.01.00 closed on 01/02/2016 (day 16_832).
        assert!(decoder.decode(&hire(16_831)).is_ok());
        let refused = decoder.decode(&hire(16_832)).unwrap_err().to_string();
        assert!(refused.contains("co.assunzione.contract_code"), "{refused}");
        assert!(refused.contains("closed on 01/02/2016"), "{refused}");
    }
}
