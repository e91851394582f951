//! The durable layout of elex's persistent objects, independent of where the bytes are kept
//! (IndexedDB records in a browser, files natively).
//!
//! A persistent object is a **checkpoint** (its snapshot cut into [pages](page) of a few MB,
//! all of one *generation*), a **manifest** naming the current generation, and an **op log** of
//! [records](log_record) numbered from the manifest's `log_start`. The state is the snapshot
//! with the log replayed in order. A writer
//!
//! 1. appends a log record per group of mutations (one transaction each);
//! 2. checkpoints by writing the pages of generation `g + 1` beside the old ones, then, in one
//!    transaction, switching the manifest to `g + 1` (with `log_start` = the first record the new
//!    snapshot does not hold) and deleting generation `g` and the records it covered.
//!
//! A crash before step 2's transaction leaves the old manifest, its pages and its whole log: a
//! loadable state. Orphan pages of an unfinished generation are deleted by the next switch.
//!
//! Every page, record and manifest starts with a fixed little-endian header (magic, version,
//! kind, numbering, lengths, a checksum over the header and the payload), so a damaged or
//! misplaced one is a [`StoreError`] naming it, never a half-loaded object. [`LogScan`] checks a
//! log in order and says exactly what is lost when a record is damaged.
//!
//! A record's payload is the object's own encoding of its operations; [`codec`] is the
//! little-endian writer and length-checked reader that every object's op log encodes and
//! decodes it with.

#![forbid(unsafe_code)]

use elex_simd::Checksum;

pub mod codec;
pub use codec::{ByteReader, OpWriter, Truncated};

/// Format version of pages, records and manifests.
pub const VERSION: u16 = 1;
/// Bytes of a page's header.
pub const PAGE_HEADER: usize = 40;
/// Bytes of a log record's header.
pub const RECORD_HEADER: usize = 40;
/// Bytes of a manifest.
pub const MANIFEST_LEN: usize = 56;
/// The payload of a checkpoint page, by default: a few MB, so no single record is huge.
pub const DEFAULT_PAGE_BYTES: usize = 4 << 20;

const PAGE_MAGIC: &[u8; 8] = b"ELEXPAGE";
const RECORD_MAGIC: &[u8; 8] = b"ELEXLOG\0";
const MANIFEST_MAGIC: &[u8; 8] = b"ELEXMANI";

/// What a persistent object holds (stored in every header, so one object's records are never
/// read as another's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Kind {
    /// An `elex_hnsw::Hnsw`.
    Hnsw = 1,
    /// An `elex_qlearning::Learner`.
    Learner = 2,
    /// An `elex_text::TextIndex`.
    Text = 3,
}

impl Kind {
    fn from_u16(v: u16) -> Option<Kind> {
        match v {
            1 => Some(Kind::Hnsw),
            2 => Some(Kind::Learner),
            3 => Some(Kind::Text),
            _ => None,
        }
    }
}

/// A damaged, misplaced or foreign page, record or manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// `what` ("page 3 of generation 7", "log record 12", "the manifest") cannot be used.
    #[error("{what} is damaged: {reason}")]
    Damaged {
        /// The page, record or manifest.
        what: String,
        /// Why (checksum, length, magic, numbering).
        reason: String,
    },
    /// Written by a newer or unknown format version.
    #[error("{what} has format version {found}; this build reads version {VERSION}")]
    Version {
        /// The page, record or manifest.
        what: String,
        /// The version found.
        found: u16,
    },
    /// The log holds a damaged or missing record: `lost` stored records from `first_lost` on
    /// cannot be replayed (the state before `first_lost` is intact).
    #[error(
        "log record {first_lost} cannot be replayed ({reason}): {lost} stored record(s) from \
         there on are lost; the state before it is intact (open with recover to keep it)"
    )]
    LogLost {
        /// The first record that cannot be replayed.
        first_lost: u64,
        /// How many records from `first_lost` on are dropped.
        lost: u64,
        /// What is wrong with `first_lost`.
        reason: String,
    },
}

fn damaged<T>(what: &str, reason: impl Into<String>) -> Result<T, StoreError> {
    Err(StoreError::Damaged {
        what: what.to_string(),
        reason: reason.into(),
    })
}

fn sum(parts: &[&[u8]]) -> u64 {
    let mut c = Checksum::new();
    for p in parts {
        c.update(p);
    }
    c.finish()
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Checks magic, version and kind of a header already known to be long enough.
fn check_head(b: &[u8], magic: &[u8; 8], kind: Kind, what: &str) -> Result<(), StoreError> {
    if &b[..8] != magic {
        return damaged(what, "wrong magic (not written by elex, or overwritten)");
    }
    let version = u16_at(b, 8);
    if version != VERSION {
        return Err(StoreError::Version {
            what: what.to_string(),
            found: version,
        });
    }
    match Kind::from_u16(u16_at(b, 10)) {
        Some(k) if k == kind => Ok(()),
        Some(k) => damaged(what, format!("it belongs to a {k:?}, not a {kind:?}")),
        None => damaged(what, format!("unknown kind {}", u16_at(b, 10))),
    }
}

// ---- pages ------------------------------------------------------------------------------

/// Page `index` of `count` of generation `generation`: a 40-byte header, then `payload`.
///
/// | offset | field | type |
/// |---|---|---|
/// | 0 | magic `ELEXPAGE` | 8 bytes |
/// | 8 | version | u16 |
/// | 10 | kind | u16 |
/// | 12 | index | u32 |
/// | 16 | count | u32 |
/// | 20 | payload length | u32 |
/// | 24 | generation | u64 |
/// | 32 | checksum of bytes 0..32 and the payload | u64 |
pub fn page(kind: Kind, generation: u64, index: u32, count: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PAGE_HEADER + payload.len());
    out.extend_from_slice(PAGE_MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(kind as u16).to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&generation.to_le_bytes());
    let c = sum(&[&out, payload]);
    out.extend_from_slice(&c.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The payload of page `index` of `count` of `generation`, checked: magic, version, kind,
/// numbering, length and checksum.
pub fn read_page(
    bytes: &[u8],
    kind: Kind,
    generation: u64,
    index: u32,
    count: u32,
) -> Result<&[u8], StoreError> {
    let what = format!("page {index} of {count} of checkpoint generation {generation}");
    if bytes.len() < PAGE_HEADER {
        return damaged(
            &what,
            format!("{} bytes, shorter than a header", bytes.len()),
        );
    }
    check_head(bytes, PAGE_MAGIC, kind, &what)?;
    let (i, n, len, g) = (
        u32_at(bytes, 12),
        u32_at(bytes, 16),
        u32_at(bytes, 20) as usize,
        u64_at(bytes, 24),
    );
    if (i, n, g) != (index, count, generation) {
        return damaged(
            &what,
            format!("it says it is page {i} of {n} of generation {g}"),
        );
    }
    if len != bytes.len() - PAGE_HEADER {
        return damaged(
            &what,
            format!(
                "its header says {len} payload bytes, the record holds {}",
                bytes.len() - PAGE_HEADER
            ),
        );
    }
    let payload = &bytes[PAGE_HEADER..];
    if sum(&[&bytes[..32], payload]) != u64_at(bytes, 32) {
        return damaged(&what, "checksum mismatch");
    }
    Ok(payload)
}

/// How many pages of `page_bytes` hold a snapshot of `len` bytes (at least one: an empty
/// snapshot still has a page).
pub fn page_count(len: u64, page_bytes: usize) -> u64 {
    len.div_ceil(page_bytes.max(1) as u64).max(1)
}

// ---- the manifest -----------------------------------------------------------------------

/// The record that names the current checkpoint.
///
/// | offset | field | type |
/// |---|---|---|
/// | 0 | magic `ELEXMANI` | 8 bytes |
/// | 8 | version | u16 |
/// | 10 | kind | u16 |
/// | 12 | pages | u32 |
/// | 16 | generation | u64 |
/// | 24 | snapshot length | u64 |
/// | 32 | log start | u64 |
/// | 40 | page payload bytes | u32 |
/// | 44 | reserved (0) | u32 |
/// | 48 | checksum of bytes 0..48 | u64 |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// What the pages hold.
    pub kind: Kind,
    /// The generation of the current pages.
    pub generation: u64,
    /// How many pages.
    pub pages: u32,
    /// The snapshot's length (the pages' payloads, concatenated).
    pub snapshot_len: u64,
    /// The first log record the snapshot does not hold.
    pub log_start: u64,
    /// Payload bytes of every page but the last.
    pub page_bytes: u32,
}

impl Manifest {
    /// The manifest of a snapshot of `snapshot_len` bytes cut into pages of `page_bytes`.
    pub fn new(
        kind: Kind,
        generation: u64,
        snapshot_len: u64,
        page_bytes: usize,
        log_start: u64,
    ) -> Manifest {
        Manifest {
            kind,
            generation,
            pages: page_count(snapshot_len, page_bytes) as u32,
            snapshot_len,
            log_start,
            page_bytes: page_bytes as u32,
        }
    }

    /// The payload range of page `i` within the snapshot.
    pub fn page_range(&self, i: u32) -> std::ops::Range<u64> {
        let start = u64::from(i) * u64::from(self.page_bytes);
        start.min(self.snapshot_len)..(start + u64::from(self.page_bytes)).min(self.snapshot_len)
    }

    /// The manifest's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MANIFEST_LEN);
        out.extend_from_slice(MANIFEST_MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.kind as u16).to_le_bytes());
        out.extend_from_slice(&self.pages.to_le_bytes());
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&self.snapshot_len.to_le_bytes());
        out.extend_from_slice(&self.log_start.to_le_bytes());
        out.extend_from_slice(&self.page_bytes.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        let c = sum(&[&out]);
        out.extend_from_slice(&c.to_le_bytes());
        out
    }

    /// Parses and checks a manifest (its numbers must agree with each other).
    pub fn from_bytes(bytes: &[u8], kind: Kind) -> Result<Manifest, StoreError> {
        let what = "the manifest";
        if bytes.len() != MANIFEST_LEN {
            return damaged(
                what,
                format!("{} bytes, a manifest has {MANIFEST_LEN}", bytes.len()),
            );
        }
        check_head(bytes, MANIFEST_MAGIC, kind, what)?;
        if sum(&[&bytes[..48]]) != u64_at(bytes, 48) {
            return damaged(what, "checksum mismatch");
        }
        let m = Manifest {
            kind,
            pages: u32_at(bytes, 12),
            generation: u64_at(bytes, 16),
            snapshot_len: u64_at(bytes, 24),
            log_start: u64_at(bytes, 32),
            page_bytes: u32_at(bytes, 40),
        };
        if m.page_bytes == 0
            || u64::from(m.pages) != page_count(m.snapshot_len, m.page_bytes as usize)
        {
            return damaged(
                what,
                format!(
                    "{} pages of {} bytes cannot hold {} bytes",
                    m.pages, m.page_bytes, m.snapshot_len
                ),
            );
        }
        Ok(m)
    }
}

// ---- the op log -------------------------------------------------------------------------

/// Log record `seq` holding `ops` operations encoded in `payload` (the owner's encoding).
///
/// | offset | field | type |
/// |---|---|---|
/// | 0 | magic `ELEXLOG\0` | 8 bytes |
/// | 8 | version | u16 |
/// | 10 | kind | u16 |
/// | 12 | operations | u32 |
/// | 16 | seq | u64 |
/// | 24 | payload length | u32 |
/// | 28 | reserved (0) | u32 |
/// | 32 | checksum of bytes 0..32 and the payload | u64 |
pub fn log_record(kind: Kind, seq: u64, ops: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_HEADER + payload.len());
    out.extend_from_slice(RECORD_MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(kind as u16).to_le_bytes());
    out.extend_from_slice(&ops.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    let c = sum(&[&out, payload]);
    out.extend_from_slice(&c.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// A checked log record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Its number.
    pub seq: u64,
    /// How many operations its payload holds.
    pub ops: u32,
    /// The owner's encoding of the operations.
    pub payload: &'a [u8],
}

/// Checks log record `seq` (magic, version, kind, number, length, checksum).
pub fn read_log_record(bytes: &[u8], kind: Kind, seq: u64) -> Result<Record<'_>, StoreError> {
    let what = format!("log record {seq}");
    if bytes.len() < RECORD_HEADER {
        return damaged(
            &what,
            format!("{} bytes, shorter than a header", bytes.len()),
        );
    }
    check_head(bytes, RECORD_MAGIC, kind, &what)?;
    let (ops, s, len) = (
        u32_at(bytes, 12),
        u64_at(bytes, 16),
        u32_at(bytes, 24) as usize,
    );
    if s != seq {
        return damaged(&what, format!("it says it is record {s}"));
    }
    if len != bytes.len() - RECORD_HEADER {
        return damaged(
            &what,
            format!(
                "its header says {len} payload bytes, the record holds {}",
                bytes.len() - RECORD_HEADER
            ),
        );
    }
    let payload = &bytes[RECORD_HEADER..];
    if sum(&[&bytes[..32], payload]) != u64_at(bytes, 32) {
        return damaged(&what, "checksum mismatch");
    }
    Ok(Record { seq, ops, payload })
}

/// Walks a log in order from the manifest's `log_start`: each record must be the next number
/// and intact. The first that is not ends the usable log; [`LogScan::finish`] then says what is
/// lost (an error, or, with `recover`, the intact prefix and the count dropped).
#[derive(Debug)]
pub struct LogScan {
    kind: Kind,
    start: u64,
    next: u64,
    dropped: u64,
    lost: Option<(u64, String)>,
}

/// What a finished [`LogScan`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEnd {
    /// The number the next appended record gets (one past the last intact record).
    pub next_seq: u64,
    /// Intact records accepted.
    pub replayed: u64,
    /// Stored records dropped under `recover` (0 when the log was whole).
    pub lost: u64,
    /// Where the log broke, if it did.
    pub first_lost: Option<u64>,
}

impl LogScan {
    /// A scan of the log of `kind` that starts at `log_start`.
    pub fn new(kind: Kind, log_start: u64) -> LogScan {
        LogScan {
            kind,
            start: log_start,
            next: log_start,
            dropped: 0,
            lost: None,
        }
    }

    /// The record stored under `key` (keys offered in ascending order): `Some(record)` to
    /// replay, `None` to skip. Keys below `log_start` (records a finished checkpoint already
    /// holds, left by a crash before their deletion) are skipped; from the first missing or
    /// damaged record on, every record is dropped.
    pub fn next<'a>(&mut self, key: u64, bytes: &'a [u8]) -> Option<Record<'a>> {
        if self.lost.is_some() {
            self.dropped += 1;
            return None;
        }
        if key < self.next {
            return None;
        }
        if key > self.next {
            self.lost = Some((self.next, format!("missing (the next one stored is {key})")));
            self.dropped += 1;
            return None;
        }
        match read_log_record(bytes, self.kind, key) {
            Ok(r) => {
                self.next += 1;
                Some(r)
            }
            Err(e) => {
                self.lost = Some((key, e.to_string()));
                self.dropped += 1;
                None
            }
        }
    }

    /// Marks the record just returned by [`next`](Self::next) as unusable after all (its
    /// payload did not decode, or its operations were refused): it and every later record are
    /// dropped.
    pub fn reject(&mut self, seq: u64, reason: impl Into<String>) {
        if self.lost.is_none() && seq + 1 == self.next {
            self.next = seq;
            self.dropped += 1;
            self.lost = Some((seq, reason.into()));
        }
    }

    /// The end of the scan. Without `recover` a break is [`StoreError::LogLost`].
    pub fn finish(self, recover: bool) -> Result<LogEnd, StoreError> {
        let end = LogEnd {
            next_seq: self.next,
            replayed: self.next - self.start,
            lost: self.dropped,
            first_lost: self.lost.as_ref().map(|l| l.0),
        };
        match self.lost {
            Some((first_lost, reason)) if !recover => Err(StoreError::LogLost {
                first_lost,
                lost: self.dropped,
                reason,
            }),
            _ => Ok(end),
        }
    }
}

#[cfg(test)]
mod tests;
