//! Offerta congrua: whether a job offer is "suitable" for an unemployed person in the sense of
//! D.Lgs. 150/2015 art. 25 and the Ministry of Labour decree of 10 April 2018 (GU n. 162 of
//! 14/07/2018). Refusing a suitable offer without a justified reason costs a NASpI/DIS-COLL
//! recipient the benefit and the unemployment status, so an operator must know whether an offer
//! is congrua and why, criterion by criterion.
//!
//! This module owns:
//! - the rule packs (`config/congruity/*.toml`): the thresholds of one legal regime with its
//!   validity dates, so replaying history judges each offer by the rules in force that day;
//! - the CP2011 → SEP table (`data/reference/cp2011_sep.csv`): the settori
//!   economico-professionali of the INAPP Atlante del lavoro the decree measures coherence with;
//! - [`evaluate`]: one verdict per criterion with an Italian reason carrying the numbers.
//!
//! An offer is congrua only when no criterion is [`Verdict::NotSatisfied`]. When a fact the
//! decree needs is missing (no duration on a fixed-term offer, unknown hours of the last
//! contract, unknown benefit), the criterion is not satisfied and the reason says what is
//! missing: a "congrua" the engine cannot back up would be used against the worker.
//!
//! A pack judges either everyone (the general pack) or the recipients of the benefits it names
//! (`recipients`, e.g. ADI/SFL under D.L. 48/2023 art. 9): [`CongruityRules::assess`] picks the
//! pack for the person's benefit on the day judged. `docs/LAW.md` lists every rule with its
//! source and how sure it is.
//!
//! What the engine approximates (each is stated in the pack and in `docs/LAW.md`): the patto di
//! servizio's activity areas are the desired professions; professional continuity is the same
//! CP2011 major group; the pay net of employee contributions is the gross pay minus the ordinary
//! pension contribution rate; a day worked after the DID is a suspension of the unemployment
//! status unless the job's stated pay is within the income threshold (or it is a tirocinio), in
//! which case the status was kept and the duration runs ([`crate::unemployment`]); a job whose
//! pay is not stated counts as a suspension, which can only shorten the duration. The person's declared mobility is never the patto's limit: only the
//! patto's own distance, where the pack lets it, and then only to narrow the decree's.
//!
//! For persons registered in the collocamento mirato (L. 68/1999 art. 1) the decree requires the
//! competent service's assessment of the offer's compatibility with the certified impairments,
//! which the engine cannot make: the caller says so with
//! [`CongruityInput::collocamento_mirato`], and the result then carries a
//! [`Criterion::Disability`] row that is not satisfied. A result holding that row is health data
//! (GDPR art. 9) and must not reach a public portal.

use std::collections::HashMap;
use std::fmt;

use chrono::{Datelike, Months, NaiveDate};
use serde::Deserialize;

use crate::employment::EmploymentRecord;
use crate::model::{
    day_from_ymd, format_day, Candidate, ContractType, Day, IncomeSupport, Vacancy,
};
use crate::unemployment::Thresholds;

/// The rule packs compiled in, one file per legal regime and reading of it.
const EMBEDDED_PACKS: [&str; 3] = [
    include_str!("../../config/congruity/dm-2018-04-10.toml"),
    include_str!("../../config/congruity/dm-2018-04-10-r2.toml"),
    include_str!("../../config/congruity/dl-48-2023-art9.toml"),
];

const SEP_CSV: &str = include_str!("../../data/reference/cp2011_sep.csv");
const CCNL_CSV: &str = include_str!("../../data/reference/ccnl_minimi.csv");
const SEP_FILE: &str = "cp2011_sep.csv";

/// Days from 0001-01-01 (proleptic Gregorian, day 1) to 1970-01-01, to turn a [`Day`] into a date.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The 24 settori economico-professionali of the Atlante del lavoro e delle qualificazioni
/// (INAPP), numbered as the Atlante numbers them: 23 sectors and the "Area comune" of support
/// processes. Names as listed by lametasociale.it (2022); sector 14 was earlier named "Servizi di
/// informatica".
pub const SEP_NAMES: [&str; 24] = [
    "Agricoltura, silvicoltura e pesca",
    "Produzioni alimentari",
    "Legno e arredo",
    "Carta e cartotecnica",
    "Tessile, abbigliamento, calzaturiero e sistema moda",
    "Chimica",
    "Estrazione gas, petrolio, carbone, minerali e lavorazione pietre",
    "Vetro, ceramica e materiali da costruzione",
    "Edilizia",
    "Meccanica, produzione e manutenzione di macchine, impiantistica",
    "Trasporti e logistica",
    "Servizi di distribuzione commerciale",
    "Servizi finanziari e assicurativi",
    "Servizi digitali",
    "Servizi di telecomunicazione e poste",
    "Servizi di public utilities",
    "Stampa ed editoria",
    "Servizi di educazione, formazione e lavoro",
    "Servizi socio-sanitari",
    "Servizi alla persona",
    "Servizi di attività ricreative e sportive",
    "Servizi culturali e di spettacolo",
    "Servizi turistici",
    "Area comune - processi di supporto alla produzione di beni e servizi",
];

#[derive(Debug, thiserror::Error)]
pub enum CongruityError {
    #[error("congruity rule pack #{index}: not valid TOML: {source}")]
    Parse {
        index: usize,
        #[source]
        source: toml::de::Error,
    },
    #[error("congruity rule pack {pack}: {reason}")]
    InvalidPack { pack: String, reason: String },
    #[error("congruity rule packs {first} and {second} are both in force on {day}")]
    Overlap {
        first: String,
        second: String,
        day: String,
    },
    #[error("{SEP_FILE}: cannot parse CSV: {0}")]
    SepCsv(#[from] csv::Error),
    #[error("{SEP_FILE}:{line}: {reason}")]
    InvalidSep { line: u64, reason: String },
    #[error(transparent)]
    Thresholds(#[from] crate::unemployment::ThresholdError),
    #[error("ccnl_minimi.csv: cannot parse CSV: {0}")]
    CcnlCsv(#[source] csv::Error),
    #[error("ccnl_minimi.csv: CCNL {ccnl} level {level}: {reason}")]
    InvalidCcnl {
        ccnl: String,
        level: String,
        reason: String,
    },
}

// ---------------------------------------------------------------------------------------------
// SEP table
// ---------------------------------------------------------------------------------------------

/// A settore economico-professionale, by its Atlante number (1..=24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sep(u8);

impl Sep {
    pub fn new(code: u8) -> Option<Sep> {
        (1..=24).contains(&code).then_some(Sep(code))
    }

    pub fn code(self) -> u8 {
        self.0
    }

    /// The Atlante's Italian name.
    pub fn name(self) -> &'static str {
        // The constructor keeps the code in 1..=24.
        SEP_NAMES[usize::from(self.0 - 1)]
    }
}

impl fmt::Display for Sep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "«{}»", self.name())
    }
}

/// A row of the SEP table; the `note` column is for people and is not read.
#[derive(Debug, Deserialize)]
struct SepRow {
    cp2011: String,
    sep: String,
}

/// CP2011 codes (any level) mapped to a SEP; the most specific listed prefix of a code decides.
/// A row with an empty SEP says on purpose that the branch has no sector (armed forces,
/// judiciary), so a broader row cannot lend it one.
#[derive(Debug, Clone)]
pub struct SepTable {
    by_code: HashMap<String, Option<Sep>>,
}

impl SepTable {
    /// The curated table compiled in from `data/reference/cp2011_sep.csv`.
    pub fn embedded() -> Result<SepTable, CongruityError> {
        Self::from_csv(SEP_CSV)
    }

    pub fn from_csv(text: &str) -> Result<SepTable, CongruityError> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers()?.clone();
        let mut by_code = HashMap::new();
        for record in reader.records() {
            let record = record?;
            let line = record.position().map_or(0, csv::Position::line);
            let row: SepRow = record.deserialize(Some(&headers))?;
            let invalid = |reason: String| CongruityError::InvalidSep { line, reason };
            if segments(&row.cp2011).is_none() {
                return Err(invalid(format!("malformed CP2011 code {:?}", row.cp2011)));
            }
            let sep = match row.sep.trim() {
                "" => None,
                text => {
                    let sep = text
                        .parse::<u8>()
                        .ok()
                        .and_then(Sep::new)
                        .ok_or_else(|| invalid(format!("SEP {text:?} is not a number 1-24")))?;
                    Some(sep)
                }
            };
            if by_code.insert(row.cp2011.clone(), sep).is_some() {
                return Err(invalid(format!("CP2011 code {} listed twice", row.cp2011)));
            }
        }
        Ok(SepTable { by_code })
    }

    /// The SEP of a CP2011 code of any level: the longest listed prefix (whole segments) wins.
    pub fn sep_of(&self, profession_code: &str) -> Option<Sep> {
        let parts = segments(profession_code)?;
        (1..=parts.len())
            .rev()
            .find_map(|n| self.by_code.get(&parts[..n].join(".")))
            .copied()
            .flatten()
    }

    /// The CP2011 codes listed in the table, with their SEP (`None`: deliberately none).
    pub fn entries(&self) -> impl Iterator<Item = (&str, Option<Sep>)> {
        self.by_code.iter().map(|(code, sep)| (code.as_str(), *sep))
    }

    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }
}

/// The dot-separated segments of a CP2011 code, or `None` if it is not digits and dots.
fn segments(code: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = code.trim().split('.').collect();
    let well_formed = !code.trim().is_empty()
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    well_formed.then_some(parts)
}

// ---------------------------------------------------------------------------------------------
// CCNL minimums
// ---------------------------------------------------------------------------------------------

/// The minimum monthly pay of one level of one CCNL over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcnlMinimum {
    pub ccnl: String,
    pub level: String,
    pub valid_from: Day,
    /// Exclusive; `None` while in force.
    pub valid_until: Option<Day>,
    /// Full-time gross monthly minimum (paga base plus contingenza), in cents.
    pub monthly_minimum_cents: u64,
    /// Where the figure comes from, quoted in the reason.
    pub source: String,
}

#[derive(Debug, Deserialize)]
struct CcnlRow {
    ccnl: String,
    level: String,
    valid_from: String,
    valid_until: String,
    monthly_minimum_eur: String,
    source: String,
}

/// Minimum pay by CCNL and level, with validity dates (`data/reference/ccnl_minimi.csv`). A
/// (CCNL, level, day) the table does not hold has no minimum: the check is then not assessable.
#[derive(Debug, Clone, Default)]
pub struct CcnlTable {
    rows: Vec<CcnlMinimum>,
}

impl CcnlTable {
    /// The table compiled in from `data/reference/ccnl_minimi.csv`.
    pub fn embedded() -> Result<CcnlTable, CongruityError> {
        Self::from_csv(CCNL_CSV)
    }

    pub fn from_csv(text: &str) -> Result<CcnlTable, CongruityError> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let mut rows: Vec<CcnlMinimum> = Vec::new();
        for record in reader.deserialize::<CcnlRow>() {
            let row = record.map_err(CongruityError::CcnlCsv)?;
            let invalid = |reason: String| CongruityError::InvalidCcnl {
                ccnl: row.ccnl.clone(),
                level: row.level.clone(),
                reason,
            };
            let day = |text: &str| -> Result<Option<Day>, CongruityError> {
                let text = text.trim();
                if text.is_empty() {
                    return Ok(None);
                }
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| day_from_ymd(d.year(), d.month(), d.day()))
                    .map(Some)
                    .ok_or_else(|| invalid(format!("{text:?} is not a YYYY-MM-DD date")))
            };
            let valid_from =
                day(&row.valid_from)?.ok_or_else(|| invalid("valid_from is required".into()))?;
            let valid_until = day(&row.valid_until)?;
            if valid_until.is_some_and(|until| until <= valid_from) {
                return Err(invalid("valid_until is not after valid_from".into()));
            }
            let monthly_minimum_cents = euro_cents(&row.monthly_minimum_eur)
                .filter(|&c| c > 0)
                .ok_or_else(|| {
                    invalid(format!(
                        "monthly_minimum_eur {:?} is not a positive amount like 1613.98",
                        row.monthly_minimum_eur
                    ))
                })?;
            if row.source.trim().is_empty() {
                return Err(invalid("every minimum needs its source".into()));
            }
            let entry = CcnlMinimum {
                ccnl: row.ccnl.trim().to_owned(),
                level: row.level.trim().to_owned(),
                valid_from,
                valid_until,
                monthly_minimum_cents,
                source: row.source.trim().to_owned(),
            };
            // Two minimums for one level on one day would make the verdict depend on row order.
            let overlapping = rows.iter().any(|r| {
                r.ccnl == entry.ccnl
                    && r.level == entry.level
                    && r.valid_until.is_none_or(|u| entry.valid_from < u)
                    && entry.valid_until.is_none_or(|u| r.valid_from < u)
            });
            if overlapping {
                return Err(invalid("two minimums overlap in time".into()));
            }
            rows.push(entry);
        }
        Ok(CcnlTable { rows })
    }

    /// The minimum of `level` of `ccnl` in force on `day`.
    pub fn minimum(&self, ccnl: &str, level: &str, day: Day) -> Option<&CcnlMinimum> {
        self.rows.iter().find(|r| {
            r.ccnl == ccnl
                && r.level == level
                && r.valid_from <= day
                && r.valid_until.is_none_or(|until| day < until)
        })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// "1613.98" or "1613" as cents; `None` for anything else (no thousands separators).
fn euro_cents(text: &str) -> Option<u64> {
    let text = text.trim();
    let (euros, cents) = match text.split_once('.') {
        None => (text, "00"),
        Some((e, c)) if c.len() == 2 => (e, c),
        Some((e, c)) if c.len() == 1 => (e, c),
        _ => return None,
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(euros) || !all_digits(cents) {
        return None;
    }
    let cents_value: u64 = cents.parse().ok()?;
    let cents_value = if cents.len() == 1 {
        cents_value * 10
    } else {
        cents_value
    };
    euros
        .parse::<u64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents_value)
}

// ---------------------------------------------------------------------------------------------
// Rule packs
// ---------------------------------------------------------------------------------------------

/// Where each criterion's rule comes from, quoted in the reasons.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Citations {
    pub duration: String,
    pub experience: String,
    pub distance: String,
    pub contract: String,
    pub hours: String,
    pub pay: String,
    pub disability: String,
    /// The rule on the CCNL minimum pay; required when the pack checks it.
    #[serde(default)]
    pub minimum_pay: Option<String>,
}

/// Marks of a draft in a citation ("numero dell'articolo da verificare"); the
/// English ones in capitals only, as "todo" is inside Italian words (metodo).
const UNFINISHED: [&str; 6] = ["verificar", "confermar", "TODO", "FIXME", "XXX", "?"];

impl Citations {
    /// The first citation (field, text) still carrying a draft's marker.
    pub fn unfinished(&self) -> Option<(&'static str, &str)> {
        let fields = [
            ("duration", self.duration.as_str()),
            ("experience", &self.experience),
            ("distance", &self.distance),
            ("contract", &self.contract),
            ("hours", &self.hours),
            ("pay", &self.pay),
            ("disability", &self.disability),
            (
                "minimum_pay",
                self.minimum_pay.as_deref().unwrap_or_default(),
            ),
        ];
        fields
            .into_iter()
            .find(|(_, text)| UNFINISHED.iter().any(|marker| text.contains(marker)))
    }
}

/// How coherence with experience and competences is judged in a band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum ExperienceRule {
    /// The offer falls in an area agreed in the patto di servizio: a desired profession whose
    /// first `cp2011_level` CP2011 levels the vacancy's code starts with.
    PattoArea { cp2011_level: usize },
    /// Same SEP as a profession of the patto or of the work history, with professional
    /// continuity: the same first `cp2011_level` CP2011 levels as that profession.
    SepContinuity { cp2011_level: usize },
    /// Same SEP as a profession of the patto or of the work history.
    Sep,
    /// The regime sets no coherence requirement (D.L. 48/2023 art. 9 c.1 lists none): the
    /// criterion is reported as not applicable, with the pack's citation.
    NotRequired,
}

/// The distance limit of a band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum DistanceRule {
    /// The superseded reading, kept so that `dm-2018-04-10` replays as issued: the profile's
    /// declared mobility taken as the patto's limit; when the profile has none, within
    /// `fallback_km` or `fallback_minutes` by public transport. New packs use `Fixed`.
    Patto {
        fallback_km: u32,
        fallback_minutes: u32,
    },
    /// Within `max_km` of the domicile or `max_minutes` by public transport. With
    /// `patto_narrows`, a distance the patto di servizio agreed
    /// ([`CandidateProfile::patto_max_distance_km`](crate::model::CandidateProfile)), when
    /// shorter, replaces both limits; a longer one never widens them. The person's declared
    /// mobility (`max_distance_km`) is a matching preference and plays no part.
    Fixed {
        max_km: u32,
        max_minutes: u32,
        #[serde(default)]
        patto_narrows: bool,
    },
    /// Open-ended offers (the pack's `contract.open_ended`) have no distance limit; any other
    /// offer, and an open-ended one when the household has children under 14, must be within
    /// `max_km` or `max_minutes` by public transport (D.L. 48/2023 art. 9 c.1 a), d), c.1-bis).
    /// When whether such children exist is not known, an open-ended offer beyond the limit is
    /// not satisfied: the exception cannot be ruled out.
    OpenEndedUnlimited { max_km: u32, max_minutes: u32 },
}

/// An unemployment-duration band and the rules that depend on it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// Italian name of the band, as in the decree ("fino a 6 mesi").
    pub label: String,
    /// Upper bound in months from the DID, inclusive; `None` for the last, open band.
    pub max_months: Option<u32>,
    pub experience: ExperienceRule,
    pub distance: DistanceRule,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractRules {
    /// Contract types congrui whatever their duration.
    pub open_ended: Vec<ContractType>,
    /// Contract types congrui when they last at least `min_months`.
    pub fixed_term: Vec<ContractType>,
    pub min_months: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursRules {
    /// A part-time offer is congrua if its hours are at least this share of the last contract's
    /// (DM 10/4/2018). Exactly one of the two thresholds is set.
    #[serde(default)]
    pub min_percent_of_last_contract: Option<u32>,
    /// A part-time offer is congrua if its hours are at least this share of full time
    /// (D.L. 48/2023 art. 9 c.1 b)).
    #[serde(default)]
    pub min_percent_of_full_time: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayRules {
    /// Income supports whose recipients the pay criterion applies to.
    pub applies_to: Vec<IncomeSupport>,
    /// The offer's pay must exceed the last month's benefit by at least this percentage.
    pub min_margin_percent: u32,
    /// Employee contributions deducted from the gross pay, in basis points (919 = 9.19%).
    pub employee_contribution_rate_bp: u32,
}

/// The rules of one legal regime, in force from `valid_from` (inclusive) to `valid_until`
/// (exclusive, open when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulePack {
    pub id: String,
    pub title: String,
    pub valid_from: Day,
    pub valid_until: Option<Day>,
    /// The income supports whose recipients this pack judges; empty for the general pack,
    /// which judges everyone no specific pack covers on the day.
    pub recipients: Vec<IncomeSupport>,
    /// Whether the unemployment duration leaves out the periods of suspension of the
    /// unemployment status (DM art. 3 c.1), derived from the comunicazioni obbligatorie.
    pub exclude_suspensions: bool,
    /// Whether the offer's pay must be at least the minimum of its CCNL and level (a table held
    /// apart, [`CcnlTable`]); an offer whose minimum is not known is then not congrua.
    pub ccnl_minimum: bool,
    pub citations: Citations,
    /// Ordered by `max_months`; the last one is open. Private so that every pack went through
    /// validation: evaluation relies on a last, open band.
    bands: Vec<Band>,
    pub contract: ContractRules,
    pub hours: HoursRules,
    /// The comparison with the benefit (D.Lgs. 150/2015 art. 25 c.1 d)); `None` in a regime
    /// that has none.
    pub pay: Option<PayRules>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    id: String,
    title: String,
    valid_from: toml::value::Datetime,
    valid_until: Option<toml::value::Datetime>,
    #[serde(default)]
    recipients: Vec<IncomeSupport>,
    #[serde(default)]
    exclude_suspensions: bool,
    #[serde(default)]
    ccnl_minimum: bool,
    citations: Citations,
    bands: Vec<Band>,
    contract: ContractRules,
    hours: HoursRules,
    pay: Option<PayRules>,
}

impl RulePack {
    pub fn from_toml(text: &str) -> Result<RulePack, CongruityError> {
        Self::parse(0, text)
    }

    fn parse(index: usize, text: &str) -> Result<RulePack, CongruityError> {
        let file: PackFile =
            toml::from_str(text).map_err(|source| CongruityError::Parse { index, source })?;
        let invalid = |reason: String| CongruityError::InvalidPack {
            pack: file.id.clone(),
            reason,
        };
        let valid_from = toml_day(&file.valid_from)
            .ok_or_else(|| invalid(format!("valid_from {} is not a date", file.valid_from)))?;
        let valid_until = match &file.valid_until {
            None => None,
            Some(until) => Some(
                toml_day(until)
                    .ok_or_else(|| invalid(format!("valid_until {until} is not a date")))?,
            ),
        };
        let pack = RulePack {
            id: file.id.clone(),
            title: file.title,
            valid_from,
            valid_until,
            recipients: file.recipients,
            exclude_suspensions: file.exclude_suspensions,
            ccnl_minimum: file.ccnl_minimum,
            citations: file.citations,
            bands: file.bands,
            contract: file.contract,
            hours: file.hours,
            pay: file.pay,
        };
        pack.validate().map_err(invalid)?;
        Ok(pack)
    }

    /// The unemployment bands, ordered; the last one is open.
    pub fn bands(&self) -> &[Band] {
        &self.bands
    }

    /// True when the pack is in force on `day`.
    pub fn covers(&self, day: Day) -> bool {
        self.valid_from <= day && self.valid_until.is_none_or(|until| day < until)
    }

    /// True when both packs are in force on some day.
    fn overlaps(&self, other: &RulePack) -> bool {
        self.valid_until
            .is_none_or(|until| other.valid_from < until)
            && other
                .valid_until
                .is_none_or(|until| self.valid_from < until)
    }

    /// True when the two packs could both be chosen for one person: both general, or naming a
    /// benefit in common.
    fn same_people(&self, other: &RulePack) -> bool {
        if self.recipients.is_empty() || other.recipients.is_empty() {
            return self.recipients.is_empty() && other.recipients.is_empty();
        }
        self.recipients.iter().any(|r| other.recipients.contains(r))
    }

    fn validate(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("empty id".into());
        }
        if let Some(until) = self.valid_until {
            if until <= self.valid_from {
                return Err(format!(
                    "valid_until {} is not after valid_from {}",
                    format_day(until),
                    format_day(self.valid_from)
                ));
            }
        }
        let Some((last, bounded)) = self.bands.split_last() else {
            return Err("no unemployment bands".into());
        };
        if last.max_months.is_some() {
            return Err(format!("the last band «{}» must be open", last.label));
        }
        let mut previous = None;
        for band in bounded {
            let Some(max) = band.max_months else {
                return Err(format!(
                    "only the last band may be open, not «{}»",
                    band.label
                ));
            };
            if previous.is_some_and(|p| max <= p) {
                return Err(format!(
                    "band «{}» does not follow the previous one",
                    band.label
                ));
            }
            previous = Some(max);
        }
        for band in &self.bands {
            let level = match band.experience {
                ExperienceRule::PattoArea { cp2011_level }
                | ExperienceRule::SepContinuity { cp2011_level } => Some(cp2011_level),
                ExperienceRule::Sep | ExperienceRule::NotRequired => None,
            };
            if level.is_some_and(|l| !(1..=5).contains(&l)) {
                return Err(format!("band «{}»: cp2011_level must be 1-5", band.label));
            }
        }
        let contract = &self.contract;
        if contract
            .open_ended
            .iter()
            .chain(&contract.fixed_term)
            .any(|c| *c == ContractType::Unspecified)
        {
            return Err("contract lists may not contain Unspecified".into());
        }
        if contract
            .open_ended
            .iter()
            .any(|c| contract.fixed_term.contains(c))
        {
            return Err("a contract type is both open_ended and fixed_term".into());
        }
        match (
            self.hours.min_percent_of_last_contract,
            self.hours.min_percent_of_full_time,
        ) {
            (Some(share), None) | (None, Some(share)) if (1..=100).contains(&share) => {}
            (Some(_), None) | (None, Some(_)) => {
                return Err("hours: the threshold must be 1-100".into());
            }
            _ => {
                return Err(
                    "hours: set exactly one of min_percent_of_last_contract and \
                            min_percent_of_full_time"
                        .into(),
                );
            }
        }
        if let Some(pay) = &self.pay {
            if pay.employee_contribution_rate_bp >= 10_000 {
                return Err("pay.employee_contribution_rate_bp must be below 10000".into());
            }
            if pay.min_margin_percent > 1_000 {
                return Err("pay.min_margin_percent is implausibly large".into());
            }
        }
        if self.ccnl_minimum && self.citations.minimum_pay.is_none() {
            return Err("ccnl_minimum needs citations.minimum_pay".into());
        }
        if let Some((field, text)) = self.citations.unfinished() {
            return Err(format!(
                "citations.{field} {text:?} is not final: an operator reads it as the law, so \
                 cite only what the sources establish and keep doubts in the pack's notes"
            ));
        }
        if self.recipients.contains(&IncomeSupport::None) {
            return Err("recipients may not contain None: the general pack names none".into());
        }
        let unlimited = self
            .bands
            .iter()
            .any(|b| matches!(b.distance, DistanceRule::OpenEndedUnlimited { .. }));
        if unlimited && self.contract.open_ended.is_empty() {
            return Err("an open_ended_unlimited distance needs open_ended contract types".into());
        }
        Ok(())
    }
}

/// A TOML local date (no time) as a [`Day`].
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

/// Every rule pack, sorted by validity. On any day at most one general pack is in force, and
/// at most one pack for the recipients of any benefit.
#[derive(Debug, Clone)]
pub struct RulePacks {
    packs: Vec<RulePack>,
}

impl RulePacks {
    /// The packs compiled in from `config/congruity/*.toml`.
    pub fn embedded() -> Result<RulePacks, CongruityError> {
        Self::from_toml(&EMBEDDED_PACKS)
    }

    pub fn from_toml(texts: &[&str]) -> Result<RulePacks, CongruityError> {
        let mut packs = texts
            .iter()
            .enumerate()
            .map(|(index, text)| RulePack::parse(index, text))
            .collect::<Result<Vec<_>, _>>()?;
        packs.sort_by(|a, b| a.valid_from.cmp(&b.valid_from).then(a.id.cmp(&b.id)));
        for (i, first) in packs.iter().enumerate() {
            for second in &packs[i + 1..] {
                if first.id == second.id {
                    return Err(CongruityError::InvalidPack {
                        pack: first.id.clone(),
                        reason: "two packs share this id".into(),
                    });
                }
                // Two packs that could judge the same person on the same day would make
                // replays ambiguous.
                if first.same_people(second) && first.overlaps(second) {
                    return Err(CongruityError::Overlap {
                        first: first.id.clone(),
                        second: second.id.clone(),
                        day: format_day(second.valid_from.max(first.valid_from)),
                    });
                }
            }
        }
        Ok(RulePacks { packs })
    }

    /// The general pack in force on `day`, if any.
    pub fn in_force(&self, day: Day) -> Option<&RulePack> {
        self.packs
            .iter()
            .find(|pack| pack.recipients.is_empty() && pack.covers(day))
    }

    /// The pack that judges a recipient of `support` on `day`: the pack for that benefit when
    /// one is in force, otherwise the general one.
    pub fn for_recipient(&self, day: Day, support: IncomeSupport) -> Option<&RulePack> {
        self.packs
            .iter()
            .find(|pack| pack.recipients.contains(&support) && pack.covers(day))
            .or_else(|| self.in_force(day))
    }

    pub fn packs(&self) -> &[RulePack] {
        &self.packs
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

/// One offer to one person, with the facts the engine computed elsewhere.
#[derive(Debug, Clone, Copy)]
pub struct CongruityInput<'a> {
    pub candidate: &'a Candidate,
    pub vacancy: &'a Vacancy,
    /// Road-corrected distance from the domicile to the workplace, in km.
    pub distance_km: f64,
    /// Travel time by public transport, when known.
    pub travel_minutes: Option<f64>,
    /// Hours of the worker's last contract as a share of full time, from the comunicazioni
    /// obbligatorie; `None` when unknown.
    pub last_contract_hours_percent: Option<u32>,
    /// Registered under L. 68/1999 art. 1 (persons with disabilities). Health data: pass it only
    /// where the result stays with the services entitled to it.
    pub collocamento_mirato: bool,
    /// The worker's comunicazioni obbligatorie, from which the periods of suspension of the
    /// unemployment status are derived (packs with `exclude_suspensions`); `None` when the
    /// engine holds none for the person.
    pub employment: Option<&'a EmploymentRecord>,
    /// The day the offer is proposed.
    pub today: Day,
}

/// The criteria of the decree, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Criterion {
    Experience,
    Distance,
    Contract,
    Hours,
    Pay,
    /// Compatibility with the certified impairments (collocamento mirato only).
    Disability,
}

impl Criterion {
    /// Italian name shown to operators.
    pub fn label(self) -> &'static str {
        match self {
            Criterion::Experience => "Coerenza con esperienze e competenze",
            Criterion::Distance => "Distanza dal domicilio",
            Criterion::Contract => "Tipologia e durata del contratto",
            Criterion::Hours => "Orario di lavoro",
            Criterion::Pay => "Retribuzione",
            Criterion::Disability => "Collocamento mirato",
        }
    }
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    Satisfied,
    NotSatisfied,
    /// The criterion does not concern this person (pay, for someone without a benefit).
    NotApplicable,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Satisfied => "soddisfatto",
            Verdict::NotSatisfied => "non soddisfatto",
            Verdict::NotApplicable => "non applicabile",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriterionVerdict {
    pub criterion: Criterion,
    pub verdict: Verdict,
    /// Italian sentence with the figures compared and the rule's source.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Congruity {
    pub pack_id: String,
    /// The band's label ("fino a 6 mesi").
    pub band: String,
    /// Whole months of unemployment from the DID to the day of the offer, periods of
    /// suspension excluded when the pack excludes them.
    pub unemployment_months: u32,
    /// Days of suspension left out of the duration (0 when the pack excludes none).
    pub suspended_days: u32,
    /// No criterion is [`Verdict::NotSatisfied`].
    pub congrua: bool,
    pub criteria: Vec<CriterionVerdict>,
}

impl Congruity {
    pub fn verdict(&self, criterion: Criterion) -> Option<&CriterionVerdict> {
        self.criteria.iter().find(|c| c.criterion == criterion)
    }
}

/// Judges one offer against the rules of `pack` (normally `RulePacks::in_force(input.today)`).
pub fn evaluate(pack: &RulePack, input: &CongruityInput<'_>, seps: &SepTable) -> Congruity {
    evaluate_with(pack, input, seps, &CcnlTable::default(), None)
}

/// [`evaluate`] with the table of CCNL minimums the pack's `ccnl_minimum` check reads and the
/// income thresholds that tell a suspended unemployment status from a kept one (without them
/// every job counts as a suspension).
pub fn evaluate_with(
    pack: &RulePack,
    input: &CongruityInput<'_>,
    seps: &SepTable,
    ccnl: &CcnlTable,
    thresholds: Option<&Thresholds>,
) -> Congruity {
    let did = input.candidate.did_day;
    let suspended_days = if pack.exclude_suspensions {
        suspension_days(input.employment, did, input.today, thresholds)
    } else {
        0
    };
    // Leaving out the suspended days is counting up to a day as many days earlier: the
    // calendar-month bands then apply unchanged.
    let counted_until = input
        .today
        .saturating_sub(i32::try_from(suspended_days).unwrap_or(i32::MAX));
    let (months, band) = unemployment(pack, did, counted_until);
    let who = Who {
        months,
        band: &band.label,
        suspended_days,
    };
    let mut criteria = vec![
        experience(pack, band, &who, input, seps),
        distance(pack, band, &who, input),
        contract(pack, input.vacancy),
        hours(pack, input),
        pay_criterion(pack, input, ccnl),
    ];
    if input.collocamento_mirato {
        criteria.push(CriterionVerdict {
            criterion: Criterion::Disability,
            verdict: Verdict::NotSatisfied,
            reason: format!(
                "Persona iscritta al collocamento mirato: la compatibilità dell'offerta con la \
                 disabilità accertata va valutata dal servizio competente, il motore non può \
                 attestarla ({})",
                pack.citations.disability
            ),
        });
    }
    Congruity {
        pack_id: pack.id.clone(),
        band: band.label.clone(),
        unemployment_months: months,
        suspended_days,
        congrua: criteria.iter().all(|c| c.verdict != Verdict::NotSatisfied),
        criteria,
    }
}

/// The person's unemployment duration, for the reasons.
struct Who<'a> {
    months: u32,
    band: &'a str,
    suspended_days: u32,
}

impl fmt::Display for Who<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let months = match self.months {
            0 => "meno di un mese".to_string(),
            1 => "1 mese".to_string(),
            n => format!("{n} mesi"),
        };
        let suspended = match self.suspended_days {
            0 => String::new(),
            1 => ", escluso 1 giorno di sospensione".to_string(),
            n => format!(", esclusi {n} giorni di sospensione"),
        };
        write!(
            f,
            "per chi è disoccupato/a da {months}{suspended} (fascia «{}»)",
            self.band
        )
    }
}

/// Days between the DID and the day before `today` on which a contract the comunicazioni
/// obbligatorie describe was in force: the periods of suspension of the unemployment status
/// (DM art. 3 c.1 excludes them from the duration). Overlapping contracts count once.
///
/// Whether a job suspends the status or leaves it intact depends on the income it pays
/// (D.L. 4/2019 art. 4 c.15-quater; [`crate::unemployment`]). With `thresholds`, a traineeship
/// and a job whose stated pay is within the threshold keep the status, so the duration runs
/// through them; every other job (pay above the threshold, or not stated, or no thresholds
/// given) counts as a suspension. Counting a job as a suspension can only shorten the duration,
/// which keeps a person in a narrower band (shorter distances, closer coherence), never in a
/// wider one; a job that went on past the longest suspension ended the status instead (a new
/// DID then restarts the count), and counting it errs the same safe way.
pub fn suspension_days(
    record: Option<&EmploymentRecord>,
    did: Day,
    today: Day,
    thresholds: Option<&Thresholds>,
) -> u32 {
    let Some(record) = record else {
        return 0;
    };
    let keeps_status = |c: &crate::employment::Contract| {
        let Some(t) = thresholds else {
            return false;
        };
        c.contract_type == ContractType::Tirocinio
            || crate::unemployment::within_threshold(c, t) == Some(true)
    };
    // Each contract as the days [from, to] it was worked, within [did, today - 1].
    let mut spans: Vec<(Day, Day)> = record
        .contracts()
        .iter()
        .filter(|c| !keeps_status(c))
        .filter_map(|c| {
            let last_worked = [c.end_day, c.ceased.as_ref().map(|(day, _)| *day)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(Day::MAX);
            let from = c.start_day.max(did);
            let to = last_worked.min(today.saturating_sub(1));
            (from <= to).then_some((from, to))
        })
        .collect();
    spans.sort_unstable();
    let mut total: i64 = 0;
    let mut current: Option<(Day, Day)> = None;
    for (from, to) in spans {
        current = match current {
            Some((start, end)) if from <= end.saturating_add(1) => Some((start, end.max(to))),
            Some((start, end)) => {
                total += i64::from(end) - i64::from(start) + 1;
                Some((from, to))
            }
            None => Some((from, to)),
        };
    }
    if let Some((start, end)) = current {
        total += i64::from(end) - i64::from(start) + 1;
    }
    u32::try_from(total).unwrap_or(u32::MAX)
}

fn date_of(day: Day) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(UNIX_EPOCH_DAYS_FROM_CE.checked_add(day)?)
}

/// Completed months from the DID to `today` and the band they fall in. The bands count calendar
/// months ("da zero fino a sei mesi"): the day six months after the DID is still in the first.
/// A DID after the offer counts as zero months.
fn unemployment(pack: &RulePack, did: Day, today: Day) -> (u32, &Band) {
    let dates = date_of(did).zip(date_of(today));
    let months = dates.map_or(0, |(from, to)| completed_months(from, to));
    let band = pack
        .bands
        .iter()
        .find(|band| match (band.max_months, dates) {
            (None, _) => true,
            (Some(max), Some((from, to))) => from
                .checked_add_months(Months::new(max))
                .is_none_or(|end| to <= end),
            // Unrepresentable dates: fall back on the whole-month count.
            (Some(max), None) => months <= max,
        });
    // `validate` guarantees a last, open band, so `find` always succeeds; the fallback only
    // keeps the function total.
    let band = band.unwrap_or_else(|| &pack.bands[pack.bands.len() - 1]);
    (months, band)
}

fn completed_months(from: NaiveDate, to: NaiveDate) -> u32 {
    if to <= from {
        return 0;
    }
    let rough = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32;
    let mut months = u32::try_from(rough).unwrap_or(0);
    while months > 0
        && from
            .checked_add_months(Months::new(months))
            .is_none_or(|d| d > to)
    {
        months -= 1;
    }
    months
}

fn verdict(criterion: Criterion, satisfied: bool, reason: String) -> CriterionVerdict {
    CriterionVerdict {
        criterion,
        verdict: if satisfied {
            Verdict::Satisfied
        } else {
            Verdict::NotSatisfied
        },
        reason,
    }
}

/// A profession the person can claim, and where it comes from.
struct Reference<'a> {
    code: &'a str,
    source: &'static str,
}

fn references(candidate: &Candidate) -> Vec<Reference<'_>> {
    let patto = candidate
        .profile
        .desired_professions
        .iter()
        .map(|code| Reference {
            code,
            source: "patto di servizio",
        });
    let history = candidate.profile.experience.iter().map(|e| Reference {
        code: &e.profession_code,
        source: "esperienza",
    });
    patto
        .chain(history)
        .filter(|r| segments(r.code).is_some())
        .collect()
}

/// True when `code` starts with the first `level` segments of `area` (all of them if fewer): a
/// patto entry naming a whole group covers its professions, a vague vacancy code covers nothing.
fn within_area(code: &str, area: &str, level: usize) -> bool {
    match (segments(code), segments(area)) {
        (Some(code), Some(area)) => {
            let n = area.len().min(level);
            code.len() >= n && code[..n] == area[..n]
        }
        _ => false,
    }
}

/// True when both codes have at least `level` segments and agree on them.
fn same_branch(a: &str, b: &str, level: usize) -> bool {
    match (segments(a), segments(b)) {
        (Some(a), Some(b)) => a.len() >= level && b.len() >= level && a[..level] == b[..level],
        _ => false,
    }
}

fn experience(
    pack: &RulePack,
    band: &Band,
    who: &Who<'_>,
    input: &CongruityInput<'_>,
    seps: &SepTable,
) -> CriterionVerdict {
    let cite = &pack.citations.experience;
    let wanted = input.vacancy.spec.profession_code.as_str();
    let v = |ok, reason| verdict(Criterion::Experience, ok, reason);
    if segments(wanted).is_none() {
        return v(
            false,
            format!(
                "L'offerta non indica una professione CP2011: coerenza non verificabile ({cite})"
            ),
        );
    }
    match band.experience {
        ExperienceRule::PattoArea { cp2011_level } => {
            let patto: Vec<&str> = input
                .candidate
                .profile
                .desired_professions
                .iter()
                .map(String::as_str)
                .filter(|c| segments(c).is_some())
                .collect();
            if patto.is_empty() {
                return v(
                    false,
                    format!(
                        "Il patto di servizio non indica professioni o aree di attività: \
                         coerenza non verificabile {who} ({cite})"
                    ),
                );
            }
            match patto
                .iter()
                .find(|area| within_area(wanted, area, cp2011_level))
            {
                Some(area) => v(
                    true,
                    format!(
                        "Professione dell'offerta {wanted} nell'area {area} concordata nel patto \
                         di servizio, come richiesto {who} ({cite})"
                    ),
                ),
                None => v(
                    false,
                    format!(
                        "Professione dell'offerta {wanted} fuori dalle aree del patto di servizio \
                         ({}): {who} l'offerta deve corrispondere al patto ({cite})",
                        patto.join(", ")
                    ),
                ),
            }
        }
        ExperienceRule::SepContinuity { cp2011_level } => {
            sep_coherence(seps, input, who, cite, Some(cp2011_level))
        }
        ExperienceRule::Sep => sep_coherence(seps, input, who, cite, None),
        ExperienceRule::NotRequired => CriterionVerdict {
            criterion: Criterion::Experience,
            verdict: Verdict::NotApplicable,
            reason: format!(
                "Il regolamento applicato non pone un requisito di coerenza con esperienze e \
                 competenze ({cite})"
            ),
        },
    }
}

fn sep_coherence(
    seps: &SepTable,
    input: &CongruityInput<'_>,
    who: &Who<'_>,
    cite: &str,
    continuity_level: Option<usize>,
) -> CriterionVerdict {
    let wanted = input.vacancy.spec.profession_code.as_str();
    let v = |ok, reason| verdict(Criterion::Experience, ok, reason);
    let Some(sector) = seps.sep_of(wanted) else {
        return v(
            false,
            format!(
                "La professione dell'offerta {wanted} non ha un settore economico-professionale \
                 nella tabella: coerenza non verificabile ({cite})"
            ),
        );
    };
    let refs = references(input.candidate);
    if refs.is_empty() {
        return v(
            false,
            format!(
                "Nessuna professione nel patto di servizio né nelle esperienze: coerenza con il \
                 settore {sector} non verificabile ({cite})"
            ),
        );
    }
    let same_sector: Vec<&Reference<'_>> = refs
        .iter()
        .filter(|r| seps.sep_of(r.code) == Some(sector))
        .collect();
    let Some(first) = same_sector.first() else {
        let mut theirs: Vec<Sep> = refs.iter().filter_map(|r| seps.sep_of(r.code)).collect();
        theirs.sort();
        theirs.dedup();
        let theirs = if theirs.is_empty() {
            "nessun settore noto".to_string()
        } else {
            theirs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        return v(
            false,
            format!(
                "Settore dell'offerta {sector} ({wanted}) diverso da quelli di patto ed \
                 esperienze ({theirs}): {who} serve lo stesso settore ({cite})"
            ),
        );
    };
    match continuity_level {
        None => v(
            true,
            format!(
                "Stesso settore {sector} di {} ({}): {who} basta lo stesso settore \
                 economico-professionale ({cite})",
                first.code, first.source
            ),
        ),
        Some(level) => match same_sector
            .iter()
            .find(|r| same_branch(wanted, r.code, level))
        {
            Some(r) => v(
                true,
                format!(
                    "Stesso settore {sector} con continuità professionale rispetto a {} ({}), \
                     come richiesto {who} ({cite})",
                    r.code, r.source
                ),
            ),
            None => v(
                false,
                format!(
                    "Stesso settore {sector} di {} ({}) ma senza continuità professionale \
                     (grande gruppo CP2011 diverso da {wanted}): {who} non basta il settore \
                     ({cite})",
                    first.code, first.source
                ),
            ),
        },
    }
}

fn distance(
    pack: &RulePack,
    band: &Band,
    who: &Who<'_>,
    input: &CongruityInput<'_>,
) -> CriterionVerdict {
    let cite = &pack.citations.distance;
    let km = input.distance_km;
    let v = |ok, reason| verdict(Criterion::Distance, ok, reason);
    if !km.is_finite() || km < 0.0 {
        return v(
            false,
            format!("Distanza dal domicilio non calcolabile ({cite})"),
        );
    }
    let profile = &input.candidate.profile;
    // The limit, whether public transport can make up for it, and how to name it.
    let (max_km, max_minutes, source) = match band.distance {
        DistanceRule::Fixed {
            max_km,
            max_minutes,
            patto_narrows,
        } => match profile.patto_max_distance_km.filter(|_| patto_narrows) {
            // The patto's distance is the person's agreed limit: public transport does not
            // stretch it.
            Some(patto_km) if patto_km < max_km => (
                patto_km,
                None,
                " concordato nel patto di servizio".to_string(),
            ),
            _ => (max_km, Some(max_minutes), String::new()),
        },
        DistanceRule::Patto {
            fallback_km,
            fallback_minutes,
        } => match profile.max_distance_km {
            0 => (
                fallback_km,
                Some(fallback_minutes),
                " (il patto di servizio non indica un limite: si applica quello prudenziale)"
                    .to_string(),
            ),
            patto_km => (patto_km, None, " del patto di servizio".to_string()),
        },
        DistanceRule::OpenEndedUnlimited {
            max_km,
            max_minutes,
        } => {
            let kind = input.vacancy.spec.contract_type;
            if pack.contract.open_ended.contains(&kind) {
                match profile.children_under_14 {
                    Some(false) => {
                        return v(
                            true,
                            format!(
                                "{}: nessun limite di distanza nel territorio nazionale \
                                 (distanza {} km; nel nucleo non risultano figli minori di 14 \
                                 anni) ({cite})",
                                contract_phrase(kind),
                                format_number(km)
                            ),
                        )
                    }
                    Some(true) => (
                        max_km,
                        Some(max_minutes),
                        " (figli minori di 14 anni nel nucleo)".to_string(),
                    ),
                    None if km <= f64::from(max_km) => (max_km, Some(max_minutes), String::new()),
                    None => {
                        return v(
                            false,
                            format!(
                                "{}: senza limite di distanza solo se nel nucleo non ci sono \
                                 figli minori di 14 anni, dato non noto; a {} km oltre il \
                                 limite di {max_km} km che vale altrimenti ({cite})",
                                contract_phrase(kind),
                                format_number(km)
                            ),
                        )
                    }
                }
            } else {
                (max_km, Some(max_minutes), String::new())
            }
        }
    };
    let within_km = km <= f64::from(max_km);
    let within_minutes = match (max_minutes, input.travel_minutes) {
        (Some(max), Some(minutes)) if minutes.is_finite() && minutes >= 0.0 => {
            Some(minutes <= f64::from(max))
        }
        _ => None,
    };
    let km_text = format_number(km);
    if within_km {
        return v(
            true,
            format!("Distanza {km_text} km: entro il limite di {max_km} km{source} {who} ({cite})"),
        );
    }
    let minutes_text = input.travel_minutes.map(format_number);
    match (within_minutes, max_minutes, minutes_text) {
        (Some(true), Some(max), Some(minutes)) => v(
            true,
            format!(
                "Distanza {km_text} km, oltre il limite di {max_km} km{source}, ma raggiungibile \
                 in {minutes} minuti con i mezzi pubblici, entro il limite di {max} minuti {who} \
                 ({cite})"
            ),
        ),
        (Some(false), Some(max), Some(minutes)) => v(
            false,
            format!(
                "Distanza {km_text} km: oltre il limite di {max_km} km{source} e {minutes} minuti \
                 con i mezzi pubblici, oltre il limite di {max} minuti, {who} ({cite})"
            ),
        ),
        (_, Some(max), _) => v(
            false,
            format!(
                "Distanza {km_text} km: oltre il limite di {max_km} km{source} {who}; tempo con \
                 i mezzi pubblici non noto, non si può verificare il limite di {max} minuti \
                 ({cite})"
            ),
        ),
        (_, None, _) => v(
            false,
            format!("Distanza {km_text} km: oltre il limite di {max_km} km{source} {who} ({cite})"),
        ),
    }
}

/// "Contratto a tempo determinato", "Contratto di somministrazione"...
fn contract_phrase(contract: ContractType) -> &'static str {
    match contract {
        ContractType::Unspecified => "Contratto di tipo non indicato",
        ContractType::Indeterminato => "Contratto a tempo indeterminato",
        ContractType::Determinato => "Contratto a tempo determinato",
        ContractType::Somministrazione => "Contratto di somministrazione",
        ContractType::Apprendistato => "Contratto di apprendistato",
        ContractType::Tirocinio => "Tirocinio",
        ContractType::Intermittente => "Contratto di lavoro intermittente",
        ContractType::Stagionale => "Contratto di lavoro stagionale",
    }
}

fn contract(pack: &RulePack, vacancy: &Vacancy) -> CriterionVerdict {
    let rules = &pack.contract;
    let cite = &pack.citations.contract;
    let kind = vacancy.spec.contract_type;
    let months = vacancy.spec.contract_months;
    let min = rules.min_months;
    let phrase = contract_phrase(kind);
    let v = |ok, reason| verdict(Criterion::Contract, ok, reason);
    if rules.open_ended.contains(&kind) {
        return v(true, format!("{phrase}: tipologia congrua ({cite})"));
    }
    if rules.fixed_term.contains(&kind) {
        return match months {
            0 => v(
                false,
                format!(
                    "{phrase} senza durata indicata: non si può verificare la durata minima di \
                     {min} mesi ({cite})"
                ),
            ),
            m if m < min => v(
                false,
                format!(
                    "{phrase} di {}: sotto la durata minima di {min} mesi ({cite})",
                    months_text(m)
                ),
            ),
            m => v(
                true,
                format!("{phrase} di {}: almeno {min} mesi ({cite})", months_text(m)),
            ),
        };
    }
    v(
        false,
        format!(
            "{phrase}: tipologia non prevista tra quelle congrue (tempo indeterminato, oppure \
             tempo determinato o somministrazione di almeno {min} mesi) ({cite})"
        ),
    )
}

fn months_text(months: u32) -> String {
    match months {
        1 => "1 mese".into(),
        n => format!("{n} mesi"),
    }
}

fn hours(pack: &RulePack, input: &CongruityInput<'_>) -> CriterionVerdict {
    let cite = &pack.citations.hours;
    let offered = input.vacancy.spec.hours_percent;
    let v = |ok, reason| verdict(Criterion::Hours, ok, reason);
    if offered >= 100 {
        return v(true, format!("Offerta a tempo pieno ({cite})"));
    }
    if offered == 0 {
        return v(
            false,
            format!("Orario non indicato nell'offerta: non si può verificare ({cite})"),
        );
    }
    // `validate` guarantees exactly one threshold.
    let min_share = match (
        pack.hours.min_percent_of_last_contract,
        pack.hours.min_percent_of_full_time,
    ) {
        (Some(share), _) => share,
        (None, Some(share)) => {
            let ok = offered >= share;
            let relation = if ok { "non inferiore" } else { "inferiore" };
            return v(
                ok,
                format!(
                    "Part-time {}{offered}%: {relation} {}{share}% dell'orario a tempo pieno \
                     ({cite})",
                    with_article("a", &offered.to_string()),
                    with_article("a", &share.to_string()),
                ),
            );
        }
        (None, None) => {
            return v(
                false,
                format!("Soglia di orario non definita dal regolamento ({cite})"),
            )
        }
    };
    match input.last_contract_hours_percent.filter(|&last| last > 0) {
        None => v(
            false,
            format!(
                "Part-time {}{offered}%: orario dell'ultimo contratto non noto, non si può \
                 verificare la soglia {}{min_share}% del suo orario ({cite})",
                with_article("a", &offered.to_string()),
                with_article("di", &min_share.to_string()),
            ),
        ),
        Some(last) => {
            // Integer comparison keeps the threshold exact (80% of 50% is 40%, not 39.99...).
            let ok = u64::from(offered) * 100 >= u64::from(min_share) * u64::from(last);
            let threshold = format_number(f64::from(min_share) * f64::from(last) / 100.0);
            let relation = if ok { "non inferiore" } else { "inferiore" };
            v(
                ok,
                format!(
                    "Part-time {}{offered}%: {relation} {}{min_share}% dell'orario dell'ultimo \
                     contratto ({last}%, soglia {threshold}%) ({cite})",
                    with_article("a", &offered.to_string()),
                    with_article("a", &min_share.to_string()),
                ),
            )
        }
    }
}

/// The Italian preposition `a` or `di` fused with the article a percentage takes: "al 60%",
/// "all'80%", "del 20%", "dell'8%". The article follows the number as spoken.
fn with_article(preposition: &str, number: &str) -> String {
    let integer = number.split(',').next().unwrap_or(number);
    let vowel = integer.starts_with('8') || integer == "1" || integer == "11";
    match (preposition, vowel) {
        ("a", true) => "all'".into(),
        ("a", false) => "al ".into(),
        ("di", true) => "dell'".into(),
        ("di", false) => "del ".into(),
        (_, true) => "l'".into(),
        (_, false) => "il ".into(),
    }
}

fn support_name(support: IncomeSupport) -> &'static str {
    match support {
        IncomeSupport::None => "nessuno",
        IncomeSupport::Naspi => "NASpI",
        IncomeSupport::DisColl => "DIS-COLL",
        IncomeSupport::Adi => "Assegno di inclusione (ADI)",
        IncomeSupport::Sfl => "Supporto per la formazione e il lavoro (SFL)",
    }
}

/// The pay criterion: the CCNL minimum, when the pack checks it, and the comparison with the
/// benefit; satisfied only when neither part fails.
fn pay_criterion(
    pack: &RulePack,
    input: &CongruityInput<'_>,
    ccnl: &CcnlTable,
) -> CriterionVerdict {
    let benefit = pay(pack, input);
    if !pack.ccnl_minimum {
        return benefit;
    }
    let minimum = minimum_pay(pack, input, ccnl);
    let verdict = match (minimum.verdict, benefit.verdict) {
        (Verdict::NotSatisfied, _) | (_, Verdict::NotSatisfied) => Verdict::NotSatisfied,
        (Verdict::NotApplicable, Verdict::NotApplicable) => Verdict::NotApplicable,
        _ => Verdict::Satisfied,
    };
    CriterionVerdict {
        criterion: Criterion::Pay,
        verdict,
        reason: format!("{}; {}", minimum.reason, benefit.reason),
    }
}

/// Pay against the minimum of the offer's CCNL and level on the day judged, pro rata of the
/// hours for a part-time offer. Unknown CCNL, level, minimum or pay: not assessable, and so not
/// satisfied.
fn minimum_pay(pack: &RulePack, input: &CongruityInput<'_>, ccnl: &CcnlTable) -> CriterionVerdict {
    let cite = pack
        .citations
        .minimum_pay
        .as_deref()
        .unwrap_or(&pack.citations.pay);
    let spec = &input.vacancy.spec;
    let v = |ok, reason| verdict(Criterion::Pay, ok, reason);
    if spec.ccnl.is_empty() || spec.ccnl_level.is_empty() {
        return v(
            false,
            format!(
                "L'offerta non indica CCNL e livello: il rispetto dei minimi salariali non è \
                 valutabile ({cite})"
            ),
        );
    }
    let name = format!("CCNL {} livello {}", spec.ccnl, spec.ccnl_level);
    let Some(row) = ccnl.minimum(&spec.ccnl, &spec.ccnl_level, input.today) else {
        return v(
            false,
            format!(
                "Minimo del {name} in vigore il {} non presente nella tabella dei minimi: non \
                 valutabile ({cite})",
                format_day(input.today)
            ),
        );
    };
    if spec.gross_monthly_pay_eur == 0 {
        return v(
            false,
            format!(
                "Retribuzione dell'offerta non indicata: non si può verificare il minimo del \
                 {name} ({cite})"
            ),
        );
    }
    let hours = spec.hours_percent.min(100);
    if hours == 0 {
        return v(
            false,
            format!(
                "Orario dell'offerta non indicato: non si può riproporzionare il minimo del \
                 {name} ({cite})"
            ),
        );
    }
    // Cents, the minimum rounded up: an offer is never called congrua on a rounding in its favour.
    let threshold = (row.monthly_minimum_cents * u64::from(hours)).div_ceil(100);
    let offered = u64::from(spec.gross_monthly_pay_eur) * 100;
    let ok = offered >= threshold;
    let relation = if ok { "non inferiore" } else { "inferiore" };
    let share = if hours < 100 {
        format!(", riproporzionato al {hours}% dell'orario")
    } else {
        String::new()
    };
    v(
        ok,
        format!(
            "Retribuzione {} lordi al mese: {relation} al minimo del {name} ({}{share}; fonte: \
             {}) ({cite})",
            format_euro(offered),
            format_euro(threshold),
            row.source
        ),
    )
}

fn pay(pack: &RulePack, input: &CongruityInput<'_>) -> CriterionVerdict {
    let cite = &pack.citations.pay;
    let Some(rules) = &pack.pay else {
        return CriterionVerdict {
            criterion: Criterion::Pay,
            verdict: Verdict::NotApplicable,
            reason: format!(
                "Il regolamento applicato non prevede il confronto della retribuzione con \
                 l'importo del beneficio ({cite})"
            ),
        };
    };
    let profile = &input.candidate.profile;
    let support = profile.income_support;
    let name = support_name(support);
    if support == IncomeSupport::None {
        return CriterionVerdict {
            criterion: Criterion::Pay,
            verdict: Verdict::NotApplicable,
            reason: format!(
                "Non percepisce un sostegno al reddito: il confronto con l'indennità non si \
                 applica ({cite})"
            ),
        };
    }
    if !rules.applies_to.contains(&support) {
        return CriterionVerdict {
            criterion: Criterion::Pay,
            verdict: Verdict::NotApplicable,
            reason: format!(
                "Percepisce {name}: il confronto con l'indennità di questo regolamento non si \
                 applica; le regole proprie del beneficio non sono codificate qui ({})",
                pack.id
            ),
        };
    }
    let margin = rules.min_margin_percent;
    let v = |ok, reason| verdict(Criterion::Pay, ok, reason);
    let benefit = profile.monthly_benefit_eur;
    let gross = input.vacancy.spec.gross_monthly_pay_eur;
    if benefit == 0 {
        return v(
            false,
            format!(
                "Importo mensile della {name} non noto: non si può verificare che la retribuzione \
                 lo superi {}{margin}% ({cite})",
                with_article("di", &margin.to_string())
            ),
        );
    }
    if gross == 0 {
        return v(
            false,
            format!(
                "Retribuzione dell'offerta non indicata: non si può verificare che superi \
                 {}{margin}% la {name} di {} ({cite})",
                with_article("di", &margin.to_string()),
                format_euro(u64::from(benefit) * 100)
            ),
        );
    }
    // Cents throughout: the threshold is exact and the deduction rounds down, so an offer is
    // never called congrua on a rounding in its favour.
    let rate = u64::from(rules.employee_contribution_rate_bp);
    let net_cents = u64::from(gross) * 100 * (10_000 - rate) / 10_000;
    let threshold_cents = u64::from(benefit) * (100 + u64::from(margin));
    let ok = net_cents >= threshold_cents;
    let relation = if ok { "supera" } else { "non supera" };
    v(
        ok,
        format!(
            "Retribuzione {} lordi al mese, circa {} al netto dei contributi a carico del \
             lavoratore ({}%): {relation} di almeno {}{margin}% la {name} di {} (soglia {}) \
             ({cite})",
            format_euro(u64::from(gross) * 100),
            format_euro(net_cents),
            format_number(rate as f64 / 100.0),
            with_article("", &margin.to_string()),
            format_euro(u64::from(benefit) * 100),
            format_euro(threshold_cents),
        ),
    )
}

/// Italian decimal notation with at most two decimals: 62 → "62", 62.5 → "62,5", 9.19 → "9,19".
fn format_number(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.replace('.', ",")
}

/// Euros the Italian way: 127134 cents → "1.271,34 €".
fn format_euro(cents: u64) -> String {
    let euros = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in euros.chars().enumerate() {
        if i > 0 && (euros.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    format!("{grouped},{:02} €", cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn italian_numbers() {
        assert_eq!(format_number(62.0), "62");
        assert_eq!(format_number(62.5), "62,5");
        assert_eq!(format_number(9.19), "9,19");
        assert_eq!(format_euro(127_134), "1.271,34 €");
        assert_eq!(format_euro(120_000), "1.200,00 €");
        assert_eq!(format_euro(99), "0,99 €");
        assert_eq!(format_euro(123_456_789), "1.234.567,89 €");
    }

    #[test]
    fn months_are_calendar_months() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(completed_months(d(2024, 1, 15), d(2024, 7, 14)), 5);
        assert_eq!(completed_months(d(2024, 1, 15), d(2024, 7, 15)), 6);
        assert_eq!(completed_months(d(2024, 1, 31), d(2024, 2, 29)), 1);
        assert_eq!(completed_months(d(2024, 3, 1), d(2024, 2, 1)), 0);
        assert_eq!(date_of(0), Some(d(1970, 1, 1)));
    }

    #[test]
    fn areas_and_branches() {
        assert!(within_area("5.2.2.3.2", "5.2.2.1.0", 3));
        assert!(within_area("5.2.2.3.2", "5.2", 3));
        assert!(!within_area("5.2", "5.2.2.1.0", 3));
        assert!(!within_area("5.1.2.2.0", "5.2.2.1.0", 3));
        assert!(same_branch("5.2.2.4.0", "5.2.2.1.0", 1));
        assert!(!same_branch("1.3.1.5.0", "5.2.2.1.0", 1));
        assert!(segments("5..2").is_none());
        assert!(segments("").is_none());
    }
}

/// The rule packs and the SEP table together: what the engine needs to
/// judge any pair on any day.
#[derive(Debug, Clone)]
pub struct CongruityRules {
    pub packs: RulePacks,
    pub seps: SepTable,
    pub ccnl: CcnlTable,
    /// The income thresholds of the unemployment status, for the suspensions of the duration.
    pub thresholds: Thresholds,
}

impl CongruityRules {
    /// The packs and SEP table compiled into the binary.
    pub fn embedded() -> Result<CongruityRules, CongruityError> {
        Ok(CongruityRules {
            packs: RulePacks::embedded()?,
            seps: SepTable::embedded()?,
            ccnl: CcnlTable::embedded()?,
            thresholds: Thresholds::embedded()?,
        })
    }

    /// The verdict under the pack in force on `input.today` for the person's benefit on that
    /// day (the ADI/SFL pack for their recipients, the general one otherwise), or `None` on a
    /// day no pack covers (before the decree).
    pub fn assess(&self, input: &CongruityInput<'_>) -> Option<Congruity> {
        let support = input.candidate.profile.income_support;
        let pack = self.packs.for_recipient(input.today, support)?;
        Some(evaluate_with(
            pack,
            input,
            &self.seps,
            &self.ccnl,
            Some(&self.thresholds),
        ))
    }
}
