//! Deterministic synthetic labour market of Piemonte, as the three event streams of
//! `incontra.events.v1` would carry it: vacancies (SILP/BLP), candidacies (SILP/BLP) and the
//! comunicazioni obbligatorie of the candidates' work history (GECO/COMMAX).
//!
//! This module owns the configuration, the precomputed geography (who lives and who hires
//! where) and the streaming order of events. Entities are generated independently from
//! `(seed, stream, index)`, so the output never depends on iteration order, and events are
//! produced in bounded chunks (each sorted by time) so memory stays flat at any size.
//!
//! The figures the population follows (GOL profile, CPI catchments) are in
//! `/work/shared/domain/BRIEF.md` and `data/reference/`.

mod burst;
mod candidate;
mod catalogue;
mod names;
mod rng;
pub mod scale;
mod text;
mod vacancy;

use incontra_engine::reference::ReferenceData;
use incontra_proto::events::v1::Envelope;

use crate::rng::Cumulative;

pub use burst::{first_hire, hire_burst};
pub use catalogue::{Profession, Sector, PROFESSIONS};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    pub seed: u64,
    pub candidates: u64,
    pub vacancies: u64,
    /// CO notices (hire/proroga/trasformazione/cessazione chains) per candidate on average
    pub co_per_candidate: f64,
    /// the "today" of the generated world (days since epoch)
    pub today: i32,
}

/// 2026-11-23, the demo's "today", as days since the epoch (checked by a test against
/// `day_from_ymd`; a constant keeps `demo()` infallible).
const DEMO_TODAY: i32 = 20_780;

impl GeneratorConfig {
    /// The population of `incontra demo`.
    pub fn demo() -> Self {
        GeneratorConfig {
            seed: 2026,
            candidates: 20_000,
            vacancies: 2_000,
            co_per_candidate: 1.5,
            today: DEMO_TODAY,
        }
    }

    /// A tenth of the demo, for tests.
    pub fn small() -> Self {
        GeneratorConfig {
            candidates: 2_000,
            vacancies: 200,
            ..Self::demo()
        }
    }

    /// The same world with `candidates` people and a tenth as many
    /// vacancies (at least one), the demo's proportion.
    pub fn with_candidates(self, candidates: u64) -> Self {
        GeneratorConfig {
            candidates,
            vacancies: (candidates / 10).max(1),
            ..self
        }
    }
}

/// A comune as the generator needs it.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub istat_code: String,
    pub name: String,
    pub province: String,
    pub cpi: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct CpiInfo {
    pub code: String,
    pub name: String,
    /// Comuni of the catchment and their residents as weights.
    pub comuni: Vec<usize>,
    pub comuni_weights: Cumulative,
}

/// Geography derived once from the reference data.
#[derive(Debug, Clone)]
pub(crate) struct Geo {
    pub places: Vec<Place>,
    pub cpis: Vec<CpiInfo>,
    /// Job seekers by CPI: working-age population of the catchment.
    pub supply: Cumulative,
    /// Vacancies by comune: superlinear in population, because jobs concentrate in towns.
    pub demand: Cumulative,
}

impl Geo {
    fn new(reference: &ReferenceData) -> Geo {
        // Comuni without a population figure still exist; a small-village proxy keeps
        // them reachable without letting them weigh like towns.
        const POPULATION_PROXY: u64 = 300;
        let mut cpis: Vec<CpiInfo> = reference
            .cpis()
            .iter()
            .map(|c| CpiInfo {
                code: c.code.clone(),
                name: c.name.clone(),
                comuni: Vec::new(),
                comuni_weights: Cumulative::default(),
            })
            .collect();
        let mut places = Vec::with_capacity(reference.comuni().len());
        let mut populations = Vec::with_capacity(reference.comuni().len());
        for c in reference.comuni() {
            let Some(cpi) = cpis.iter().position(|x| x.code == c.cpi_code) else {
                continue;
            };
            cpis[cpi].comuni.push(places.len());
            populations.push(if c.population == 0 {
                POPULATION_PROXY
            } else {
                u64::from(c.population)
            });
            places.push(Place {
                istat_code: c.istat_code.clone(),
                name: c.name.clone(),
                province: c.province.clone(),
                cpi,
            });
        }
        for cpi in &mut cpis {
            cpi.comuni_weights = Cumulative::new(cpi.comuni.iter().map(|&i| populations[i]));
        }
        let supply = Cumulative::new(reference.cpis().iter().enumerate().map(|(i, c)| {
            if cpis[i].comuni.is_empty() {
                0
            } else {
                u64::from(c.working_age_population)
            }
        }));
        let demand = Cumulative::new(populations.iter().map(|&p| p + p * p / 1_000_000));
        Geo {
            places,
            cpis,
            supply,
            demand,
        }
    }
}

/// The generator: configuration plus derived tables. Cheap to share by reference.
#[derive(Debug, Clone)]
pub struct Generator {
    config: GeneratorConfig,
    geo: Geo,
    /// Calendar year of `today`, for ages and codes.
    today_year: i32,
}

/// Entities per chunk; a chunk's events are sorted by time before they are yielded.
const CHUNK_CANDIDATES: u64 = 2_048;
const CHUNK_VACANCIES: u64 = 512;

impl Generator {
    pub fn new(reference: &ReferenceData, config: GeneratorConfig) -> Generator {
        let today_year = text::civil_from_days(config.today).0;
        Generator {
            geo: Geo::new(reference),
            config,
            today_year,
        }
    }

    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// All events in a plausible order, streamed chunk by chunk.
    pub fn events(&self) -> impl Iterator<Item = Envelope> + '_ {
        let c = self.config.candidates.div_ceil(CHUNK_CANDIDATES);
        let v = self.config.vacancies.div_ceil(CHUNK_VACANCIES);
        Events {
            generator: self,
            chunk: 0,
            chunks: c.max(v).max(1),
            buffer: Vec::new().into_iter(),
        }
    }

    /// Id of the i-th vacancy ("V" and 8 digits).
    pub fn vacancy_id(&self, i: u64) -> String {
        format!("V{:08}", i + 1)
    }

    /// SAP id of the i-th candidate ("SAP" and 9 digits).
    pub fn candidate_id(&self, i: u64) -> String {
        format!("SAP{:09}", i + 1)
    }

    /// Events of chunk `k` of `chunks`, sorted by time (stable, so each entity's own order,
    /// already chronological, survives).
    fn chunk(&self, k: u64, chunks: u64) -> Vec<Envelope> {
        let range = |total: u64| {
            let lo = (u128::from(total) * u128::from(k) / u128::from(chunks)) as u64;
            let hi = (u128::from(total) * u128::from(k + 1) / u128::from(chunks)) as u64;
            lo..hi
        };
        let mut out = Vec::new();
        for j in range(self.config.vacancies) {
            vacancy::events(self, j, &mut out);
        }
        for i in range(self.config.candidates) {
            candidate::events(self, i, &mut out);
        }
        out.sort_by_key(|e| e.occurred_at_ms);
        out
    }
}

struct Events<'g> {
    generator: &'g Generator,
    chunk: u64,
    chunks: u64,
    buffer: std::vec::IntoIter<Envelope>,
}

impl Iterator for Events<'_> {
    type Item = Envelope;

    fn next(&mut self) -> Option<Envelope> {
        loop {
            if let Some(e) = self.buffer.next() {
                return Some(e);
            }
            if self.chunk >= self.chunks {
                return None;
            }
            self.buffer = self.generator.chunk(self.chunk, self.chunks).into_iter();
            self.chunk += 1;
        }
    }
}

/// Appends one entity's events with consecutive versions and strictly increasing times.
pub(crate) struct Emitter<'o> {
    out: &'o mut Vec<Envelope>,
    event_prefix: String,
    entity_id: String,
    version: u64,
    last_ms: i64,
}

impl<'o> Emitter<'o> {
    pub fn new(out: &'o mut Vec<Envelope>, event_prefix: String, entity_id: String) -> Self {
        Emitter {
            out,
            event_prefix,
            entity_id,
            version: 0,
            last_ms: i64::MIN,
        }
    }

    pub fn emit(
        &mut self,
        ms: i64,
        source: &str,
        payload: incontra_proto::events::v1::envelope::Payload,
    ) {
        self.version += 1;
        let ms = ms.max(self.last_ms.saturating_add(1));
        self.last_ms = ms;
        self.out.push(Envelope {
            event_id: format!("{}-{}", self.event_prefix, self.version),
            entity_id: self.entity_id.clone(),
            entity_version: self.version,
            occurred_at_ms: ms,
            source: source.to_owned(),
            schema_version: 1,
            payload: Some(payload),
        });
    }
}

#[cfg(test)]
mod tests;
