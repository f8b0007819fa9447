//! Embedded journal: the durable, append-only, segmented event log of the
//! single-machine mode.
//!
//! This module owns the on-disk log format and its crash recovery. Records are
//! opaque byte payloads (encoded envelopes) addressed by 1-based positions;
//! position 0 means "nothing". The log is split into segment files named after
//! the position of their first record, `<dir>/<first_position:020>.log`. Each
//! segment starts with a header (magic + format version) followed by frames:
//!
//! ```text
//! [u32 LE payload length][u32 LE crc32(length bytes ++ payload)][payload]
//! ```
//!
//! Durability follows group commit: `append` only buffers, `sync` flushes and
//! fdatasyncs, and callers acknowledge a batch only after `sync` returns.
//! On open, a torn or corrupt tail of the last segment (the signature of a
//! crash mid-write) is truncated away and reported; damage anywhere else is
//! real data loss and surfaces as [`JournalError::Corrupt`].
//!
//! The journal assumes a single writer process per directory; it does not
//! take a file lock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Identifies a journal segment file; guards against opening foreign files.
const SEGMENT_MAGIC: [u8; 8] = *b"INCJRNL\0";
const FORMAT_VERSION: u32 = 1;
const SEGMENT_HEADER_LEN: u64 = 12;
const FRAME_HEADER_LEN: u64 = 8;
const SEGMENT_SUFFIX: &str = ".log";
/// Width of the zero-padded position in segment file names; wide enough for
/// any u64 so lexical and numeric order agree.
const POSITION_DIGITS: usize = 20;

/// Large enough that a batch of ~1000 small records reaches the kernel in a
/// handful of write calls.
const WRITE_BUFFER_BYTES: usize = 1 << 20;
const READ_BUFFER_BYTES: usize = 256 << 10;

/// Tuning knobs of a [`Journal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalOptions {
    /// A new segment is started when appending a record would push the
    /// active segment past this size (a single oversized record still gets a
    /// segment of its own).
    pub segment_bytes: u64,
    /// Largest accepted payload. Also applied when reading, so a corrupt
    /// length field cannot trigger a huge allocation.
    pub max_record_bytes: u32,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            segment_bytes: 64 << 20,
            max_record_bytes: 16 << 20,
        }
    }
}

/// What [`Journal::open`] found and repaired.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RecoveryReport {
    /// Position of the last intact record (0 if the journal is empty).
    pub last_position: u64,
    /// Number of segment files after recovery.
    pub segments: usize,
    /// Bytes cut from the tail of the last segment.
    pub truncated_bytes: u64,
    /// Position the first discarded (torn or corrupt) record would have had.
    pub truncated_at: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal I/O error ({op}) on {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("journal segment {} is corrupt at byte {offset}: {reason}", segment.display())]
    Corrupt {
        segment: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("journal record of {size} bytes exceeds the maximum of {max} bytes")]
    RecordTooLarge { size: usize, max: u32 },
    #[error("journal segment {} has format version {found}, expected {FORMAT_VERSION}", segment.display())]
    UnsupportedVersion { segment: PathBuf, found: u32 },
    #[error("journal position {requested} is no longer available (oldest retained record is {first_available})")]
    PositionUnavailable {
        requested: u64,
        first_available: u64,
    },
    #[error("invalid journal options: {0}")]
    InvalidOptions(String),
    /// Truncation can only drop records; a cut point past the end means the
    /// caller's view of the log is ahead of what the journal holds.
    #[error("cannot truncate the journal after position {requested}: the last record is {last}")]
    TruncateBeyondEnd { requested: u64, last: u64 },
    /// A write or sync failed earlier. After a failed fsync the kernel may
    /// have dropped dirty pages, so retrying could acknowledge data that is
    /// not on disk; the only safe continuation is to reopen and recover.
    #[error("journal is unusable after an earlier write failure; reopen it to recover")]
    Poisoned,
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> JournalError + 'a {
    move |source| JournalError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn segment_path(dir: &Path, first_position: u64) -> PathBuf {
    dir.join(format!(
        "{first_position:0POSITION_DIGITS$}{SEGMENT_SUFFIX}"
    ))
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != POSITION_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn segment_header() -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    header[..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header
}

fn frame_crc(len_bytes: &[u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(len_bytes);
    hasher.update(payload);
    hasher.finalize()
}

/// Makes the creation (or removal) of directory entries durable; without it a
/// freshly synced segment could vanish after a crash.
fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    crate::fsync::sync_dir(dir).map_err(io_err("fsync directory", dir))
}

/// Reads as many bytes as are available up to `buf.len()`, so a short read at
/// end of file can be told apart from an I/O error.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

enum HeaderCheck {
    Valid,
    /// Fewer bytes than a header: a segment whose creation was interrupted.
    Short,
}

fn check_segment_header<R: Read>(reader: &mut R, path: &Path) -> Result<HeaderCheck, JournalError> {
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    let n = read_full(reader, &mut header).map_err(io_err("read segment header", path))?;
    if n < header.len() {
        return Ok(HeaderCheck::Short);
    }
    if header[..8] != SEGMENT_MAGIC {
        return Err(JournalError::Corrupt {
            segment: path.to_path_buf(),
            offset: 0,
            reason: "bad segment magic".into(),
        });
    }
    let mut version = [0u8; 4];
    version.copy_from_slice(&header[8..12]);
    let found = u32::from_le_bytes(version);
    if found != FORMAT_VERSION {
        return Err(JournalError::UnsupportedVersion {
            segment: path.to_path_buf(),
            found,
        });
    }
    Ok(HeaderCheck::Valid)
}

/// Outcome of decoding one frame.
enum Frame {
    Record,
    /// Clean end of data exactly at a frame boundary.
    End,
    /// Torn or corrupt frame; the string says why.
    Bad(String),
}

/// Decodes one frame into `payload` (reused across calls to avoid
/// allocations during the recovery scan).
fn read_frame<R: Read>(
    reader: &mut R,
    max_record_bytes: u32,
    payload: &mut Vec<u8>,
) -> io::Result<Frame> {
    let mut header = [0u8; FRAME_HEADER_LEN as usize];
    let n = read_full(reader, &mut header)?;
    if n == 0 {
        return Ok(Frame::End);
    }
    if n < header.len() {
        return Ok(Frame::Bad(format!(
            "short frame header ({n} of {FRAME_HEADER_LEN} bytes)"
        )));
    }
    let len_bytes = [header[0], header[1], header[2], header[3]];
    let len = u32::from_le_bytes(len_bytes);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len > max_record_bytes {
        return Ok(Frame::Bad(format!(
            "record length {len} exceeds maximum {max_record_bytes}"
        )));
    }
    payload.clear();
    payload.resize(len as usize, 0);
    let got = read_full(reader, payload)?;
    if got < payload.len() {
        return Ok(Frame::Bad(format!("short payload ({got} of {len} bytes)")));
    }
    if frame_crc(&len_bytes, payload) != crc {
        return Ok(Frame::Bad("checksum mismatch".into()));
    }
    Ok(Frame::Record)
}

/// Result of scanning one segment during recovery.
struct SegmentScan {
    records: u64,
    /// Offset just past the last good frame.
    good_len: u64,
    file_len: u64,
    /// Why scanning stopped before `file_len`, if it did.
    damage: Option<String>,
    header_short: bool,
}

fn scan_segment(path: &Path, max_record_bytes: u32) -> Result<SegmentScan, JournalError> {
    let file = File::open(path).map_err(io_err("open segment", path))?;
    let file_len = file.metadata().map_err(io_err("stat segment", path))?.len();
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
    if let HeaderCheck::Short = check_segment_header(&mut reader, path)? {
        return Ok(SegmentScan {
            records: 0,
            good_len: 0,
            file_len,
            damage: None,
            header_short: true,
        });
    }
    let mut records = 0;
    let mut good_len = SEGMENT_HEADER_LEN;
    let mut payload = Vec::new();
    loop {
        match read_frame(&mut reader, max_record_bytes, &mut payload)
            .map_err(io_err("read segment", path))?
        {
            Frame::Record => {
                records += 1;
                good_len += FRAME_HEADER_LEN + payload.len() as u64;
            }
            Frame::End => {
                return Ok(SegmentScan {
                    records,
                    good_len,
                    file_len,
                    damage: None,
                    header_short: false,
                })
            }
            Frame::Bad(reason) => {
                return Ok(SegmentScan {
                    records,
                    good_len,
                    file_len,
                    damage: Some(reason),
                    header_short: false,
                })
            }
        }
    }
}

struct ActiveSegment {
    path: PathBuf,
    writer: BufWriter<File>,
    /// Logical length including bytes still in the buffer.
    len: u64,
}

/// Durable append-only log. See the module documentation for the format.
pub struct Journal {
    dir: PathBuf,
    options: JournalOptions,
    /// First positions of all segments, ascending; the last one is active.
    segments: Vec<u64>,
    active: ActiveSegment,
    last_position: u64,
    durable_position: u64,
    /// Records appended since the last sync, for metrics.
    pending_records: u64,
    poisoned: bool,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.dir)
            .field("segments", &self.segments.len())
            .field("last_position", &self.last_position)
            .field("durable_position", &self.durable_position)
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

impl Journal {
    /// Opens (creating if missing) the journal in `dir`, verifying every
    /// record and repairing a torn tail of the last segment.
    pub fn open(
        dir: &Path,
        options: JournalOptions,
    ) -> Result<(Journal, RecoveryReport), JournalError> {
        if options.max_record_bytes == 0 || options.segment_bytes <= SEGMENT_HEADER_LEN {
            return Err(JournalError::InvalidOptions(format!(
                "segment_bytes must exceed {SEGMENT_HEADER_LEN} and max_record_bytes must be positive (got {options:?})"
            )));
        }
        fs::create_dir_all(dir).map_err(io_err("create journal directory", dir))?;
        let dir = dir.to_path_buf();

        let mut segments = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err("list journal directory", &dir))? {
            let entry = entry.map_err(io_err("list journal directory", &dir))?;
            if let Some(first) = entry.file_name().to_str().and_then(parse_segment_name) {
                segments.push(first);
            }
        }
        segments.sort_unstable();

        let mut report = RecoveryReport::default();
        let mut last_position = segments.first().map_or(0, |first| first.saturating_sub(1));
        let mut tail_len = None;
        for (index, &first) in segments.iter().enumerate() {
            let path = segment_path(&dir, first);
            if first != last_position + 1 {
                return Err(JournalError::Corrupt {
                    segment: path,
                    offset: 0,
                    reason: format!(
                        "segment starts at position {first} but the previous segment ends at {last_position}"
                    ),
                });
            }
            let is_last = index + 1 == segments.len();
            let scan = scan_segment(&path, options.max_record_bytes)?;
            if !is_last {
                let reason = if scan.header_short {
                    Some("segment shorter than its header".to_string())
                } else {
                    scan.damage
                };
                if let Some(reason) = reason {
                    return Err(JournalError::Corrupt {
                        segment: path,
                        offset: scan.good_len,
                        reason,
                    });
                }
                last_position += scan.records;
                continue;
            }
            last_position += scan.records;
            if scan.header_short {
                // A crash between creating the file and syncing its header;
                // it holds no records, so rewriting the header loses nothing.
                if scan.file_len > 0 {
                    tracing::warn!(
                        segment = %path.display(),
                        bytes = scan.file_len,
                        "journal segment has a torn header; rewriting it"
                    );
                }
                rewrite_segment_header(&path)?;
                tail_len = Some(SEGMENT_HEADER_LEN);
            } else if let Some(reason) = scan.damage {
                let dropped = scan.file_len - scan.good_len;
                tracing::warn!(
                    segment = %path.display(),
                    offset = scan.good_len,
                    bytes_dropped = dropped,
                    first_dropped_position = last_position + 1,
                    reason = %reason,
                    "journal tail is torn or corrupt; truncating to the last good record"
                );
                truncate_segment(&path, scan.good_len)?;
                report.truncated_bytes = dropped;
                report.truncated_at = Some(last_position + 1);
                tail_len = Some(scan.good_len);
            } else {
                tail_len = Some(scan.good_len);
            }
        }

        let active = match (segments.last(), tail_len) {
            (Some(&first), Some(len)) => open_active(segment_path(&dir, first), len)?,
            _ => {
                let first = last_position + 1;
                let active = create_segment(&dir, first)?;
                segments.push(first);
                active
            }
        };

        report.last_position = last_position;
        report.segments = segments.len();
        tracing::debug!(dir = %dir.display(), ?report, "journal opened");
        Ok((
            Journal {
                dir,
                options,
                segments,
                active,
                last_position,
                durable_position: last_position,
                pending_records: 0,
                poisoned: false,
            },
            report,
        ))
    }

    /// Buffers the record; durable only after `sync`. Returns its position.
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        let max = self.options.max_record_bytes;
        let len = match u32::try_from(payload.len()) {
            Ok(len) if len <= max => len,
            _ => {
                return Err(JournalError::RecordTooLarge {
                    size: payload.len(),
                    max,
                })
            }
        };
        let frame_len = FRAME_HEADER_LEN + u64::from(len);
        if self.active.len > SEGMENT_HEADER_LEN
            && self.active.len + frame_len > self.options.segment_bytes
        {
            self.roll()?;
        }
        let len_bytes = len.to_le_bytes();
        let mut header = [0u8; FRAME_HEADER_LEN as usize];
        header[..4].copy_from_slice(&len_bytes);
        header[4..].copy_from_slice(&frame_crc(&len_bytes, payload).to_le_bytes());
        let written = self
            .active
            .writer
            .write_all(&header)
            .and_then(|()| self.active.writer.write_all(payload));
        if let Err(source) = written {
            // Part of the frame may have reached the file; later appends
            // would sit behind a torn frame, so refuse them.
            self.poisoned = true;
            return Err(JournalError::Io {
                op: "append",
                path: self.active.path.clone(),
                source,
            });
        }
        self.active.len += frame_len;
        self.last_position += 1;
        self.pending_records += 1;
        Ok(self.last_position)
    }

    /// Flushes and fdatasyncs everything appended so far (group commit:
    /// callers append a batch, then sync once, then acknowledge).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        if self.durable_position == self.last_position {
            return Ok(());
        }
        let started = Instant::now();
        if let Err(e) = self.sync_active("sync") {
            self.poisoned = true;
            return Err(e);
        }
        self.durable_position = self.last_position;
        metrics::histogram!("incontra_journal_sync_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("incontra_journal_records_synced_total").increment(self.pending_records);
        self.pending_records = 0;
        Ok(())
    }

    /// Position of the last appended record (0 if none).
    pub fn last_position(&self) -> u64 {
        self.last_position
    }

    /// Position of the last record known to be on stable storage.
    pub fn durable_position(&self) -> u64 {
        self.durable_position
    }

    /// Reads records with position > `after`, in order, across segments.
    /// The reader sees everything durable when it was created and nothing
    /// appended later, so it is safe to use while appending continues.
    pub fn read_after(&self, after: u64) -> Result<JournalReader, JournalError> {
        let limit = self.durable_position;
        let first_available = self.segments.first().copied().unwrap_or(1);
        if after >= limit {
            return Ok(JournalReader::empty(
                &self.dir,
                self.options.max_record_bytes,
            ));
        }
        if after + 1 < first_available {
            return Err(JournalError::PositionUnavailable {
                requested: after + 1,
                first_available,
            });
        }
        // Last segment whose first position is <= after + 1.
        let start = self.segments.partition_point(|&first| first <= after + 1);
        let index = start.saturating_sub(1);
        let mut reader = JournalReader {
            dir: self.dir.clone(),
            segments: self.segments[index..].to_vec(),
            next_segment: 0,
            current: None,
            next_position: 0,
            limit,
            max_record_bytes: self.options.max_record_bytes,
            failed: false,
        };
        reader.open_next_segment()?;
        reader.skip_until(after + 1)?;
        Ok(reader)
    }

    /// Drops every record after `position` (which must be <= last_position
    /// and >= the first retained position - 1), making the cut durable (file
    /// truncation + fsync of the file, removal of whole later segments +
    /// fsync of the directory) before returning. Returns the number of
    /// records dropped. Used by recovery to discard the unfinished tail batch
    /// that a crash left behind.
    ///
    /// The steps are ordered so that a crash at any point leaves a journal
    /// that opens cleanly and holds a prefix of the original records, still
    /// including every record up to `position` that was already durable
    /// when the call began: later segments are removed newest first
    /// (syncing the directory after each, so no gap can appear), and only
    /// then is the segment holding the cut point shortened. Re-running the
    /// truncation after such a crash finishes the job.
    ///
    /// `position == last_position` is a no-op: nothing is flushed or synced,
    /// so buffered records still need [`Journal::sync`].
    ///
    /// When the cut falls exactly on the first record of a segment, that
    /// segment is kept with just its header and becomes the active one, so
    /// segment names still equal their first position.
    ///
    /// Readers created by [`Journal::read_after`] before the call must be
    /// discarded: they may fail on removed segments, and positions after the
    /// cut will be reused by later appends.
    pub fn truncate_after(&mut self, position: u64) -> Result<u64, JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        if position > self.last_position {
            return Err(JournalError::TruncateBeyondEnd {
                requested: position,
                last: self.last_position,
            });
        }
        if position == self.last_position {
            return Ok(0);
        }
        let first_available = self.segments.first().copied().unwrap_or(1);
        if position + 1 < first_available {
            return Err(JournalError::PositionUnavailable {
                requested: position,
                first_available,
            });
        }

        // The scan below reads the file, so buffered frames must reach it;
        // a failed flush may have left a partial frame, hence the poison.
        if let Err(e) = self
            .active
            .writer
            .flush()
            .map_err(io_err("flush before truncation", &self.active.path))
        {
            self.poisoned = true;
            return Err(e);
        }

        // Last segment whose first position is <= position + 1; it holds
        // record position + 1 because that record exists.
        let index = self
            .segments
            .partition_point(|&first| first <= position + 1)
            .saturating_sub(1);
        let first = self.segments[index];
        let path = segment_path(&self.dir, first);
        let cut_offset = frame_offset(&path, position + 1 - first, self.options.max_record_bytes)?;

        // From here on disk and memory diverge until the end; any failure
        // leaves the journal in a state only `open` can reconcile.
        if let Err(e) = self.cut(index, path.clone(), cut_offset) {
            self.poisoned = true;
            return Err(e);
        }

        let dropped = self.last_position - position;
        // Pending records before the cut became durable with the truncation.
        let newly_durable = position.saturating_sub(self.durable_position);
        metrics::counter!("incontra_journal_records_synced_total").increment(newly_durable);
        self.segments.truncate(index + 1);
        self.last_position = position;
        self.durable_position = position;
        self.pending_records = 0;
        tracing::info!(
            segment = %path.display(),
            offset = cut_offset,
            last_position = position,
            records_dropped = dropped,
            "journal truncated"
        );
        Ok(dropped)
    }

    /// The first position still held (1 unless old segments were removed).
    pub fn first_position(&self) -> u64 {
        self.segments.first().copied().unwrap_or(1)
    }

    /// The positions (first, last) of every segment but the active one,
    /// oldest first: what [`Journal::remove_segments_through`] could remove.
    pub fn closed_segments(&self) -> Vec<(u64, u64)> {
        self.segments.windows(2).map(|w| (w[0], w[1] - 1)).collect()
    }

    /// Removes every closed segment whose records are all at or before
    /// `position`, oldest first, each removal durable before the next, so
    /// the log stays a gap-free suffix. The active segment always stays.
    /// Reading before the first segment left is then
    /// [`JournalError::PositionUnavailable`]. Returns how many went.
    pub fn remove_segments_through(&mut self, position: u64) -> Result<usize, JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        let doomed = self
            .closed_segments()
            .iter()
            .take_while(|(_, last)| *last <= position)
            .count();
        for &first in &self.segments[..doomed] {
            let path = segment_path(&self.dir, first);
            fs::remove_file(&path).map_err(io_err("remove segment", &path))?;
            sync_dir(&self.dir)?;
        }
        self.segments.drain(..doomed);
        Ok(doomed)
    }

    /// Makes segment `index` the active one, cut to `offset` bytes, and
    /// removes every later segment. Does not update the position bookkeeping.
    fn cut(&mut self, index: usize, path: PathBuf, offset: u64) -> Result<(), JournalError> {
        // Switch the writer first so no handle to a doomed segment stays
        // open while it is removed (removal of open files fails on some
        // platforms). The writer was flushed, so dropping it writes nothing.
        let active = open_active(path, offset)?;
        drop(std::mem::replace(&mut self.active, active));
        for &first in self.segments[index + 1..].iter().rev() {
            let doomed = segment_path(&self.dir, first);
            fs::remove_file(&doomed).map_err(io_err("remove segment", &doomed))?;
            // One directory sync per removal: removing newest first only
            // keeps the on-disk log gap-free if each removal is durable
            // before the next one.
            sync_dir(&self.dir)?;
        }
        truncate_segment(&self.active.path, offset)
    }

    fn sync_active(&mut self, op: &'static str) -> Result<(), JournalError> {
        let path = &self.active.path;
        self.active.writer.flush().map_err(io_err(op, path))?;
        self.active
            .writer
            .get_ref()
            .sync_data()
            .map_err(io_err(op, path))
    }

    fn roll(&mut self) -> Result<(), JournalError> {
        // The old segment must be complete on disk before a successor exists,
        // otherwise recovery could find a torn non-last segment.
        let rolled = self.sync_active("sync segment before roll").and_then(|()| {
            let first = self.last_position + 1;
            create_segment(&self.dir, first).map(|active| (first, active))
        });
        match rolled {
            Ok((first, active)) => {
                self.active = active;
                self.segments.push(first);
                self.durable_position = self.last_position;
                metrics::counter!("incontra_journal_records_synced_total")
                    .increment(self.pending_records);
                self.pending_records = 0;
                tracing::debug!(segment = %self.active.path.display(), "journal rolled to a new segment");
                metrics::counter!("incontra_journal_segments_rolled_total").increment(1);
                Ok(())
            }
            Err(e) => {
                self.poisoned = true;
                Err(e)
            }
        }
    }
}

fn create_segment(dir: &Path, first_position: u64) -> Result<ActiveSegment, JournalError> {
    let path = segment_path(dir, first_position);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io_err("create segment", &path))?;
    file.write_all(&segment_header())
        .and_then(|()| file.sync_data())
        .map_err(io_err("write segment header", &path))?;
    sync_dir(dir)?;
    Ok(ActiveSegment {
        writer: BufWriter::with_capacity(WRITE_BUFFER_BYTES, file),
        path,
        len: SEGMENT_HEADER_LEN,
    })
}

fn open_active(path: PathBuf, len: u64) -> Result<ActiveSegment, JournalError> {
    let mut file = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(io_err("open segment for append", &path))?;
    file.seek(SeekFrom::Start(len))
        .map_err(io_err("seek segment", &path))?;
    Ok(ActiveSegment {
        writer: BufWriter::with_capacity(WRITE_BUFFER_BYTES, file),
        path,
        len,
    })
}

fn truncate_segment(path: &Path, len: u64) -> Result<(), JournalError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err("open segment for truncation", path))?;
    file.set_len(len)
        .and_then(|()| file.sync_all())
        .map_err(io_err("truncate segment", path))
}

/// Byte offset at which the frame of the segment's `index`-th record
/// (0-based) starts. The frames before it are fully verified, so a cut never
/// keeps a record that would not survive recovery.
fn frame_offset(path: &Path, index: u64, max_record_bytes: u32) -> Result<u64, JournalError> {
    let file = File::open(path).map_err(io_err("open segment", path))?;
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
    if let HeaderCheck::Short = check_segment_header(&mut reader, path)? {
        return Err(JournalError::Corrupt {
            segment: path.to_path_buf(),
            offset: 0,
            reason: "segment shorter than its header".into(),
        });
    }
    let mut offset = SEGMENT_HEADER_LEN;
    let mut payload = Vec::new();
    for skipped in 0..index {
        match read_frame(&mut reader, max_record_bytes, &mut payload)
            .map_err(io_err("read segment", path))?
        {
            Frame::Record => offset += FRAME_HEADER_LEN + payload.len() as u64,
            Frame::End => {
                return Err(JournalError::Corrupt {
                    segment: path.to_path_buf(),
                    offset,
                    reason: format!(
                        "segment ends after {skipped} records but the journal expects more than {index}"
                    ),
                })
            }
            Frame::Bad(reason) => {
                return Err(JournalError::Corrupt {
                    segment: path.to_path_buf(),
                    offset,
                    reason,
                })
            }
        }
    }
    Ok(offset)
}

fn rewrite_segment_header(path: &Path) -> Result<(), JournalError> {
    let mut file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(io_err("open segment for repair", path))?;
    file.write_all(&segment_header())
        .and_then(|()| file.sync_all())
        .map_err(io_err("rewrite segment header", path))
}

struct OpenSegment {
    path: PathBuf,
    reader: BufReader<File>,
    offset: u64,
}

/// Iterator over journal records, created by [`Journal::read_after`].
/// Yields `(position, payload)`; after an error it yields nothing more.
pub struct JournalReader {
    dir: PathBuf,
    segments: Vec<u64>,
    next_segment: usize,
    current: Option<OpenSegment>,
    next_position: u64,
    /// Last position to yield; frames beyond it may be half-written.
    limit: u64,
    max_record_bytes: u32,
    failed: bool,
}

impl std::fmt::Debug for JournalReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalReader")
            .field("dir", &self.dir)
            .field("next_position", &self.next_position)
            .field("limit", &self.limit)
            .finish()
    }
}

impl JournalReader {
    fn empty(dir: &Path, max_record_bytes: u32) -> JournalReader {
        JournalReader {
            dir: dir.to_path_buf(),
            segments: Vec::new(),
            next_segment: 0,
            current: None,
            next_position: 1,
            limit: 0,
            max_record_bytes,
            failed: false,
        }
    }

    fn corrupt(&self, reason: String) -> JournalError {
        match &self.current {
            Some(seg) => JournalError::Corrupt {
                segment: seg.path.clone(),
                offset: seg.offset,
                reason,
            },
            None => JournalError::Corrupt {
                segment: self.dir.clone(),
                offset: 0,
                reason,
            },
        }
    }

    fn open_next_segment(&mut self) -> Result<(), JournalError> {
        let Some(&first) = self.segments.get(self.next_segment) else {
            self.current = None;
            return Err(self.corrupt(format!(
                "journal ends before position {} although records up to {} were synced",
                self.next_position, self.limit
            )));
        };
        if self.next_segment > 0 && first != self.next_position {
            return Err(self.corrupt(format!(
                "segment ends before position {} but the next segment starts at {first}",
                self.next_position
            )));
        }
        let path = segment_path(&self.dir, first);
        let file = File::open(&path).map_err(io_err("open segment", &path))?;
        let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
        if let HeaderCheck::Short = check_segment_header(&mut reader, &path)? {
            return Err(JournalError::Corrupt {
                segment: path,
                offset: 0,
                reason: "segment shorter than its header".into(),
            });
        }
        self.next_segment += 1;
        self.next_position = first;
        self.current = Some(OpenSegment {
            path,
            reader,
            offset: SEGMENT_HEADER_LEN,
        });
        Ok(())
    }

    /// Skips frames by length only; checksums are verified on the records
    /// actually returned, and a mis-skip lands on a frame that fails its
    /// checksum.
    fn skip_until(&mut self, target: u64) -> Result<(), JournalError> {
        while self.next_position < target {
            let Some(seg) = self.current.as_mut() else {
                return Ok(());
            };
            let mut header = [0u8; FRAME_HEADER_LEN as usize];
            let n = read_full(&mut seg.reader, &mut header)
                .map_err(io_err("read segment", &seg.path))?;
            if n == 0 {
                self.open_next_segment()?;
                continue;
            }
            if n < header.len() {
                return Err(self.corrupt("short frame header".into()));
            }
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            if len > self.max_record_bytes {
                return Err(self.corrupt(format!(
                    "record length {len} exceeds maximum {}",
                    self.max_record_bytes
                )));
            }
            seg.reader
                .seek_relative(i64::from(len))
                .map_err(io_err("seek segment", &seg.path))?;
            seg.offset += FRAME_HEADER_LEN + u64::from(len);
            self.next_position += 1;
        }
        Ok(())
    }

    fn next_record(&mut self) -> Result<Option<(u64, Vec<u8>)>, JournalError> {
        if self.next_position > self.limit {
            return Ok(None);
        }
        loop {
            let Some(seg) = self.current.as_mut() else {
                return Ok(None);
            };
            let mut payload = Vec::new();
            let frame = read_frame(&mut seg.reader, self.max_record_bytes, &mut payload)
                .map_err(io_err("read segment", &seg.path))?;
            match frame {
                Frame::Record => {
                    seg.offset += FRAME_HEADER_LEN + payload.len() as u64;
                    let position = self.next_position;
                    self.next_position += 1;
                    return Ok(Some((position, payload)));
                }
                Frame::End => self.open_next_segment()?,
                Frame::Bad(reason) => return Err(self.corrupt(reason)),
            }
        }
    }
}

impl Iterator for JournalReader {
    type Item = Result<(u64, Vec<u8>), JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_record() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                self.current = None;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small_options(segment_bytes: u64) -> JournalOptions {
        JournalOptions {
            segment_bytes,
            ..JournalOptions::default()
        }
    }

    fn payload(i: u64) -> Vec<u8> {
        let len = (i as usize * 7) % 50 + 1;
        (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
    }

    fn read_all(journal: &Journal, after: u64) -> Vec<(u64, Vec<u8>)> {
        journal
            .read_after(after)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    }

    fn segment_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        files.sort();
        files
    }

    fn flip_byte(path: &Path, offset: u64) {
        let mut bytes = fs::read(path).unwrap();
        bytes[offset as usize] ^= 0x5a;
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn append_sync_reopen_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, report) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        assert_eq!(
            report,
            RecoveryReport {
                last_position: 0,
                segments: 1,
                ..Default::default()
            }
        );
        assert_eq!(journal.last_position(), 0);
        for i in 1..=100 {
            assert_eq!(journal.append(&payload(i)).unwrap(), i);
        }
        assert_eq!(journal.last_position(), 100);
        assert_eq!(journal.durable_position(), 0);
        journal.sync().unwrap();
        assert_eq!(journal.durable_position(), 100);
        drop(journal);

        let (journal, report) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        assert_eq!(
            report,
            RecoveryReport {
                last_position: 100,
                segments: 1,
                ..Default::default()
            }
        );
        assert_eq!(journal.durable_position(), 100);
        let records = read_all(&journal, 0);
        assert_eq!(records.len(), 100);
        for (i, (position, bytes)) in records.into_iter().enumerate() {
            assert_eq!(position, i as u64 + 1);
            assert_eq!(bytes, payload(position));
        }
        assert_eq!(read_all(&journal, 100), vec![]);
        assert_eq!(read_all(&journal, 1_000), vec![]);
    }

    #[test]
    fn empty_payloads_are_records() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        journal.append(b"").unwrap();
        journal.append(b"x").unwrap();
        journal.append(b"").unwrap();
        journal.sync().unwrap();
        drop(journal);
        let (journal, report) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        assert_eq!(report.last_position, 3);
        assert_eq!(
            read_all(&journal, 0),
            vec![(1, vec![]), (2, b"x".to_vec()), (3, vec![])]
        );
    }

    #[test]
    fn segments_roll_and_read_after_crosses_them() {
        let dir = tempfile::tempdir().unwrap();
        let options = small_options(200);
        let (mut journal, _) = Journal::open(dir.path(), options.clone()).unwrap();
        for i in 1..=120 {
            journal.append(&payload(i)).unwrap();
        }
        journal.sync().unwrap();
        let files = segment_files(dir.path());
        assert!(
            files.len() > 10,
            "expected many segments, got {}",
            files.len()
        );
        for file in &files {
            let len = fs::metadata(file).unwrap().len();
            assert!(len <= 200, "{} is {len} bytes", file.display());
        }
        assert_eq!(files[0].file_name().unwrap(), "00000000000000000001.log");

        let check = |journal: &Journal| {
            for after in [0, 1, 2, 17, 59, 60, 61, 118, 119, 120] {
                let records = read_all(journal, after);
                assert_eq!(records.len() as u64, 120 - after, "after {after}");
                for (k, (position, bytes)) in records.into_iter().enumerate() {
                    assert_eq!(position, after + 1 + k as u64);
                    assert_eq!(bytes, payload(position));
                }
            }
            // Every segment boundary, which is where the binary search lands.
            for file in segment_files(dir.path()) {
                let stem = file.file_stem().unwrap().to_str().unwrap();
                let first: u64 = stem.parse().unwrap();
                for after in [first - 1, first] {
                    let got: Vec<u64> = read_all(journal, after).into_iter().map(|r| r.0).collect();
                    assert_eq!(got, ((after + 1)..=120).collect::<Vec<_>>());
                }
            }
        };
        check(&journal);
        drop(journal);
        let (journal, report) = Journal::open(dir.path(), options).unwrap();
        assert_eq!(report.last_position, 120);
        assert_eq!(report.segments, files.len());
        check(&journal);
    }

    #[test]
    fn reader_sees_only_synced_records() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path(), small_options(128)).unwrap();
        for i in 1..=10 {
            journal.append(&payload(i)).unwrap();
        }
        journal.sync().unwrap();
        for i in 11..=15 {
            journal.append(&payload(i)).unwrap();
        }
        // Rolling syncs the finished segment, so durability may run ahead of
        // the last explicit sync, but never reaches the unsynced tail.
        let visible = journal.durable_position();
        assert!((10..15).contains(&visible), "durable {visible}");
        let reader = journal.read_after(3).unwrap();
        for i in 16..=40 {
            journal.append(&payload(i)).unwrap();
        }
        journal.sync().unwrap();
        let positions: Vec<u64> = reader.map(|r| r.unwrap().0).collect();
        assert_eq!(positions, (4..=visible).collect::<Vec<_>>());
        assert_eq!(read_all(&journal, 3).len(), 37);
    }

    #[test]
    fn record_too_large_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let options = JournalOptions {
            max_record_bytes: 16,
            ..JournalOptions::default()
        };
        let (mut journal, _) = Journal::open(dir.path(), options).unwrap();
        assert!(matches!(
            journal.append(&[0; 17]),
            Err(JournalError::RecordTooLarge { size: 17, max: 16 })
        ));
        assert_eq!(journal.append(&[0; 16]).unwrap(), 1);
    }

    /// Writes records 1..=5 (record 5 being the "last record") and returns
    /// the segment path plus the offset where record 5's frame starts.
    fn write_five(dir: &Path) -> (PathBuf, u64) {
        let (mut journal, _) = Journal::open(dir, JournalOptions::default()).unwrap();
        for i in 1..=4 {
            journal.append(&payload(i)).unwrap();
        }
        journal.sync().unwrap();
        let path = journal.active.path.clone();
        let start = fs::metadata(&path).unwrap().len();
        journal.append(&payload(5)).unwrap();
        journal.sync().unwrap();
        (path, start)
    }

    #[test]
    fn torn_tail_at_every_cut_recovers_and_appends_continue() {
        let frame_len = FRAME_HEADER_LEN + payload(5).len() as u64;
        for kept in 0..frame_len {
            let dir = tempfile::tempdir().unwrap();
            let (path, start) = write_five(dir.path());
            assert_eq!(fs::metadata(&path).unwrap().len(), start + frame_len);
            let file = OpenOptions::new().write(true).open(&path).unwrap();
            file.set_len(start + kept).unwrap();
            drop(file);

            let (mut journal, report) =
                Journal::open(dir.path(), JournalOptions::default()).unwrap();
            let expected = if kept == 0 {
                RecoveryReport {
                    last_position: 4,
                    segments: 1,
                    ..Default::default()
                }
            } else {
                RecoveryReport {
                    last_position: 4,
                    segments: 1,
                    truncated_bytes: kept,
                    truncated_at: Some(5),
                }
            };
            assert_eq!(report, expected, "kept {kept} bytes");
            assert_eq!(fs::metadata(&path).unwrap().len(), start);
            assert_eq!(journal.append(b"after recovery").unwrap(), 5);
            journal.sync().unwrap();
            drop(journal);

            let (journal, report) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
            assert_eq!(report.truncated_at, None);
            let records = read_all(&journal, 0);
            assert_eq!(records.len(), 5);
            assert_eq!(records[3], (4, payload(4)));
            assert_eq!(records[4], (5, b"after recovery".to_vec()));
        }
    }

    #[test]
    fn flipped_byte_in_last_record_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let (path, start) = write_five(dir.path());
        flip_byte(&path, start + FRAME_HEADER_LEN + 1);
        let (journal, report) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        assert_eq!(report.last_position, 4);
        assert_eq!(report.truncated_at, Some(5));
        assert_eq!(
            report.truncated_bytes,
            FRAME_HEADER_LEN + payload(5).len() as u64
        );
        assert_eq!(journal.last_position(), 4);
        assert_eq!(read_all(&journal, 0).len(), 4);
    }

    #[test]
    fn absurd_length_in_tail_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let (path, start) = write_five(dir.path());
        let mut bytes = fs::read(&path).unwrap();
        bytes[start as usize..start as usize + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        fs::write(&path, bytes).unwrap();
        let (_, report) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        assert_eq!(report.last_position, 4);
        assert_eq!(report.truncated_at, Some(5));
    }

    #[test]
    fn flipped_byte_in_earlier_segment_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path(), small_options(100)).unwrap();
        for i in 1..=30 {
            journal.append(&payload(i)).unwrap();
        }
        journal.sync().unwrap();
        drop(journal);
        let files = segment_files(dir.path());
        assert!(files.len() >= 3);
        flip_byte(&files[1], SEGMENT_HEADER_LEN + FRAME_HEADER_LEN);
        match Journal::open(dir.path(), small_options(100)) {
            Err(JournalError::Corrupt {
                segment, offset, ..
            }) => {
                assert_eq!(segment, files[1]);
                assert_eq!(offset, SEGMENT_HEADER_LEN);
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn missing_middle_segment_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path(), small_options(100)).unwrap();
        for i in 1..=30 {
            journal.append(&payload(i)).unwrap();
        }
        journal.sync().unwrap();
        drop(journal);
        let files = segment_files(dir.path());
        fs::remove_file(&files[1]).unwrap();
        assert!(matches!(
            Journal::open(dir.path(), small_options(100)),
            Err(JournalError::Corrupt { .. })
        ));
    }

    #[test]
    fn empty_or_headerless_trailing_segment_is_fine() {
        for trailing in [&b""[..], &SEGMENT_MAGIC[..5], &segment_header()[..]] {
            let dir = tempfile::tempdir().unwrap();
            let (_, _) = write_five(dir.path());
            fs::write(segment_path(dir.path(), 6), trailing).unwrap();
            let (mut journal, report) =
                Journal::open(dir.path(), JournalOptions::default()).unwrap();
            assert_eq!(report.last_position, 5);
            assert_eq!(report.segments, 2);
            assert_eq!(journal.append(b"six").unwrap(), 6);
            journal.sync().unwrap();
            drop(journal);
            let (journal, _) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
            assert_eq!(
                read_all(&journal, 4),
                vec![(5, payload(5)), (6, b"six".to_vec())]
            );
        }
    }

    #[test]
    fn foreign_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("README"), b"not a segment").unwrap();
        fs::write(dir.path().join("1.log"), b"not a segment either").unwrap();
        let (mut journal, report) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        assert_eq!(report.last_position, 0);
        journal.append(b"a").unwrap();
        journal.sync().unwrap();
    }

    /// Ten-byte payloads: with `FIXED_SEGMENT_BYTES` every segment holds
    /// exactly four records, so segments start at 1, 5, 9, ...
    fn fixed(i: u64) -> Vec<u8> {
        (0..10).map(|j| (i * 13 + j) as u8).collect()
    }
    const FIXED_FRAME: u64 = FRAME_HEADER_LEN + 10;
    const FIXED_SEGMENT_BYTES: u64 = SEGMENT_HEADER_LEN + 4 * FIXED_FRAME;

    fn fixed_journal(dir: &Path, records: u64) -> Journal {
        let (mut journal, _) = Journal::open(dir, small_options(FIXED_SEGMENT_BYTES)).unwrap();
        for i in 1..=records {
            journal.append(&fixed(i)).unwrap();
        }
        journal.sync().unwrap();
        journal
    }

    fn segment_firsts(dir: &Path) -> Vec<u64> {
        segment_files(dir)
            .iter()
            .map(|f| f.file_stem().unwrap().to_str().unwrap().parse().unwrap())
            .collect()
    }

    fn fixed_records(range: std::ops::RangeInclusive<u64>) -> Vec<(u64, Vec<u8>)> {
        range.map(|i| (i, fixed(i))).collect()
    }

    #[test]
    fn truncate_in_middle_of_active_segment() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        for i in 1..=4 {
            journal.append(&payload(i)).unwrap();
        }
        journal.sync().unwrap();
        // Records 5..=10 are still buffered: the cut must flush them first
        // and leave 5 and 6 durable.
        for i in 5..=10 {
            journal.append(&payload(i)).unwrap();
        }
        assert_eq!(journal.durable_position(), 4);
        assert_eq!(journal.truncate_after(6).unwrap(), 4);
        assert_eq!(journal.last_position(), 6);
        assert_eq!(journal.durable_position(), 6);
        let expected_len = SEGMENT_HEADER_LEN
            + (1..=6)
                .map(|i| FRAME_HEADER_LEN + payload(i).len() as u64)
                .sum::<u64>();
        let files = segment_files(dir.path());
        assert_eq!(files.len(), 1);
        assert_eq!(fs::metadata(&files[0]).unwrap().len(), expected_len);
        let expected: Vec<(u64, Vec<u8>)> = (1..=6).map(|i| (i, payload(i))).collect();
        assert_eq!(read_all(&journal, 0), expected);

        assert_eq!(journal.append(b"seven").unwrap(), 7);
        journal.sync().unwrap();
        drop(journal);
        let (journal, report) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        assert_eq!(report.last_position, 7);
        assert_eq!(report.truncated_at, None);
        let mut expected = expected;
        expected.push((7, b"seven".to_vec()));
        assert_eq!(read_all(&journal, 0), expected);
    }

    #[test]
    fn truncate_across_segments_removes_later_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = fixed_journal(dir.path(), 30);
        assert_eq!(
            segment_firsts(dir.path()),
            vec![1, 5, 9, 13, 17, 21, 25, 29]
        );
        // Record 11 is the third record of segment 9.
        assert_eq!(journal.truncate_after(10).unwrap(), 20);
        assert_eq!(segment_firsts(dir.path()), vec![1, 5, 9]);
        assert_eq!(
            fs::metadata(segment_path(dir.path(), 9)).unwrap().len(),
            SEGMENT_HEADER_LEN + 2 * FIXED_FRAME
        );
        assert_eq!(journal.last_position(), 10);
        assert_eq!(journal.durable_position(), 10);
        assert_eq!(read_all(&journal, 0), fixed_records(1..=10));
        assert_eq!(read_all(&journal, 7), fixed_records(8..=10));

        // Appends fill the cut segment, then roll to a correctly named one.
        for i in 11..=14 {
            assert_eq!(journal.append(&fixed(i + 100)).unwrap(), i);
        }
        journal.sync().unwrap();
        assert_eq!(segment_firsts(dir.path()), vec![1, 5, 9, 13]);
        let mut expected = fixed_records(1..=10);
        expected.extend((11..=14).map(|i| (i, fixed(i + 100))));
        assert_eq!(read_all(&journal, 0), expected);
        drop(journal);

        let (journal, report) =
            Journal::open(dir.path(), small_options(FIXED_SEGMENT_BYTES)).unwrap();
        assert_eq!(report.last_position, 14);
        assert_eq!(report.segments, 4);
        assert_eq!(read_all(&journal, 0), expected);
    }

    #[test]
    fn truncate_at_segment_boundary_keeps_empty_segment() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = fixed_journal(dir.path(), 30);
        // Record 9 is the first record of segment 9: that segment stays,
        // reduced to its header, as the new active segment.
        assert_eq!(journal.truncate_after(8).unwrap(), 22);
        assert_eq!(segment_firsts(dir.path()), vec![1, 5, 9]);
        assert_eq!(
            fs::metadata(segment_path(dir.path(), 9)).unwrap().len(),
            SEGMENT_HEADER_LEN
        );
        assert_eq!(read_all(&journal, 0), fixed_records(1..=8));
        assert_eq!(read_all(&journal, 8), vec![]);
        drop(journal);

        let (mut journal, report) =
            Journal::open(dir.path(), small_options(FIXED_SEGMENT_BYTES)).unwrap();
        assert_eq!(report.last_position, 8);
        assert_eq!(report.segments, 3);
        assert_eq!(read_all(&journal, 0), fixed_records(1..=8));
        assert_eq!(journal.append(&fixed(9)).unwrap(), 9);
        journal.sync().unwrap();
        assert_eq!(segment_firsts(dir.path()), vec![1, 5, 9]);
        assert_eq!(read_all(&journal, 0), fixed_records(1..=9));
    }

    #[test]
    fn truncate_everything() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = fixed_journal(dir.path(), 10);
        assert_eq!(journal.truncate_after(0).unwrap(), 10);
        assert_eq!(segment_firsts(dir.path()), vec![1]);
        assert_eq!(journal.last_position(), 0);
        assert_eq!(journal.durable_position(), 0);
        assert_eq!(read_all(&journal, 0), vec![]);
        assert_eq!(journal.append(b"again").unwrap(), 1);
        journal.sync().unwrap();
        drop(journal);
        let (journal, report) =
            Journal::open(dir.path(), small_options(FIXED_SEGMENT_BYTES)).unwrap();
        assert_eq!(report.last_position, 1);
        assert_eq!(read_all(&journal, 0), vec![(1, b"again".to_vec())]);
    }

    #[test]
    fn truncate_at_last_position_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let (mut empty, _) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        assert_eq!(empty.truncate_after(0).unwrap(), 0);
        assert_eq!(empty.last_position(), 0);
        drop(empty);

        let dir = tempfile::tempdir().unwrap();
        let mut journal = fixed_journal(dir.path(), 10);
        let lens: Vec<u64> = segment_files(dir.path())
            .iter()
            .map(|f| fs::metadata(f).unwrap().len())
            .collect();
        assert_eq!(journal.truncate_after(10).unwrap(), 0);
        assert_eq!(journal.last_position(), 10);
        let lens_after: Vec<u64> = segment_files(dir.path())
            .iter()
            .map(|f| fs::metadata(f).unwrap().len())
            .collect();
        assert_eq!(lens_after, lens);
        assert_eq!(journal.append(&fixed(11)).unwrap(), 11);
        journal.sync().unwrap();
        assert_eq!(read_all(&journal, 0), fixed_records(1..=11));
    }

    #[test]
    fn truncate_beyond_end_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = fixed_journal(dir.path(), 10);
        assert!(matches!(
            journal.truncate_after(11),
            Err(JournalError::TruncateBeyondEnd {
                requested: 11,
                last: 10
            })
        ));
        assert!(matches!(
            journal.truncate_after(u64::MAX),
            Err(JournalError::TruncateBeyondEnd { .. })
        ));
        // A rejected request changes nothing and does not poison.
        assert_eq!(journal.last_position(), 10);
        assert_eq!(journal.append(&fixed(11)).unwrap(), 11);
        journal.sync().unwrap();
        assert_eq!(read_all(&journal, 0), fixed_records(1..=11));
    }

    #[test]
    fn truncate_before_oldest_retained_record_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        drop(fixed_journal(dir.path(), 20));
        // Simulate retention having removed the two oldest segments.
        fs::remove_file(segment_path(dir.path(), 1)).unwrap();
        fs::remove_file(segment_path(dir.path(), 5)).unwrap();
        let (mut journal, report) =
            Journal::open(dir.path(), small_options(FIXED_SEGMENT_BYTES)).unwrap();
        assert_eq!(report.last_position, 20);
        assert!(matches!(
            journal.truncate_after(7),
            Err(JournalError::PositionUnavailable {
                requested: 7,
                first_available: 9
            })
        ));
        assert_eq!(journal.last_position(), 20);

        // Position 8 (first retained - 1) drops every retained record.
        assert_eq!(journal.truncate_after(8).unwrap(), 12);
        assert_eq!(segment_firsts(dir.path()), vec![9]);
        assert_eq!(journal.append(&fixed(9)).unwrap(), 9);
        journal.sync().unwrap();
        drop(journal);
        let (journal, report) =
            Journal::open(dir.path(), small_options(FIXED_SEGMENT_BYTES)).unwrap();
        assert_eq!(report.last_position, 9);
        assert_eq!(read_all(&journal, 8), fixed_records(9..=9));
    }

    #[test]
    fn truncate_refuses_when_poisoned() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = fixed_journal(dir.path(), 10);
        journal.poisoned = true;
        assert!(matches!(
            journal.truncate_after(5),
            Err(JournalError::Poisoned)
        ));
        assert_eq!(segment_firsts(dir.path()), vec![1, 5, 9]);
        assert_eq!(journal.last_position(), 10);
    }

    #[test]
    fn truncate_detects_segment_shorter_than_expected() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = fixed_journal(dir.path(), 10);
        // Chop records 3 and 4 off behind the journal's back; keeping
        // record 3 is then impossible.
        let path = segment_path(dir.path(), 1);
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(SEGMENT_HEADER_LEN + 2 * FIXED_FRAME).unwrap();
        drop(file);
        assert!(matches!(
            journal.truncate_after(3),
            Err(JournalError::Corrupt { offset, .. }) if offset == SEGMENT_HEADER_LEN + 2 * FIXED_FRAME
        ));
        assert_eq!(journal.last_position(), 10);
        // Nothing was removed.
        assert_eq!(segment_firsts(dir.path()), vec![1, 5, 9]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn truncate_then_reopen_keeps_exact_prefix(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..60),
            segment_bytes in 64u64..2048,
            synced_seed in any::<u64>(),
            cut_seed in any::<u64>(),
            extra in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..10),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let options = small_options(segment_bytes);
            let (mut journal, _) = Journal::open(dir.path(), options.clone()).unwrap();
            // Sync only a prefix, so the cut also meets buffered records.
            let synced = synced_seed % (payloads.len() as u64 + 1);
            for (i, p) in payloads.iter().enumerate() {
                journal.append(p).unwrap();
                if i as u64 + 1 == synced {
                    journal.sync().unwrap();
                }
            }
            let total = payloads.len() as u64;
            let position = cut_seed % (total + 1);
            prop_assert_eq!(journal.truncate_after(position).unwrap(), total - position);
            prop_assert_eq!(journal.last_position(), position);
            if position < total {
                prop_assert_eq!(journal.durable_position(), position);
            } else {
                // The no-op does not sync.
                journal.sync().unwrap();
            }
            let expected: Vec<(u64, Vec<u8>)> = payloads[..position as usize]
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, p)| (i as u64 + 1, p))
                .collect();
            prop_assert_eq!(read_all(&journal, 0), expected.clone());
            for first in segment_firsts(dir.path()) {
                prop_assert!(first <= position + 1, "segment {} survived a cut at {}", first, position);
            }
            drop(journal);

            let (mut journal, report) = Journal::open(dir.path(), options.clone()).unwrap();
            prop_assert_eq!(report.last_position, position);
            prop_assert_eq!(report.truncated_at, None);
            prop_assert_eq!(read_all(&journal, 0), expected.clone());

            let mut expected = expected;
            for (k, p) in extra.iter().enumerate() {
                let at = position + 1 + k as u64;
                prop_assert_eq!(journal.append(p).unwrap(), at);
                expected.push((at, p.clone()));
            }
            journal.sync().unwrap();
            drop(journal);
            let (journal, report) = Journal::open(dir.path(), options).unwrap();
            prop_assert_eq!(report.last_position, position + extra.len() as u64);
            prop_assert_eq!(read_all(&journal, 0), expected);
        }

        #[test]
        fn random_payload_sequences_round_trip(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..60),
            segment_bytes in 64u64..2048,
            sync_every in 1usize..20,
            after_seed in any::<u64>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let options = small_options(segment_bytes);
            let (mut journal, _) = Journal::open(dir.path(), options.clone()).unwrap();
            for (i, p) in payloads.iter().enumerate() {
                prop_assert_eq!(journal.append(p).unwrap(), i as u64 + 1);
                if (i + 1) % sync_every == 0 {
                    journal.sync().unwrap();
                }
            }
            journal.sync().unwrap();
            let expected: Vec<(u64, Vec<u8>)> =
                payloads.iter().cloned().enumerate().map(|(i, p)| (i as u64 + 1, p)).collect();
            prop_assert_eq!(read_all(&journal, 0), expected.clone());
            drop(journal);

            let (journal, report) = Journal::open(dir.path(), options).unwrap();
            prop_assert_eq!(report.last_position, payloads.len() as u64);
            prop_assert_eq!(report.truncated_at, None);
            prop_assert_eq!(read_all(&journal, 0), expected.clone());
            let after = after_seed % (payloads.len() as u64 + 1);
            prop_assert_eq!(read_all(&journal, after), expected[after as usize..].to_vec());
        }
    }
}
