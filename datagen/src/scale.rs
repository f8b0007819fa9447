//! Benchmark-scale worlds on disk: a generated population of any size (at full scale
//! 1 M candidates, 200 k vacancies and about 10 M CO) written as one file of
//! length-delimited `Envelope`s, streamed chunk by chunk so memory stays flat, with a
//! manifest of what it holds, and a reader that streams it back.
//!
//! The CO volume comes from each candidate's work history (`co_per_candidate`), so
//! every notice names a generated worker by a valid codice fiscale.

use std::fs::File;
use std::io::{self, BufRead as _, BufReader, BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};

use incontra_engine::reference::ReferenceData;
use incontra_proto::events::v1::{envelope::Payload, Envelope};
use prost::Message as _;

use crate::{Generator, GeneratorConfig};

/// Name of the event file inside a scale-data directory.
pub const EVENTS_FILE: &str = "events.bin";
/// Name of the manifest beside it.
pub const MANIFEST_FILE: &str = "manifest.txt";

/// The notices a candidate's generated history yields per unit of
/// `co_per_candidate` is below one, because young people's histories stop at
/// their seventeenth birthday; measured at 20 k candidates (see the test).
const CO_YIELD: f64 = 0.86;

/// How big a world to write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaleConfig {
    pub seed: u64,
    pub candidates: u64,
    pub vacancies: u64,
    /// CO notices wanted in total (approximately: they come from the
    /// candidates' histories).
    pub co_events: u64,
}

impl ScaleConfig {
    /// The national scale: 1 M candidates, 200 k open vacancies
    /// (of 350 k generated: the rest are filled, withdrawn or expired on
    /// the world's today), 10 M CO.
    pub fn full() -> Self {
        ScaleConfig {
            seed: GeneratorConfig::demo().seed,
            candidates: 1_000_000,
            vacancies: 350_000,
            co_events: 10_000_000,
        }
    }

    /// The same proportions with `candidates` people.
    pub fn scaled(candidates: u64) -> Self {
        let full = Self::full();
        ScaleConfig {
            candidates,
            vacancies: (candidates * 7 / 20).max(1),
            co_events: candidates * 10,
            ..full
        }
    }

    pub fn generator_config(&self) -> GeneratorConfig {
        let per_candidate = if self.candidates == 0 {
            0.0
        } else {
            self.co_events as f64 / self.candidates as f64 / CO_YIELD
        };
        GeneratorConfig {
            seed: self.seed,
            candidates: self.candidates,
            vacancies: self.vacancies,
            co_per_candidate: per_candidate,
            ..GeneratorConfig::demo()
        }
    }
}

/// What a written world holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    pub seed: u64,
    pub candidates: u64,
    pub vacancies: u64,
    pub co_target: u64,
    /// Events by stream, as written.
    pub vacancy_events: u64,
    pub candidacy_events: u64,
    pub co_events: u64,
    pub bytes: u64,
    /// The generated world's "today" (days since the epoch).
    pub today: i32,
}

impl Manifest {
    pub fn events(&self) -> u64 {
        self.vacancy_events + self.candidacy_events + self.co_events
    }

    fn to_text(&self) -> String {
        format!(
            "seed={}\ncandidates={}\nvacancies={}\nco_target={}\nvacancy_events={}\ncandidacy_events={}\nco_events={}\nbytes={}\ntoday={}\n",
            self.seed,
            self.candidates,
            self.vacancies,
            self.co_target,
            self.vacancy_events,
            self.candidacy_events,
            self.co_events,
            self.bytes,
            self.today
        )
    }

    fn parse(text: &str) -> io::Result<Manifest> {
        let mut m = Manifest::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| invalid(format!("manifest line {line:?}")))?;
            let n = |v: &str| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|e| invalid(format!("manifest {key}: {e}")))
            };
            match key.trim() {
                "seed" => m.seed = n(value)?,
                "candidates" => m.candidates = n(value)?,
                "vacancies" => m.vacancies = n(value)?,
                "co_target" => m.co_target = n(value)?,
                "vacancy_events" => m.vacancy_events = n(value)?,
                "candidacy_events" => m.candidacy_events = n(value)?,
                "co_events" => m.co_events = n(value)?,
                "bytes" => m.bytes = n(value)?,
                "today" => {
                    m.today = value
                        .trim()
                        .parse()
                        .map_err(|e| invalid(format!("manifest today: {e}")))?
                }
                _ => {}
            }
        }
        Ok(m)
    }

    /// Whether this manifest describes the world `config` would write.
    pub fn matches(&self, config: &ScaleConfig) -> bool {
        self.seed == config.seed
            && self.candidates == config.candidates
            && self.vacancies == config.vacancies
            && self.co_target == config.co_events
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Writes the world of `config` into `dir` (created if needed): the events
/// first, the manifest last, so a directory with a manifest holds a whole
/// file.
pub fn write(reference: &ReferenceData, config: &ScaleConfig, dir: &Path) -> io::Result<Manifest> {
    std::fs::create_dir_all(dir)?;
    let _ = std::fs::remove_file(dir.join(MANIFEST_FILE));
    let generator = Generator::new(reference, config.generator_config());
    let mut out = BufWriter::with_capacity(1 << 20, File::create(dir.join(EVENTS_FILE))?);
    let mut manifest = Manifest {
        seed: config.seed,
        candidates: config.candidates,
        vacancies: config.vacancies,
        co_target: config.co_events,
        today: generator.config().today,
        ..Manifest::default()
    };
    let mut buffer = Vec::with_capacity(4096);
    for envelope in generator.events() {
        match &envelope.payload {
            Some(Payload::Vacancy(_)) => manifest.vacancy_events += 1,
            Some(Payload::Candidacy(_)) => manifest.candidacy_events += 1,
            Some(Payload::Co(_)) => manifest.co_events += 1,
            Some(Payload::ListIssued(_)) | Some(Payload::Erasure(_)) | None => {}
        }
        buffer.clear();
        envelope
            .encode_length_delimited(&mut buffer)
            .map_err(|e| invalid(e.to_string()))?;
        out.write_all(&buffer)?;
        manifest.bytes += buffer.len() as u64;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::write(dir.join(MANIFEST_FILE), manifest.to_text())?;
    Ok(manifest)
}

/// The manifest of a written world, `None` if `dir` holds none.
pub fn read_manifest(dir: &Path) -> io::Result<Option<Manifest>> {
    match std::fs::read_to_string(dir.join(MANIFEST_FILE)) {
        Ok(text) => Manifest::parse(&text).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Streams the events of a written world back, in the order written.
pub struct EventReader {
    input: BufReader<File>,
    path: PathBuf,
    buffer: Vec<u8>,
}

impl EventReader {
    pub fn open(dir: &Path) -> io::Result<EventReader> {
        let path = dir.join(EVENTS_FILE);
        Ok(EventReader {
            input: BufReader::with_capacity(1 << 20, File::open(&path)?),
            path,
            buffer: Vec::new(),
        })
    }

    /// The next envelope's bytes without decoding them, `None` at the end.
    pub fn next_bytes(&mut self) -> io::Result<Option<&[u8]>> {
        if self.input.fill_buf()?.is_empty() {
            return Ok(None);
        }
        // A varint length prefix: at most ten bytes, seven bits each.
        let mut len: u64 = 0;
        for shift in (0..70).step_by(7) {
            let mut byte = [0u8; 1];
            self.input.read_exact(&mut byte)?;
            len |= u64::from(byte[0] & 0x7f) << shift;
            if byte[0] & 0x80 == 0 {
                break;
            }
        }
        let len = usize::try_from(len).map_err(|e| invalid(e.to_string()))?;
        self.buffer.resize(len, 0);
        self.input
            .read_exact(&mut self.buffer)
            .map_err(|e| invalid(format!("{}: truncated envelope ({e})", self.path.display())))?;
        Ok(Some(&self.buffer))
    }
}

impl Iterator for EventReader {
    type Item = io::Result<Envelope>;

    fn next(&mut self) -> Option<io::Result<Envelope>> {
        match self.next_bytes() {
            Ok(Some(bytes)) => Some(Envelope::decode(bytes).map_err(|e| invalid(e.to_string()))),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_world_reads_back_identically_with_its_manifest() {
        let reference = ReferenceData::embedded().unwrap();
        let dir = tempfile_dir();
        let config = ScaleConfig::scaled(300);
        let manifest = write(&reference, &config, &dir).unwrap();
        assert!(manifest.matches(&config));
        assert_eq!(read_manifest(&dir).unwrap(), Some(manifest.clone()));
        let generator = Generator::new(&reference, config.generator_config());
        let expected: Vec<Envelope> = generator.events().collect();
        let read: Vec<Envelope> = EventReader::open(&dir)
            .unwrap()
            .collect::<io::Result<_>>()
            .unwrap();
        assert_eq!(read.len() as u64, manifest.events());
        assert_eq!(read, expected);
        assert_eq!(manifest.vacancies, 105);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn co_volume_follows_the_target() {
        let reference = ReferenceData::embedded().unwrap();
        let config = ScaleConfig::scaled(4_000);
        let generator = Generator::new(&reference, config.generator_config());
        let co = generator
            .events()
            .filter(|e| matches!(e.payload, Some(Payload::Co(_))))
            .count() as f64;
        let target = config.co_events as f64;
        assert!(
            (co - target).abs() / target < 0.1,
            "{co} CO for a target of {target}"
        );
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "incontra-scale-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }
}
