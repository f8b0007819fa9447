//! Snapshot files: atomic, checksummed images of the projected state at a
//! journal position, so a restart replays only the journal suffix.
//!
//! This module owns the snapshot file format and its lifecycle in one
//! directory: writing via temp file + fsync + rename + directory fsync,
//! picking the newest snapshot that verifies, and pruning old snapshots and
//! stray temp files. Files are named `snapshot-<position:020>.bin` and laid
//! out as a fixed header followed by the opaque body:
//!
//! ```text
//! magic "INCSNAP\0" | u32 version | u32 reserved (0) | u64 position |
//! u64 body length | u32 crc32(body) | u32 crc32(preceding header bytes) | body
//! ```
//!
//! All integers are little-endian. The store assumes a single process per
//! directory; within the process, operations are serialised by a mutex.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

const MAGIC: [u8; 8] = *b"INCSNAP\0";
const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 40;
const PREFIX: &str = "snapshot-";
const SUFFIX: &str = ".bin";
const TEMP_SUFFIX: &str = ".bin.tmp";
const POSITION_DIGITS: usize = 20;
/// The newest snapshot plus one fallback in case the newest turns out corrupt.
const DEFAULT_KEEP: usize = 2;
const IO_BUFFER_BYTES: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot I/O error ({op}) on {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SnapshotError + 'a {
    move |source| SnapshotError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn snapshot_name(position: u64) -> String {
    format!("{PREFIX}{position:0POSITION_DIGITS$}{SUFFIX}")
}

fn parse_position(digits: &str) -> Option<u64> {
    if digits.len() != POSITION_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
        .and_then(parse_position)
        .is_some()
}

fn parse_snapshot_name(name: &str) -> Option<u64> {
    name.strip_prefix(PREFIX)?
        .strip_suffix(SUFFIX)
        .and_then(parse_position)
}

fn encode_header(position: u64, body_len: u64, body_crc: u32) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[0..8].copy_from_slice(&MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&position.to_le_bytes());
    header[24..32].copy_from_slice(&body_len.to_le_bytes());
    header[32..36].copy_from_slice(&body_crc.to_le_bytes());
    let header_crc = crc32fast::hash(&header[..36]);
    header[36..40].copy_from_slice(&header_crc.to_le_bytes());
    header
}

struct Header {
    position: u64,
    body_len: u64,
    body_crc: u32,
}

fn decode_header(header: &[u8; HEADER_LEN]) -> Result<Header, String> {
    let u32_at = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let u64_at = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&header[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    if header[0..8] != MAGIC {
        return Err("bad magic".into());
    }
    if crc32fast::hash(&header[..36]) != u32_at(36) {
        return Err("header checksum mismatch".into());
    }
    let version = u32_at(8);
    if version != FORMAT_VERSION {
        return Err(format!("unsupported format version {version}"));
    }
    Ok(Header {
        position: u64_at(16),
        body_len: u64_at(24),
        body_crc: u32_at(32),
    })
}

fn sync_dir(dir: &Path) -> Result<(), SnapshotError> {
    crate::fsync::sync_dir(dir).map_err(io_err("fsync directory", dir))
}

/// Computes the body checksum on the way through, so the body never has to
/// be held or re-read to checksum it.
struct ChecksumWriter<W> {
    inner: W,
    hasher: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Write for ChecksumWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Why a snapshot file was rejected (it is skipped, not fatal).
struct Invalid(String);

/// A snapshot store rooted at one directory.
#[derive(Debug)]
pub struct SnapshotStore {
    dir: PathBuf,
    keep: usize,
    /// Serialises writers (which prune) against each other and against
    /// loaders, so a loader never races a deletion.
    lock: Mutex<()>,
}

impl SnapshotStore {
    /// Opens the store in `dir`, creating it if missing and removing temp
    /// files left by an interrupted write.
    pub fn open(dir: &Path) -> Result<SnapshotStore, SnapshotError> {
        fs::create_dir_all(dir).map_err(io_err("create snapshot directory", dir))?;
        let store = SnapshotStore {
            dir: dir.to_path_buf(),
            keep: DEFAULT_KEEP,
            lock: Mutex::new(()),
        };
        store.remove_temp_files()?;
        Ok(store)
    }

    /// Writes `bytes` as the snapshot of the state at journal `position`:
    /// temp file, fsync, rename, fsync dir. Keeps the newest 2 snapshots,
    /// deletes older ones and stray temp files.
    pub fn write(&self, position: u64, bytes: &[u8]) -> Result<u64, SnapshotError> {
        self.write_with(position, |out| out.write_all(bytes))
    }

    /// Like [`SnapshotStore::write`], but the body is streamed by `body`
    /// into the file, so a large state can be serialised without first
    /// materialising it in memory. Returns the body's length in bytes.
    pub fn write_with<F>(&self, position: u64, body: F) -> Result<u64, SnapshotError>
    where
        F: FnOnce(&mut dyn Write) -> io::Result<()>,
    {
        let _guard = self.guard();
        let started = Instant::now();
        let final_path = self.dir.join(snapshot_name(position));
        let temp_path = self
            .dir
            .join(format!("{PREFIX}{position:0POSITION_DIGITS$}{TEMP_SUFFIX}"));
        let body_len = match write_temp(&temp_path, position, body) {
            Ok(len) => len,
            Err(e) => {
                // Best effort: a leftover temp file is also removed on the
                // next open or write.
                let _ = fs::remove_file(&temp_path);
                return Err(e);
            }
        };
        fs::rename(&temp_path, &final_path)
            .map_err(io_err("rename snapshot into place", &final_path))?;
        sync_dir(&self.dir)?;
        tracing::info!(
            snapshot = %final_path.display(),
            position,
            bytes = body_len,
            "snapshot written"
        );
        metrics::histogram!("incontra_snapshot_write_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::gauge!("incontra_snapshot_bytes").set(body_len as f64);
        metrics::gauge!("incontra_snapshot_position").set(position as f64);
        self.prune()?;
        Ok(body_len)
    }

    /// Newest snapshot whose header and checksum verify; a corrupt newest
    /// one is logged and skipped in favour of the previous.
    pub fn load_latest(&self) -> Result<Option<(u64, Vec<u8>)>, SnapshotError> {
        let _guard = self.guard();
        for position in self.list_positions()?.into_iter().rev() {
            let path = self.dir.join(snapshot_name(position));
            let mut body = Vec::new();
            match verify(&path, position, Some(&mut body))? {
                Ok(()) => return Ok(Some((position, body))),
                Err(Invalid(reason)) => warn_invalid(&path, &reason),
            }
        }
        Ok(None)
    }

    /// Like [`SnapshotStore::load_latest`], but the body is memory-mapped
    /// rather than read: a restore decodes straight from the page cache,
    /// without a second copy of a body that can be gigabytes.
    pub fn load_latest_mapped(&self) -> Result<Option<(u64, MappedSnapshot)>, SnapshotError> {
        let _guard = self.guard();
        for position in self.list_positions()?.into_iter().rev() {
            let path = self.dir.join(snapshot_name(position));
            match map_verified(&path, position)? {
                Ok(mapped) => return Ok(Some((position, mapped))),
                Err(Invalid(reason)) => warn_invalid(&path, &reason),
            }
        }
        Ok(None)
    }

    /// Position of the snapshot [`SnapshotStore::load_latest`] would return.
    /// Verifies checksums by streaming the file (no body kept in memory), so
    /// it costs one sequential read of the newest snapshot.
    pub fn latest_position(&self) -> Result<Option<u64>, SnapshotError> {
        let _guard = self.guard();
        for position in self.list_positions()?.into_iter().rev() {
            let path = self.dir.join(snapshot_name(position));
            match verify(&path, position, None)? {
                Ok(()) => return Ok(Some(position)),
                Err(Invalid(reason)) => warn_invalid(&path, &reason),
            }
        }
        Ok(None)
    }

    fn guard(&self) -> MutexGuard<'_, ()> {
        // The mutex guards no data, so a panic in another holder leaves
        // nothing inconsistent behind.
        self.lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Snapshot positions present in the directory, ascending.
    fn list_positions(&self) -> Result<Vec<u64>, SnapshotError> {
        let mut positions = Vec::new();
        for entry in
            fs::read_dir(&self.dir).map_err(io_err("list snapshot directory", &self.dir))?
        {
            let entry = entry.map_err(io_err("list snapshot directory", &self.dir))?;
            if let Some(position) = entry.file_name().to_str().and_then(parse_snapshot_name) {
                positions.push(position);
            }
        }
        positions.sort_unstable();
        Ok(positions)
    }

    fn remove_temp_files(&self) -> Result<usize, SnapshotError> {
        let mut removed = 0;
        for entry in
            fs::read_dir(&self.dir).map_err(io_err("list snapshot directory", &self.dir))?
        {
            let entry = entry.map_err(io_err("list snapshot directory", &self.dir))?;
            if entry.file_name().to_str().is_some_and(is_temp_name) {
                let path = entry.path();
                tracing::warn!(file = %path.display(), "removing leftover snapshot temp file");
                remove_if_present(&path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn prune(&self) -> Result<(), SnapshotError> {
        let mut removed = self.remove_temp_files()?;
        let positions = self.list_positions()?;
        let excess = positions.len().saturating_sub(self.keep);
        for &position in &positions[..excess] {
            let path = self.dir.join(snapshot_name(position));
            tracing::debug!(snapshot = %path.display(), "pruning old snapshot");
            remove_if_present(&path)?;
            removed += 1;
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }
}

fn remove_if_present(path: &Path) -> Result<(), SnapshotError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(io_err("remove file", path)(e)),
        _ => Ok(()),
    }
}

fn warn_invalid(path: &Path, reason: &str) {
    tracing::warn!(
        snapshot = %path.display(),
        reason,
        "snapshot failed verification; falling back to an older one"
    );
}

/// Writes the temp file completely and fsyncs it; returns the body length.
fn write_temp<F>(path: &Path, position: u64, body: F) -> Result<u64, SnapshotError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(io_err("create snapshot temp file", path))?;
    let mut writer = BufWriter::with_capacity(IO_BUFFER_BYTES, file);
    // Placeholder until the checksum is known; it carries no magic, so the
    // file is invalid until the real header is written at the end.
    writer
        .write_all(&[0u8; HEADER_LEN])
        .map_err(io_err("write snapshot", path))?;
    let mut out = ChecksumWriter {
        inner: writer,
        hasher: crc32fast::Hasher::new(),
        len: 0,
    };
    body(&mut out).map_err(io_err("write snapshot body", path))?;
    let ChecksumWriter { inner, hasher, len } = out;
    let mut file = inner
        .into_inner()
        .map_err(|e| io_err("write snapshot", path)(e.into_error()))?;
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.write_all(&encode_header(position, len, hasher.finalize())))
        .and_then(|()| file.sync_all())
        .map_err(io_err("finish snapshot temp file", path))?;
    Ok(len)
}

/// Decodes a header and checks it against the file's name and length.
fn check_header(
    raw: &[u8; HEADER_LEN],
    expected_position: u64,
    file_len: u64,
) -> Result<Header, Invalid> {
    let header = decode_header(raw).map_err(Invalid)?;
    if header.position != expected_position {
        return Err(Invalid(format!(
            "header position {} does not match file name",
            header.position
        )));
    }
    let on_disk = file_len - HEADER_LEN as u64;
    if header.body_len != on_disk {
        return Err(Invalid(format!(
            "header says {} body bytes, file has {on_disk}",
            header.body_len
        )));
    }
    Ok(header)
}

/// A verified snapshot body, mapped read-only.
pub struct MappedSnapshot {
    map: memmap2::Mmap,
}

impl MappedSnapshot {
    pub fn body(&self) -> &[u8] {
        &self.map[HEADER_LEN..]
    }
}

fn map_verified(
    path: &Path,
    expected_position: u64,
) -> Result<Result<MappedSnapshot, Invalid>, SnapshotError> {
    let file = File::open(path).map_err(io_err("open snapshot", path))?;
    // SAFETY: snapshot files are written under a temporary name and never
    // modified after the rename; pruning only unlinks them, which leaves an
    // existing mapping intact on Unix.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_err("map snapshot", path))?;
    if map.len() < HEADER_LEN {
        return Ok(Err(Invalid(format!(
            "file is {} bytes, shorter than the header",
            map.len()
        ))));
    }
    let mut raw = [0u8; HEADER_LEN];
    raw.copy_from_slice(&map[..HEADER_LEN]);
    let header = match check_header(&raw, expected_position, map.len() as u64) {
        Ok(header) => header,
        Err(invalid) => return Ok(Err(invalid)),
    };
    let body = &map[HEADER_LEN..];
    if crc32fast::hash(body) != header.body_crc {
        return Ok(Err(Invalid("body checksum mismatch".into())));
    }
    Ok(Ok(MappedSnapshot { map }))
}

/// Checks the snapshot at `path` against its header and checksum, reading
/// the body into `body` if given. Damage is an `Ok(Err(Invalid))`; only
/// genuine I/O failures are errors.
fn verify(
    path: &Path,
    expected_position: u64,
    body: Option<&mut Vec<u8>>,
) -> Result<Result<(), Invalid>, SnapshotError> {
    let file = File::open(path).map_err(io_err("open snapshot", path))?;
    let file_len = file
        .metadata()
        .map_err(io_err("stat snapshot", path))?
        .len();
    if file_len < HEADER_LEN as u64 {
        return Ok(Err(Invalid(format!(
            "file is {file_len} bytes, shorter than the header"
        ))));
    }
    let mut reader = BufReader::with_capacity(IO_BUFFER_BYTES, file);
    let mut raw = [0u8; HEADER_LEN];
    reader
        .read_exact(&mut raw)
        .map_err(io_err("read snapshot header", path))?;
    let header = match check_header(&raw, expected_position, file_len) {
        Ok(header) => header,
        Err(invalid) => return Ok(Err(invalid)),
    };
    let crc = match body {
        Some(body) => {
            let Ok(len) = usize::try_from(header.body_len) else {
                return Ok(Err(Invalid("body does not fit in memory".into())));
            };
            body.clear();
            body.reserve_exact(len);
            // The file can still shrink under us; a short read is damage.
            let read = (&mut reader)
                .take(header.body_len)
                .read_to_end(body)
                .map_err(io_err("read snapshot body", path))?;
            if read as u64 != header.body_len {
                return Ok(Err(Invalid("body shorter than header says".into())));
            }
            crc32fast::hash(body)
        }
        None => {
            let mut hasher = crc32fast::Hasher::new();
            let mut limited = (&mut reader).take(header.body_len);
            let mut read = 0u64;
            loop {
                let chunk = limited
                    .fill_buf()
                    .map_err(io_err("read snapshot body", path))?;
                if chunk.is_empty() {
                    break;
                }
                let n = chunk.len();
                hasher.update(chunk);
                limited.consume(n);
                read += n as u64;
            }
            if read != header.body_len {
                return Ok(Err(Invalid("body shorter than header says".into())));
            }
            hasher.finalize()
        }
    };
    if crc != header.body_crc {
        return Ok(Err(Invalid("body checksum mismatch".into())));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
            .collect()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn empty_store_has_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(&dir.path().join("nested/snapshots")).unwrap();
        assert_eq!(store.load_latest().unwrap(), None);
        assert_eq!(store.latest_position().unwrap(), None);
    }

    #[test]
    fn write_then_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        store.write(42, &body(3, 100_000)).unwrap();
        assert_eq!(store.load_latest().unwrap(), Some((42, body(3, 100_000))));
        assert_eq!(store.latest_position().unwrap(), Some(42));
        store.write(50, b"").unwrap();
        assert_eq!(store.load_latest().unwrap(), Some((50, vec![])));
        drop(store);

        let store = SnapshotStore::open(dir.path()).unwrap();
        assert_eq!(store.load_latest().unwrap(), Some((50, vec![])));
        assert_eq!(
            names(dir.path()),
            vec![snapshot_name(42), snapshot_name(50)]
        );
    }

    #[test]
    fn streamed_write_matches_buffered_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        let data = body(5, 3 * IO_BUFFER_BYTES + 17);
        store
            .write_with(7, |out| {
                for chunk in data.chunks(4096) {
                    out.write_all(chunk)?;
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(store.load_latest().unwrap(), Some((7, data)));
    }

    #[test]
    fn failed_body_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        store.write(1, b"one").unwrap();
        let err = store
            .write_with(2, |out| {
                out.write_all(b"partial")?;
                Err(io::Error::other("serialisation failed"))
            })
            .unwrap_err();
        assert!(matches!(err, SnapshotError::Io { .. }));
        assert_eq!(names(dir.path()), vec![snapshot_name(1)]);
        assert_eq!(store.load_latest().unwrap(), Some((1, b"one".to_vec())));
    }

    #[test]
    fn corrupt_newest_falls_back_to_previous() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        store.write(10, &body(1, 5000)).unwrap();
        store.write(20, &body(2, 5000)).unwrap();
        let newest = dir.path().join(snapshot_name(20));

        // Body damage.
        let mut bytes = fs::read(&newest).unwrap();
        bytes[HEADER_LEN + 1234] ^= 0x01;
        fs::write(&newest, &bytes).unwrap();
        assert_eq!(store.load_latest().unwrap(), Some((10, body(1, 5000))));
        assert_eq!(store.latest_position().unwrap(), Some(10));

        // Header damage.
        bytes[HEADER_LEN + 1234] ^= 0x01;
        bytes[17] ^= 0x01;
        fs::write(&newest, &bytes).unwrap();
        assert_eq!(store.latest_position().unwrap(), Some(10));

        // Truncation.
        bytes[17] ^= 0x01;
        fs::write(&newest, &bytes[..bytes.len() - 1]).unwrap();
        assert_eq!(store.latest_position().unwrap(), Some(10));
        fs::write(&newest, &bytes[..10]).unwrap();
        assert_eq!(store.load_latest().unwrap(), Some((10, body(1, 5000))));

        // Repaired: the newest wins again.
        fs::write(&newest, &bytes).unwrap();
        assert_eq!(store.load_latest().unwrap(), Some((20, body(2, 5000))));

        // Renamed to a different position: the header no longer matches.
        fs::rename(&newest, dir.path().join(snapshot_name(30))).unwrap();
        assert_eq!(store.latest_position().unwrap(), Some(10));

        fs::write(dir.path().join(snapshot_name(10)), b"garbage").unwrap();
        assert_eq!(store.load_latest().unwrap(), None);
    }

    #[test]
    fn mapped_load_matches_and_skips_corrupt_newest() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        store.write(10, &body(3, 5000)).unwrap();
        store.write(20, &body(5, 7000)).unwrap();
        let (position, mapped) = store.load_latest_mapped().unwrap().unwrap();
        assert_eq!(position, 20);
        assert_eq!(mapped.body(), &body(5, 7000)[..]);
        drop(mapped);
        let newest = dir.path().join(snapshot_name(20));
        let mut bytes = fs::read(&newest).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&newest, bytes).unwrap();
        let (position, mapped) = store.load_latest_mapped().unwrap().unwrap();
        assert_eq!(position, 10);
        assert_eq!(mapped.body(), &body(3, 5000)[..]);
    }

    #[test]
    fn keeps_the_newest_two() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        for position in [5, 9, 12, 40] {
            store.write(position, &body(position as u8, 64)).unwrap();
        }
        assert_eq!(
            names(dir.path()),
            vec![snapshot_name(12), snapshot_name(40)]
        );
        assert_eq!(store.load_latest().unwrap(), Some((40, body(40, 64))));
    }

    #[test]
    fn truncated_temp_file_is_ignored_and_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        store.write(10, b"ten").unwrap();
        drop(store);

        // A crash mid-write: a temp file for a newer position with only part
        // of its contents.
        let temp = dir.path().join(format!("{PREFIX}{:020}{TEMP_SUFFIX}", 99));
        fs::write(&temp, [0u8; 25]).unwrap();
        fs::write(dir.path().join("unrelated.txt"), b"keep me").unwrap();

        let store = SnapshotStore::open(dir.path()).unwrap();
        assert!(!temp.exists());
        assert_eq!(store.load_latest().unwrap(), Some((10, b"ten".to_vec())));

        // Also cleaned by a write if one appears while the store is open.
        fs::write(&temp, [1u8; 3]).unwrap();
        assert_eq!(store.latest_position().unwrap(), Some(10));
        store.write(11, b"eleven").unwrap();
        assert_eq!(
            names(dir.path()),
            vec![
                snapshot_name(10),
                snapshot_name(11),
                "unrelated.txt".to_string()
            ]
        );
    }

    #[test]
    fn rewriting_same_position_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        store.write(3, b"old").unwrap();
        store.write(3, b"new").unwrap();
        assert_eq!(store.load_latest().unwrap(), Some((3, b"new".to_vec())));
        assert_eq!(names(dir.path()), vec![snapshot_name(3)]);
    }
}
