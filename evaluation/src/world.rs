//! The world the evaluation measures on: a generated Piemonte population
//! (`incontra_datagen`) ingested, as encoded envelopes, into a real
//! [`Projection`] in a temporary data directory, exactly as a node would
//! hold it. Lists are then asked of its [`ReadSide`] the way the gRPC
//! server asks them, so the harness measures the engine as deployed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use incontra_datagen::{Generator, GeneratorConfig};
use incontra_engine::codice_fiscale::Pseudonymiser;
use incontra_engine::config::ScoringConfig;
use incontra_engine::model::Day;
use incontra_engine::reference::ReferenceData;
use incontra_indexer::projection::{IngestResult, Projection, ProjectionOptions, ReadSide};
use prost::Message;

use crate::EvalError;

/// Envelopes per `ingest` call (one journal fsync each).
const BATCH: usize = 5_000;

/// Key of the pseudonymiser; the evaluation never re-identifies anyone, so a
/// fixed key is enough.
const PSEUDONYM_KEY: [u8; 32] = [0x5e; 32];

/// What ingesting the generated streams did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    pub events: u64,
    pub applied: u64,
    /// Duplicates, stale versions and meaningless events (the generator
    /// sends some on purpose, e.g. cancelled CO).
    pub ignored: u64,
    /// Refused by validation; the generator should produce none.
    pub rejected: u64,
}

/// A projection filled with one generated world. The data directory is
/// deleted when the world is dropped.
pub struct World {
    // Declared before the directory so it is dropped (and its lock
    // released) before the directory is removed.
    projection: Projection,
    _dir: tempfile::TempDir,
    read: Arc<ReadSide>,
    today: Day,
    ingest: IngestSummary,
    elapsed: Duration,
}

impl World {
    /// Generates the world of `config` and folds it into a fresh projection
    /// with the embedded reference data and scoring configuration.
    pub fn build(config: &GeneratorConfig) -> Result<World, EvalError> {
        let started = Instant::now();
        let reference = Arc::new(ReferenceData::embedded()?);
        let scoring = ScoringConfig::embedded_default()?;
        let dir = tempfile::Builder::new()
            .prefix("incontra-eval-")
            .tempdir()?;
        let (mut projection, _) = Projection::open(
            dir.path(),
            reference.clone(),
            scoring,
            Pseudonymiser::new(&PSEUDONYM_KEY),
            ProjectionOptions::default(),
        )?;
        let generator = Generator::new(&reference, config.clone());
        let mut ingest = IngestSummary::default();
        let mut batch: Vec<Vec<u8>> = Vec::with_capacity(BATCH);
        for envelope in generator.events() {
            batch.push(envelope.encode_to_vec());
            if batch.len() == BATCH {
                ingest_batch(&mut projection, &batch, &mut ingest)?;
                batch.clear();
            }
        }
        ingest_batch(&mut projection, &batch, &mut ingest)?;
        projection.commit_index()?;
        let read = projection.read_side();
        Ok(World {
            projection,
            _dir: dir,
            read,
            today: config.today,
            ingest,
            elapsed: started.elapsed(),
        })
    }

    /// The read side lists are computed from.
    pub fn read(&self) -> &ReadSide {
        &self.read
    }

    /// The world's "today": the day lists and the market are judged on.
    pub fn today(&self) -> Day {
        self.today
    }

    pub fn ingest_summary(&self) -> &IngestSummary {
        &self.ingest
    }

    /// Time taken to generate and ingest the world.
    pub fn build_time(&self) -> Duration {
        self.elapsed
    }

    /// The journal position reached (events folded).
    pub fn journal_position(&self) -> u64 {
        self.projection.journal_position()
    }
}

fn ingest_batch(
    projection: &mut Projection,
    batch: &[Vec<u8>],
    summary: &mut IngestSummary,
) -> Result<(), EvalError> {
    if batch.is_empty() {
        return Ok(());
    }
    for result in projection.ingest(batch)? {
        summary.events += 1;
        match result {
            IngestResult::Applied { .. } => summary.applied += 1,
            IngestResult::Ignored { .. } => summary.ignored += 1,
            IngestResult::Rejected { .. } => summary.rejected += 1,
        }
    }
    Ok(())
}
