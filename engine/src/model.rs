//! The domain model: vacancies, candidates and employment records as the
//! engine keeps them after folding the event streams.
//!
//! Dates are whole days since the Unix epoch (`Day`); the engine never reads
//! the wall clock, so folding is deterministic and queries say which day they
//! are evaluated on.

use serde::{Deserialize, Serialize};

/// Days since 1970-01-01 (UTC).
pub type Day = i32;

/// Formats a [`Day`] the Italian way (dd/mm/yyyy) for reasons read aloud.
pub fn format_day(day: Day) -> String {
    chrono::DateTime::from_timestamp(i64::from(day) * 86_400, 0)
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_else(|| format!("giorno {day}"))
}

/// Converts a calendar date to a [`Day`]; `None` for an impossible date.
pub fn day_from_ymd(year: i32, month: u32, day: u32) -> Option<Day> {
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day)?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

/// Calendar date of a [`Day`].
fn date_of(day: Day) -> Option<chrono::NaiveDate> {
    Some(chrono::DateTime::from_timestamp(i64::from(day) * 86_400, 0)?.date_naive())
}

/// Calendar year of a [`Day`].
pub fn year_of(day: Day) -> i32 {
    use chrono::Datelike;
    date_of(day).map_or(1970, |d| d.year())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum ContractType {
    #[default]
    Unspecified,
    Indeterminato,
    Determinato,
    Somministrazione,
    Apprendistato,
    Tirocinio,
    Intermittente,
    Stagionale,
}

impl ContractType {
    /// Every type, in declaration order (`ALL[t as usize] == t`).
    pub const ALL: [ContractType; 8] = [
        ContractType::Unspecified,
        ContractType::Indeterminato,
        ContractType::Determinato,
        ContractType::Somministrazione,
        ContractType::Apprendistato,
        ContractType::Tirocinio,
        ContractType::Intermittente,
        ContractType::Stagionale,
    ];

    /// Italian name as used on the Unificato LAV form.
    pub fn label(self) -> &'static str {
        match self {
            ContractType::Unspecified => "non specificato",
            ContractType::Indeterminato => "tempo indeterminato",
            ContractType::Determinato => "tempo determinato",
            ContractType::Somministrazione => "somministrazione",
            ContractType::Apprendistato => "apprendistato",
            ContractType::Tirocinio => "tirocinio",
            ContractType::Intermittente => "lavoro intermittente",
            ContractType::Stagionale => "lavoro stagionale",
        }
    }
}

/// Highest level of education, ordered from none to doctorate.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub enum EducationLevel {
    #[default]
    Unspecified,
    None,
    LicenzaMedia,
    QualificaProfessionale,
    Diploma,
    Its,
    LaureaTriennale,
    LaureaMagistrale,
    Dottorato,
}

impl EducationLevel {
    pub fn label(self) -> &'static str {
        match self {
            EducationLevel::Unspecified => "non indicato",
            EducationLevel::None => "nessun titolo",
            EducationLevel::LicenzaMedia => "licenza media",
            EducationLevel::QualificaProfessionale => "qualifica professionale",
            EducationLevel::Diploma => "diploma",
            EducationLevel::Its => "diploma ITS",
            EducationLevel::LaureaTriennale => "laurea triennale",
            EducationLevel::LaureaMagistrale => "laurea magistrale",
            EducationLevel::Dottorato => "dottorato",
        }
    }
}

/// CEFR language level; `Unspecified` sorts below A1.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub enum Cefr {
    #[default]
    Unspecified,
    A1,
    A2,
    B1,
    B2,
    C1,
    C2,
}

impl Cefr {
    pub fn label(self) -> &'static str {
        match self {
            Cefr::Unspecified => "livello non indicato",
            Cefr::A1 => "A1",
            Cefr::A2 => "A2",
            Cefr::B1 => "B1",
            Cefr::B2 => "B2",
            Cefr::C1 => "C1",
            Cefr::C2 => "C2",
        }
    }
}

/// Vacancies reserved under L.68/99 (collocamento mirato).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum ReservedQuota {
    #[default]
    None,
    /// Art. 1: persons with disabilities.
    Art1,
    /// Art. 18: the protected categories of art. 18 c.2 (orphans and surviving spouses of
    /// those who died at work, at war or in service, families of grandi invalidi, refugees; as
    /// issue 14 lists them, the text was not re-read here), not only widows.
    Art18,
}

/// A person's L.68/99 registration. Health data (GDPR art. 9): used only to
/// decide eligibility for reserved vacancies, never as a score feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum ProtectedCategory {
    #[default]
    None,
    Art1,
    Art18,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum TargetProgramme {
    #[default]
    None,
    Gol,
    Tirocinio,
    Apprendistato,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum IncomeSupport {
    #[default]
    None,
    Naspi,
    DisColl,
    Adi,
    Sfl,
}

/// Path of the GOL programme (Garanzia di occupabilità dei lavoratori).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum GolPath {
    #[default]
    None,
    Reinserimento,
    Upskilling,
    Reskilling,
    LavoroEInclusione,
    RicollocazioneCollettiva,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Employer {
    pub fiscal_code: String,
    pub name: String,
    pub ateco_code: String,
    pub employees: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LanguageSkill {
    /// ISO 639-1 code.
    pub language: String,
    pub level: Cefr,
}

/// What an employer asks for: the content of a published or updated vacancy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct VacancySpec {
    pub title: String,
    pub description: String,
    pub employer: Employer,
    /// ISTAT code of the workplace comune.
    pub workplace_comune: String,
    /// ISTAT CP2011 code (any level).
    pub profession_code: String,
    pub required_skills: Vec<String>,
    pub preferred_skills: Vec<String>,
    pub min_education: EducationLevel,
    pub languages: Vec<LanguageSkill>,
    pub driving_licences: Vec<String>,
    pub min_experience_months: u32,
    pub contract_type: ContractType,
    pub contract_months: u32,
    /// Share of full time, in percent.
    pub hours_percent: u32,
    pub shifts: bool,
    pub nights: bool,
    pub weekends: bool,
    pub gross_monthly_pay_eur: u32,
    /// The collective agreement the offer applies, by the code the comunicazioni obbligatorie
    /// use for it (the "CCNL applicato" of the Unificato LAV); empty when not stated.
    pub ccnl: String,
    /// The level (livello di inquadramento) of the offer in that CCNL; empty when not stated.
    pub ccnl_level: String,
    pub positions: u32,
    pub reserved_quota: ReservedQuota,
    pub target_programme: TargetProgramme,
    pub valid_from_day: Day,
    /// 0 when open-ended.
    pub valid_until_day: Day,
    pub cpi_code: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VacancyStatus {
    Open,
    Closed,
    Withdrawn,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vacancy {
    pub id: String,
    pub spec: VacancySpec,
    pub status: VacancyStatus,
    /// Positions the employer's vacancy system reported filled.
    pub positions_filled: u32,
    pub published_at_ms: i64,
    pub updated_at_ms: i64,
    /// Hires notified by comunicazione obbligatoria that took a position,
    /// derived from the employment records (see `State`), never stored.
    #[serde(skip, default)]
    pub filled_by_hires: Vec<FillingHire>,
}

/// A CO hire that filled a position of a vacancy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillingHire {
    pub hire_code: String,
    /// The worker's pseudonym.
    pub person: String,
    pub start_day: Day,
}

impl Vacancy {
    /// Positions neither reported filled nor taken by a notified hire. The
    /// two describe the same hires when both arrive, so the larger counts.
    pub fn open_positions(&self) -> u32 {
        let by_hires = u32::try_from(self.filled_by_hires.len()).unwrap_or(u32::MAX);
        self.spec
            .positions
            .saturating_sub(self.positions_filled.max(by_hires))
    }

    /// Open, with positions left and within its validity window on `today`.
    pub fn is_open_on(&self, today: Day) -> bool {
        self.is_listable() && valid_on(self.spec.valid_until_day, today)
    }

    /// Open with a position left: what the fold's index of listable
    /// vacancies holds (validity, which depends on the day judged, aside).
    pub fn is_listable(&self) -> bool {
        self.status == VacancyStatus::Open && self.open_positions() > 0
    }
}

/// Whether a vacancy valid until `valid_until` (0: no end date) is still
/// valid on `today`.
pub fn valid_on(valid_until: Day, today: Day) -> bool {
    valid_until == 0 || valid_until >= today
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct WorkExperience {
    pub profession_code: String,
    pub ateco_code: String,
    pub months: u32,
    pub description: String,
}

/// What a person offers and accepts: the part of the SAP (scheda anagrafica
/// professionale) the engine scores on. Personal data lives apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CandidateProfile {
    pub domicile_comune: String,
    /// The distance the person declares they will travel: a preference for matching, not the
    /// terms of the patto di servizio (offerta congrua never reads it).
    pub max_distance_km: u32,
    pub own_vehicle: bool,
    pub desired_professions: Vec<String>,
    pub experience: Vec<WorkExperience>,
    pub skills: Vec<String>,
    pub certified_skills: Vec<String>,
    pub education: EducationLevel,
    pub languages: Vec<LanguageSkill>,
    pub driving_licences: Vec<String>,
    /// Empty means every contract type is accepted.
    pub accepted_contracts: Vec<ContractType>,
    pub min_hours_percent: u32,
    pub max_hours_percent: u32,
    pub income_support: IncomeSupport,
    pub gol_path: GolPath,
    pub cpi_code: String,
    pub vulnerable: bool,
    pub summary: String,
    pub monthly_benefit_eur: u32,
    /// A distance limit written in the patto di servizio, when the patto states one. Kept apart
    /// from `max_distance_km` because the patto's terms bind the person's benefit and a
    /// declared preference must not; congruity packs may let it narrow the decree's limit.
    pub patto_max_distance_km: Option<u32>,
    /// Whether the household has children under 14 (D.L. 48/2023 art. 9 c.1-bis: for ADI
    /// recipients it brings back a distance limit on open-ended offers); `None` when unknown.
    pub children_under_14: Option<bool>,
}

/// Identifying data of a person. Kept out of [`Candidate`] so that nothing
/// that scores can read it and an API edge can withhold it wholesale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PersonalData {
    pub codice_fiscale: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub phone: String,
}

/// [`PersonalData`] as the state, the journal and the snapshots keep it:
/// encrypted under a key of its owner's that only the node's key store holds
/// (crypto-shredding: erasing a person destroys the key, and with it every
/// copy of this). Opaque to the engine, which never reads identifying data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SealedPersonalData {
    /// The keyed pseudonym of the person whose key sealed it.
    pub key_owner: String,
    pub nonce: Vec<u8>,
    /// Ciphertext with its authentication tag.
    pub ciphertext: Vec<u8>,
}

/// What aggregate outcomes group people by that the codice fiscale encodes
/// (sex and birth date), derived once where the code is readable so that
/// nothing downstream needs the code itself. Dropped on erasure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demographics {
    pub female: bool,
    pub birth_day: Day,
}

impl Demographics {
    /// Age in whole years on `day`.
    pub fn age_on(&self, day: Day) -> Option<i32> {
        use chrono::Datelike;
        let (birth, on) = (date_of(self.birth_day)?, date_of(day)?);
        let before_birthday = (on.month(), on.day()) < (birth.month(), birth.day());
        Some(on.year() - birth.year() - i32::from(before_birthday))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: String,
    /// Keyed pseudonym of the codice fiscale: joins comunicazioni
    /// obbligatorie to the candidacy without keeping the code in the index.
    pub person: String,
    /// Day of the DID (dichiarazione di immediata disponibilità), from which
    /// unemployment duration is counted.
    pub did_day: Day,
    pub profile: CandidateProfile,
    pub available: bool,
    pub withdrawn: bool,
    pub registered_at_ms: i64,
    pub updated_at_ms: i64,
    /// `None` when the codice fiscale could not be read (an erased person,
    /// or a journal whose key is gone).
    pub demographics: Option<Demographics>,
    /// Erased (GDPR art. 17): withdrawn for good, profile emptied but for
    /// the CPI and comune aggregates are kept by, no personal data.
    pub erased: bool,
}
