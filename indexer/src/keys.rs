//! The key store of crypto-shredding: one random AES-256-GCM key per person,
//! the only thing that can open their sealed personal data
//! ([`SealedPersonalData`]) wherever the journal, a snapshot or a copy of
//! either went. Erasing a person (GDPR art. 17) destroys their key, and
//! every sealed copy becomes noise.
//!
//! Keys live in `<data-dir>/keys/`, never beside what they seal: 256 shard
//! files (`00.keys` … `ff.keys`, by a hash of the owner) hold the keys in
//! compacted form, and `new.log` the keys created since the last compaction,
//! appended with one fsync per batch (before the journal's, so no journaled
//! event is sealed under a key a crash could lose). Destroying a key
//! rewrites its shard (and first compacts `new.log` into the shards when the
//! key is still there): temporary file, fsync, rename, directory fsync, so
//! no file in the directory holds it afterwards.
//!
//! Each record is the owner's 128-bit hash and the key, with a CRC; a torn
//! last record of `new.log` (a crash mid-append) is dropped, which only
//! loses keys no acknowledged event was sealed with. The owner is a keyed
//! pseudonym, so not even its hash names a person.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use incontra_engine::model::{PersonalData, SealedPersonalData};
use incontra_proto::events::v1 as pb;
use prost::Message;
use xxhash_rust::xxh3::xxh3_128;

use crate::fsync::sync_dir;

const KEY_BYTES: usize = 32;
/// Owner hash, key, CRC32 of both.
const RECORD_BYTES: usize = 16 + KEY_BYTES + 4;
const SHARDS: usize = 256;
const LOG: &str = "new.log";
/// `new.log` is folded into the shards past this size (about 160,000
/// keys), so a start reads it in a moment and an erasure rewrites little.
const LOG_COMPACT_BYTES: u64 = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("key store I/O error ({op}) on {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("key store shard {} is damaged at byte {offset}", path.display())]
    Corrupt { path: PathBuf, offset: usize },
    #[error("sealing personal data failed")]
    Seal,
    #[error("the key store's lock was poisoned by a panic")]
    Poisoned,
}

fn io_error<'p>(op: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> KeysError + 'p {
    move |source| KeysError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

type OwnerHash = u128;

fn owner_hash(owner: &str) -> OwnerHash {
    xxh3_128(owner.as_bytes())
}

fn shard_of(hash: OwnerHash) -> usize {
    (hash & 0xff) as usize
}

fn record(hash: OwnerHash, key: &[u8; KEY_BYTES]) -> [u8; RECORD_BYTES] {
    let mut r = [0u8; RECORD_BYTES];
    r[..16].copy_from_slice(&hash.to_le_bytes());
    r[16..16 + KEY_BYTES].copy_from_slice(key);
    let crc = crc32fast::hash(&r[..16 + KEY_BYTES]);
    r[16 + KEY_BYTES..].copy_from_slice(&crc.to_le_bytes());
    r
}

/// Parses whole records; returns them and the length of the valid prefix.
fn parse(bytes: &[u8]) -> (Vec<(OwnerHash, [u8; KEY_BYTES])>, usize) {
    let mut out = Vec::with_capacity(bytes.len() / RECORD_BYTES);
    let mut valid = 0;
    for r in bytes.chunks_exact(RECORD_BYTES) {
        let crc = u32::from_le_bytes([r[48], r[49], r[50], r[51]]);
        if crc32fast::hash(&r[..16 + KEY_BYTES]) != crc {
            break;
        }
        let mut hash = [0u8; 16];
        hash.copy_from_slice(&r[..16]);
        let mut key = [0u8; KEY_BYTES];
        key.copy_from_slice(&r[16..16 + KEY_BYTES]);
        out.push((u128::from_le_bytes(hash), key));
        valid += RECORD_BYTES;
    }
    (out, valid)
}

#[derive(Default)]
struct Inner {
    keys: HashMap<OwnerHash, [u8; KEY_BYTES]>,
    /// Created since the last `sync`, in order.
    pending: Vec<OwnerHash>,
    /// Owners whose key `new.log` holds.
    in_log: HashSet<OwnerHash>,
    log_bytes: u64,
}

/// Per-person keys: seals and opens personal data, destroys a person's key.
/// Thread-safe; `sync` makes the keys created so far durable.
pub struct PersonKeys {
    /// `None`: in memory only (tests and the evaluation's simulated world).
    dir: Option<PathBuf>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for PersonKeys {
    // Never the keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonKeys")
            .field("dir", &self.dir)
            .finish()
    }
}

impl PersonKeys {
    /// Keys that die with the process: for a world folded in memory.
    pub fn in_memory() -> PersonKeys {
        PersonKeys {
            dir: None,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Opens (or creates) the key store in `dir`.
    pub fn open(dir: &Path) -> Result<PersonKeys, KeysError> {
        fs::create_dir_all(dir).map_err(io_error("create", dir))?;
        let mut inner = Inner::default();
        for shard in 0..SHARDS {
            let path = shard_path(dir, shard);
            let bytes = match fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error("read", &path)(e)),
            };
            let (records, valid) = parse(&bytes);
            if valid != bytes.len() {
                // Shards are only ever replaced whole, by rename.
                return Err(KeysError::Corrupt {
                    path,
                    offset: valid,
                });
            }
            inner.keys.extend(records);
        }
        let log = dir.join(LOG);
        match fs::read(&log) {
            Ok(bytes) => {
                let (records, valid) = parse(&bytes);
                if valid != bytes.len() {
                    tracing::warn!(
                        cut_bytes = bytes.len() - valid,
                        "key store: a torn record at the end of new.log was cut"
                    );
                    let file = OpenOptions::new()
                        .write(true)
                        .open(&log)
                        .map_err(io_error("open", &log))?;
                    file.set_len(valid as u64)
                        .map_err(io_error("truncate", &log))?;
                    file.sync_all().map_err(io_error("fsync", &log))?;
                }
                for (hash, key) in records {
                    inner.keys.insert(hash, key);
                    inner.in_log.insert(hash);
                }
                inner.log_bytes = valid as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("read", &log)(e)),
        }
        Ok(PersonKeys {
            dir: Some(dir.to_owned()),
            inner: Mutex::new(inner),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, KeysError> {
        self.inner.lock().map_err(|_| KeysError::Poisoned)
    }

    /// How many people have a key.
    pub fn len(&self) -> usize {
        self.lock().map_or(0, |inner| inner.keys.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Seals `data` under `owner`'s key, creating the key if they have none
    /// (it is durable only after [`PersonKeys::sync`]).
    pub fn seal(&self, owner: &str, data: &PersonalData) -> Result<SealedPersonalData, KeysError> {
        let hash = owner_hash(owner);
        let key = {
            let mut inner = self.lock()?;
            match inner.keys.get(&hash) {
                Some(key) => *key,
                None => {
                    let key: [u8; KEY_BYTES] = Aes256Gcm::generate_key(OsRng).into();
                    inner.keys.insert(hash, key);
                    inner.pending.push(hash);
                    key
                }
            }
        };
        let plain = pb::PersonalData {
            codice_fiscale: data.codice_fiscale.clone(),
            given_name: data.given_name.clone(),
            family_name: data.family_name.clone(),
            email: data.email.clone(),
            phone: data.phone.clone(),
        }
        .encode_to_vec();
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key));
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // The owner is authenticated with the text: a blob moved to another
        // person does not open.
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &plain,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| KeysError::Seal)?;
        Ok(SealedPersonalData {
            key_owner: owner.to_owned(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// The personal data `sealed` holds, or `None` when its owner's key is
    /// gone (erased) or it does not authenticate.
    pub fn open_sealed(&self, sealed: &SealedPersonalData) -> Option<PersonalData> {
        if sealed.nonce.len() != 12 {
            return None;
        }
        let key = *self.lock().ok()?.keys.get(&owner_hash(&sealed.key_owner))?;
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key));
        let plain = cipher
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: sealed.key_owner.as_bytes(),
                },
            )
            .ok()?;
        let p = pb::PersonalData::decode(plain.as_slice()).ok()?;
        Some(PersonalData {
            codice_fiscale: p.codice_fiscale,
            given_name: p.given_name,
            family_name: p.family_name,
            email: p.email,
            phone: p.phone,
        })
    }

    /// Makes every key created so far durable: one append and fsync of
    /// `new.log`. Called before the journal's fsync of what they sealed.
    pub fn sync(&self) -> Result<(), KeysError> {
        let mut inner = self.lock()?;
        let Some(dir) = &self.dir else {
            inner.pending.clear();
            return Ok(());
        };
        if inner.pending.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(inner.pending.len() * RECORD_BYTES);
        let pending = std::mem::take(&mut inner.pending);
        for hash in &pending {
            // A key destroyed before it was ever synced stays unwritten.
            if let Some(key) = inner.keys.get(hash) {
                bytes.extend_from_slice(&record(*hash, key));
            }
        }
        let log = dir.join(LOG);
        let created = !log.exists();
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(io_error("open", &log))?;
        file.write_all(&bytes).map_err(io_error("append", &log))?;
        file.sync_data().map_err(io_error("fsync", &log))?;
        if created {
            sync_dir(dir).map_err(io_error("fsync", dir))?;
        }
        inner.log_bytes += bytes.len() as u64;
        inner.in_log.extend(pending);
        if inner.log_bytes > LOG_COMPACT_BYTES {
            compact(dir, &mut inner)?;
        }
        Ok(())
    }

    /// Destroys `owner`'s key, in memory and on disk, durably. Idempotent:
    /// recovery calls it again for every erasure it replays, which finishes
    /// one a crash interrupted. Returns whether a key was found.
    pub fn shred(&self, owner: &str) -> Result<bool, KeysError> {
        let hash = owner_hash(owner);
        let mut inner = self.lock()?;
        let found = inner.keys.remove(&hash).is_some();
        let Some(dir) = &self.dir else {
            return Ok(found);
        };
        if inner.in_log.contains(&hash) {
            // Rewrites every shard from memory, which no longer has it, and
            // empties the log that did.
            compact(dir, &mut inner)?;
        } else if found {
            write_shard(dir, &inner, shard_of(hash))?;
        }
        Ok(found)
    }
}

fn shard_path(dir: &Path, shard: usize) -> PathBuf {
    dir.join(format!("{shard:02x}.keys"))
}

/// Replaces shard `shard` with the keys memory holds for it.
fn write_shard(dir: &Path, inner: &Inner, shard: usize) -> Result<(), KeysError> {
    let mut records: Vec<(&OwnerHash, &[u8; KEY_BYTES])> = inner
        .keys
        .iter()
        .filter(|(hash, _)| shard_of(**hash) == shard)
        .collect();
    records.sort_unstable_by_key(|(hash, _)| **hash);
    let mut bytes = Vec::with_capacity(records.len() * RECORD_BYTES);
    for (hash, key) in records {
        bytes.extend_from_slice(&record(*hash, key));
    }
    replace(dir, &shard_path(dir, shard), &bytes)
}

/// Writes `bytes` to `path` whole or not at all.
fn replace(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), KeysError> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(io_error("create", &tmp))?;
    file.write_all(bytes).map_err(io_error("write", &tmp))?;
    file.sync_all().map_err(io_error("fsync", &tmp))?;
    fs::rename(&tmp, path).map_err(io_error("rename", path))?;
    sync_dir(dir).map_err(io_error("fsync", dir))
}

/// Folds `new.log` into the shards (every shard it touches rewritten from
/// memory), then empties it. A crash in between leaves keys in both, which
/// a start reads as the same keys twice.
fn compact(dir: &Path, inner: &mut Inner) -> Result<(), KeysError> {
    let mut shards: Vec<usize> = inner.in_log.iter().map(|h| shard_of(*h)).collect();
    shards.sort_unstable();
    shards.dedup();
    for shard in shards {
        write_shard(dir, inner, shard)?;
    }
    replace(dir, &dir.join(LOG), &[])?;
    inner.in_log.clear();
    inner.log_bytes = 0;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(cf: &str) -> PersonalData {
        PersonalData {
            codice_fiscale: cf.into(),
            given_name: "Zenobia".into(),
            family_name: "Quaglieri".into(),
            email: "zenobia.quaglieri@example.org".into(),
            phone: "+39 011 555 0101".into(),
        }
    }

    fn files_contain(dir: &Path, needle: &[u8]) -> bool {
        fs::read_dir(dir).unwrap().any(|e| {
            let bytes = fs::read(e.unwrap().path()).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
    }

    #[test]
    fn sealed_data_opens_until_its_key_is_shredded_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let keys = PersonKeys::open(dir.path()).unwrap();
        let a = keys.seal("pA", &person("A")).unwrap();
        let b = keys.seal("pB", &person("B")).unwrap();
        assert!(!a.ciphertext.windows(7).any(|w| w == b"Zenobia"));
        keys.sync().unwrap();
        let key_a = *keys.lock().unwrap().keys.get(&owner_hash("pA")).unwrap();
        drop(keys);

        let keys = PersonKeys::open(dir.path()).unwrap();
        assert_eq!(keys.open_sealed(&a).unwrap().codice_fiscale, "A");
        assert!(files_contain(dir.path(), &key_a));
        assert!(keys.shred("pA").unwrap());
        assert!(keys.open_sealed(&a).is_none());
        assert!(!files_contain(dir.path(), &key_a), "the key left a copy");
        drop(keys);

        let keys = PersonKeys::open(dir.path()).unwrap();
        assert!(keys.open_sealed(&a).is_none());
        assert_eq!(keys.open_sealed(&b).unwrap().email, person("B").email);
        assert!(!keys.shred("pA").unwrap(), "shredding twice finds nothing");
    }

    #[test]
    fn a_blob_moved_to_another_owner_does_not_open() {
        let keys = PersonKeys::in_memory();
        let mut a = keys.seal("pA", &person("A")).unwrap();
        keys.seal("pB", &person("B")).unwrap();
        a.key_owner = "pB".into();
        assert!(keys.open_sealed(&a).is_none());
    }

    #[test]
    fn compaction_keeps_every_key_and_a_torn_log_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let keys = PersonKeys::open(dir.path()).unwrap();
        let sealed: Vec<_> = (0..600)
            .map(|i| {
                keys.seal(&format!("p{i}"), &person(&format!("{i}")))
                    .unwrap()
            })
            .collect();
        keys.sync().unwrap();
        {
            let mut inner = keys.lock().unwrap();
            compact(dir.path(), &mut inner).unwrap();
        }
        let late = keys.seal("late", &person("L")).unwrap();
        keys.sync().unwrap();
        drop(keys);
        // A crash mid-append: half a record at the end of the log.
        let mut log = OpenOptions::new()
            .append(true)
            .open(dir.path().join(LOG))
            .unwrap();
        log.write_all(&[7u8; RECORD_BYTES / 2]).unwrap();
        drop(log);

        let keys = PersonKeys::open(dir.path()).unwrap();
        assert_eq!(keys.len(), 601);
        for (i, s) in sealed.iter().enumerate() {
            assert_eq!(keys.open_sealed(s).unwrap().codice_fiscale, i.to_string());
        }
        assert!(keys.open_sealed(&late).is_some());
        assert_eq!(
            fs::metadata(dir.path().join(LOG)).unwrap().len(),
            RECORD_BYTES as u64
        );
    }
}
