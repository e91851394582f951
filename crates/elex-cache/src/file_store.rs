//! A crash-consistent spill store in one append-only file.
//!
//! Each batch is appended as records and synced before `apply` returns. A record is
//! `magic u32 | kind u8 | 3 zero bytes | version u64 | weight u64 | key_len u32 | value_len u32 |
//! key | value | checksum u64` (little endian; the checksum covers everything before it). Opening
//! replays the log: the newest version of each key wins and deletes remove older versions. A torn
//! write (a crash mid-append) leaves a tail that fails its length or checksum check: replay stops
//! there and the file is cut back to the last whole record, so those records read as misses. A
//! record damaged later is caught by its checksum when read and also reads as a miss. Lengths are
//! checked against the file before anything is allocated. When dead records outweigh live ones
//! the log is rewritten to a temporary file, synced, and renamed over the old one.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::hash::Hash;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use elex_simd::checksum64;

use crate::cache::SpillOp;
use crate::spill::{Codec, SpillStore};
use crate::{CacheError, StoreErrorKind};

const MAGIC: u32 = u32::from_le_bytes(*b"ELXR");
const HEADER: usize = 32;
const KIND_PUT: u8 = 1;
const KIND_DELETE: u8 = 2;
const LOG: &str = "spill.log";

#[derive(Clone, Copy, Debug)]
struct Rec {
    version: u64,
    weight: u64,
    offset: u64,
    len: u64,
}

/// What opening found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Records replayed.
    pub records: u64,
    /// Bytes cut from the end (a torn write).
    pub torn_bytes: u64,
}

/// The file-backed store. See the module docs.
pub struct FileStore<K, V> {
    dir: PathBuf,
    file: File,
    len: u64,
    live_bytes: u64,
    index: HashMap<K, Rec>,
    durable: bool,
    report: OpenReport,
    corrupt_reads: u64,
    _value: PhantomData<fn() -> V>,
}

fn io_err(e: std::io::Error) -> CacheError {
    let kind = match e.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => StoreErrorKind::QuotaExceeded,
        _ => StoreErrorKind::Io,
    };
    CacheError::store(kind, e.to_string())
}

fn encode<K: Codec, V: Codec>(op: &SpillOp<K, V>, out: &mut Vec<u8>) {
    let start = out.len();
    let (kind, version, weight) = match op {
        SpillOp::Put {
            version, weight, ..
        } => (KIND_PUT, *version, *weight),
        SpillOp::Delete { version, .. } => (KIND_DELETE, *version, 0),
    };
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&[kind, 0, 0, 0]);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&weight.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    let k0 = out.len();
    op.key().encode(out);
    let klen = (out.len() - k0) as u32;
    let v0 = out.len();
    if let SpillOp::Put { value, .. } = op {
        value.encode(out);
    }
    let vlen = (out.len() - v0) as u32;
    out[start + 24..start + 28].copy_from_slice(&klen.to_le_bytes());
    out[start + 28..start + 32].copy_from_slice(&vlen.to_le_bytes());
    let sum = checksum64(&out[start..]);
    out.extend_from_slice(&sum.to_le_bytes());
}

/// One parsed record: kind, version, weight, key bytes, value bytes, total length.
struct Parsed<'a> {
    kind: u8,
    version: u64,
    weight: u64,
    key: &'a [u8],
    value: &'a [u8],
    len: usize,
}

fn parse(bytes: &[u8]) -> Option<Parsed<'_>> {
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap_or([0; 4]));
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap_or([0; 8]));
    if bytes.len() < HEADER + 8 || u32_at(0) != MAGIC {
        return None;
    }
    let kind = bytes[4];
    if !(kind == KIND_PUT || kind == KIND_DELETE) || bytes[5..8] != [0, 0, 0] {
        return None;
    }
    let klen = u32_at(24) as usize;
    let vlen = u32_at(28) as usize;
    let body = HEADER.checked_add(klen)?.checked_add(vlen)?;
    let len = body.checked_add(8)?;
    if len > bytes.len() {
        return None;
    }
    if checksum64(&bytes[..body]) != u64_at(body) {
        return None;
    }
    Some(Parsed {
        kind,
        version: u64_at(8),
        weight: u64_at(16),
        key: &bytes[HEADER..HEADER + klen],
        value: &bytes[HEADER + klen..body],
        len,
    })
}

impl<K: Hash + Eq + Clone + Codec, V: Codec> FileStore<K, V> {
    /// Opens (or creates) the store in `dir`, replaying its log.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, CacheError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io_err)?;
        let path = dir.join(LOG);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_err)?;
        let mut store = FileStore {
            dir,
            file,
            len: 0,
            live_bytes: 0,
            index: HashMap::new(),
            durable: true,
            report: OpenReport::default(),
            corrupt_reads: 0,
            _value: PhantomData,
        };
        let mut at = 0usize;
        while at < bytes.len() {
            let Some(p) = parse(&bytes[at..]) else { break };
            let Some(key) = K::decode(p.key) else { break };
            store.replay(key, p.kind, p.version, p.weight, at as u64, p.len as u64);
            store.report.records += 1;
            at += p.len;
        }
        if at < bytes.len() {
            store.report.torn_bytes = (bytes.len() - at) as u64;
            store.file.set_len(at as u64).map_err(io_err)?;
            store.file.sync_all().map_err(io_err)?;
        }
        store.len = at as u64;
        Ok(store)
    }

    fn replay(&mut self, key: K, kind: u8, version: u64, weight: u64, offset: u64, len: u64) {
        let older = self.index.get(&key).is_none_or(|r| r.version <= version);
        if kind == KIND_PUT && self.index.get(&key).is_none_or(|r| r.version < version) {
            if let Some(old) = self.index.insert(
                key,
                Rec {
                    version,
                    weight,
                    offset,
                    len,
                },
            ) {
                self.live_bytes -= old.len;
            }
            self.live_bytes += len;
        } else if kind == KIND_DELETE
            && older
            && let Some(old) = self.index.remove(&key)
        {
            self.live_bytes -= old.len;
        }
    }

    /// Whether each batch is synced to disk before `apply` returns (default true).
    pub fn set_durable(&mut self, durable: bool) {
        self.durable = durable;
    }

    /// What opening found.
    pub fn open_report(&self) -> OpenReport {
        self.report
    }

    /// Records that failed their checksum when read (each read as a miss).
    pub fn corrupt_reads(&self) -> u64 {
        self.corrupt_reads
    }

    /// Live records.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no record is live.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Size of the log in bytes.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// Rewrites the log with only the live records (temporary file, sync, rename).
    pub fn compact(&mut self) -> Result<(), CacheError> {
        let tmp = self.dir.join("spill.log.tmp");
        let mut out = Vec::with_capacity(self.live_bytes as usize);
        let mut recs: Vec<(K, Rec)> = self.index.iter().map(|(k, r)| (k.clone(), *r)).collect();
        recs.sort_by_key(|(_, r)| r.offset);
        let mut next = HashMap::with_capacity(recs.len());
        for (k, r) in recs {
            let bytes = self.read_at(r.offset, r.len)?;
            if parse(&bytes).is_none() {
                self.corrupt_reads += 1;
                continue;
            }
            next.insert(
                k,
                Rec {
                    offset: out.len() as u64,
                    ..r
                },
            );
            out.extend_from_slice(&bytes);
        }
        let mut f = File::create(&tmp).map_err(io_err)?;
        f.write_all(&out).map_err(io_err)?;
        f.sync_all().map_err(io_err)?;
        std::fs::rename(&tmp, self.dir.join(LOG)).map_err(io_err)?;
        if let Ok(d) = File::open(&self.dir) {
            // Directory sync makes the rename durable where the platform supports it.
            let _ = d.sync_all();
        }
        self.file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.dir.join(LOG))
            .map_err(io_err)?;
        self.len = out.len() as u64;
        self.live_bytes = self.len;
        self.index = next;
        Ok(())
    }

    fn read_at(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, CacheError> {
        if offset.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(CacheError::store(
                StoreErrorKind::Corrupt,
                "a record lies beyond the end of the log",
            ));
        }
        let mut buf = vec![0u8; len as usize];
        self.file.seek(SeekFrom::Start(offset)).map_err(io_err)?;
        self.file.read_exact(&mut buf).map_err(io_err)?;
        Ok(buf)
    }
}

impl<K: Hash + Eq + Clone + Codec, V: Codec> SpillStore<K, V> for FileStore<K, V> {
    fn apply(&mut self, ops: &[SpillOp<K, V>]) -> Result<(), CacheError> {
        let mut buf = Vec::new();
        let mut spans = Vec::with_capacity(ops.len());
        for op in ops {
            let start = buf.len();
            encode(op, &mut buf);
            spans.push((start as u64, (buf.len() - start) as u64));
        }
        let base = self.len;
        let written = self
            .file
            .seek(SeekFrom::Start(base))
            .and_then(|_| self.file.write_all(&buf))
            .and_then(|_| {
                if self.durable {
                    self.file.sync_data()
                } else {
                    Ok(())
                }
            });
        if let Err(e) = written {
            // Cut any partial append so the log stays a sequence of whole records.
            let _ = self.file.set_len(base);
            return Err(io_err(e));
        }
        self.len = base + buf.len() as u64;
        for (op, (start, len)) in ops.iter().zip(spans) {
            let (kind, version, weight) = match op {
                SpillOp::Put {
                    version, weight, ..
                } => (KIND_PUT, *version, *weight),
                SpillOp::Delete { version, .. } => (KIND_DELETE, *version, 0),
            };
            self.replay(op.key().clone(), kind, version, weight, base + start, len);
        }
        if self.len > (1 << 20) && self.len > 2 * self.live_bytes {
            self.compact()?;
        }
        Ok(())
    }

    fn load(&mut self, key: &K) -> Result<Option<(u64, V)>, CacheError> {
        let Some(r) = self.index.get(key).copied() else {
            return Ok(None);
        };
        let bytes = self.read_at(r.offset, r.len)?;
        let good = parse(&bytes).and_then(|p| {
            let same_key = K::decode(p.key).is_some_and(|k| &k == key);
            (same_key && p.kind == KIND_PUT && p.version == r.version)
                .then(|| V::decode(p.value))
                .flatten()
        });
        match good {
            Some(v) => Ok(Some((r.version, v))),
            None => {
                self.corrupt_reads += 1;
                self.index.remove(key);
                Ok(None)
            }
        }
    }

    fn index(&mut self) -> Result<Vec<(K, u64, u64)>, CacheError> {
        Ok(self
            .index
            .iter()
            .map(|(k, r)| (k.clone(), r.version, r.weight))
            .collect())
    }
}
