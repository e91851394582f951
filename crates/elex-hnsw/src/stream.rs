//! Snapshots in pieces: [`SnapshotWriter`] emits the v1 bytes a chunk at a time and
//! [`SnapshotReader`] takes them a chunk at a time, so a browser can save or load a large index
//! in slices of a few milliseconds (and a loader can stream a snapshot from the network). The
//! bytes are exactly those of [`Hnsw::to_bytes`]; [`Hnsw::from_bytes`] is the reader fed once.
//!
//! The reader checks the header and every length before it allocates (see `snapshot`), decodes
//! each section as its bytes arrive, checks each finished link block and each value as it is
//! decoded, and keeps the first problem it meets while it goes on checksumming, so damage is
//! reported the same way however the bytes were cut: a checksum mismatch first, then the
//! structural error. Nothing is half-loaded: [`SnapshotReader::finish`] returns the whole index
//! or an error.

use std::collections::HashMap;

use crate::index::{Hnsw, INVALID, MAX_LEVEL, Parts};
use crate::snapshot::{CHECKSUM_AT, Header};
use crate::store::Vectors;
use crate::{HEADER_LEN, HnswError, Storage};
use elex_simd::{Checksum, SplitMix64, f16};

/// One section of the body, as the index holds it.
enum Section<'a> {
    U64(&'a [u64]),
    U8(&'a [u8]),
    U32(&'a [u32]),
    F32(&'a [f32]),
    F16(&'a [f16]),
    I8(&'a [i8]),
}

impl Section<'_> {
    fn width(&self) -> usize {
        match self {
            Section::U64(_) => 8,
            Section::U8(_) | Section::I8(_) => 1,
            Section::U32(_) | Section::F32(_) => 4,
            Section::F16(_) => 2,
        }
    }

    fn len(&self) -> usize {
        match self {
            Section::U64(x) => x.len(),
            Section::U8(x) => x.len(),
            Section::U32(x) => x.len(),
            Section::F32(x) => x.len(),
            Section::F16(x) => x.len(),
            Section::I8(x) => x.len(),
        }
    }

    /// Appends elements `from..to` as little-endian bytes.
    fn put(&self, from: usize, to: usize, out: &mut Vec<u8>) {
        match self {
            Section::U64(x) => x[from..to]
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            Section::U8(x) => out.extend_from_slice(&x[from..to]),
            Section::U32(x) => x[from..to]
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            Section::F32(x) => x[from..to]
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            Section::F16(x) => x[from..to]
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_bits().to_le_bytes())),
            Section::I8(x) => out.extend(x[from..to].iter().map(|&v| v as u8)),
        }
    }
}

impl Hnsw {
    /// The body's sections in snapshot order.
    fn sections(&self) -> Vec<Section<'_>> {
        let mut s = vec![
            Section::U64(&self.ext),
            Section::U8(&self.levels),
            Section::U64(&self.deleted),
            Section::U32(&self.level0),
            Section::U32(&self.upper),
        ];
        match &self.vectors {
            Vectors::F32(v) => s.push(Section::F32(v)),
            Vectors::F16(v) => s.push(Section::F16(v)),
            Vectors::I8 {
                codes,
                scale,
                norm_sq,
            } => {
                s.push(Section::I8(codes));
                s.push(Section::F32(scale));
                s.push(Section::F32(norm_sq));
            }
        }
        s.push(Section::F32(&self.raw));
        s
    }

    /// A writer of this index's snapshot in chunks. The index must not change until the
    /// writer is done (it checks, and fails with `Busy`, if it did).
    pub fn snapshot_writer(&self) -> SnapshotWriter {
        let body_len: u64 = self
            .sections()
            .iter()
            .map(|s| (s.len() * s.width()) as u64)
            .sum();
        let mut sum = Checksum::new();
        sum.update(&self.header(body_len, 0)[..CHECKSUM_AT]);
        SnapshotWriter {
            sum,
            body_len,
            section: 0,
            at: 0,
            slots: self.len_slots(),
            live: self.len(),
        }
    }
}

/// Writes a snapshot in chunks: [`SnapshotWriter::next_chunk`] until it returns `false`, then
/// [`SnapshotWriter::header`] for the first [`HEADER_LEN`] bytes.
#[derive(Debug)]
pub struct SnapshotWriter {
    sum: Checksum,
    body_len: u64,
    section: usize,
    at: usize,
    slots: usize,
    live: usize,
}

impl SnapshotWriter {
    /// Bytes of the whole snapshot, header included.
    pub fn total_len(&self) -> u64 {
        HEADER_LEN as u64 + self.body_len
    }

    fn check(&self, index: &Hnsw) -> Result<(), HnswError> {
        if index.len_slots() != self.slots || index.len() != self.live || index.batch_open() {
            return Err(HnswError::Busy(
                "the index changed while its snapshot was being written".into(),
            ));
        }
        Ok(())
    }

    /// Appends about `max_bytes` more body bytes to `out` (whole elements; at least one);
    /// returns whether body bytes remain.
    pub fn next_chunk(
        &mut self,
        index: &Hnsw,
        out: &mut Vec<u8>,
        max_bytes: usize,
    ) -> Result<bool, HnswError> {
        self.check(index)?;
        let sections = index.sections();
        let start = out.len();
        while let Some(s) = sections.get(self.section) {
            let room = max_bytes.saturating_sub(out.len() - start) / s.width();
            let to = s.len().min(self.at + room.max(1));
            s.put(self.at, to, out);
            self.at = to;
            if self.at == s.len() {
                self.section += 1;
                self.at = 0;
            }
            if out.len() - start >= max_bytes {
                break;
            }
        }
        self.sum.update(&out[start..]);
        Ok(self.section < sections.len())
    }

    /// The header, once every body byte was written.
    pub fn header(&self, index: &Hnsw) -> Result<[u8; HEADER_LEN], HnswError> {
        self.check(index)?;
        if self.section < index.sections().len() {
            return Err(HnswError::Busy(
                "the snapshot's body is not finished".into(),
            ));
        }
        let sum = self.sum.clone();
        Ok(index.header(self.body_len, sum.finish()))
    }
}

fn u32s(b: &[u8]) -> impl Iterator<Item = u32> + '_ {
    b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

fn f32s(b: &[u8]) -> impl Iterator<Item = f32> + '_ {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

fn u64s(b: &[u8]) -> impl Iterator<Item = u64> + '_ {
    b.chunks_exact(8).map(|c| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        u64::from_le_bytes(w)
    })
}

/// What the reader decodes into.
enum Stage {
    Ext,
    Levels,
    Deleted,
    Level0,
    Upper,
    Vectors,
    Scales,
    Norms,
    Raw,
    Done,
}

/// Reads a snapshot in chunks: [`SnapshotReader::new`] with the header and the snapshot's
/// total length, [`SnapshotReader::feed`] with the rest in any split, then
/// [`SnapshotReader::finish`].
pub struct SnapshotReader {
    h: Header,
    sum: Checksum,
    stage: Stage,
    /// Elements left in the current section.
    left: u64,
    carry: Vec<u8>,
    fed: u64,
    ext: Vec<u64>,
    levels: Vec<u8>,
    deleted: Vec<u64>,
    level0: Vec<u32>,
    upper: Vec<u32>,
    upper_off: Vec<u32>,
    vectors: Vectors,
    raw: Vec<f32>,
    map: HashMap<u64, u32>,
    /// Nodes whose level-0 block, and whose upper blocks, have been checked.
    checked0: usize,
    checked_up: usize,
    /// Values of the current float section already checked for finiteness.
    checked_vals: usize,
    /// The first structural problem met (reported after the checksum).
    error: Option<HnswError>,
}

impl std::fmt::Debug for SnapshotReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotReader")
            .field("fed", &self.fed)
            .field("body_len", &self.h.body_len)
            .finish()
    }
}

impl SnapshotReader {
    /// Checks the header (at least its [`HEADER_LEN`] bytes; more are ignored) against the
    /// snapshot's total length, before anything is allocated.
    pub fn new(header: &[u8], total_len: u64) -> Result<SnapshotReader, HnswError> {
        let h = Header::parse(header, total_len)?;
        let mut sum = Checksum::new();
        sum.update(&header[..CHECKSUM_AT]);
        let slots = h.slots as usize;
        let nd = slots * h.params.dims;
        let vectors = match h.params.storage {
            Storage::F32 => Vectors::F32(Vec::with_capacity(nd)),
            Storage::F16 => Vectors::F16(Vec::with_capacity(nd)),
            Storage::I8 => Vectors::I8 {
                codes: Vec::with_capacity(nd),
                scale: Vec::with_capacity(slots),
                norm_sq: Vec::with_capacity(slots),
            },
        };
        Ok(SnapshotReader {
            sum,
            stage: Stage::Ext,
            left: h.slots,
            carry: Vec::new(),
            fed: 0,
            ext: Vec::with_capacity(slots),
            levels: Vec::with_capacity(slots),
            deleted: Vec::with_capacity(h.words() as usize),
            level0: Vec::with_capacity(slots * (1 + h.params.m0)),
            upper: Vec::new(),
            upper_off: Vec::with_capacity(slots),
            vectors,
            raw: Vec::with_capacity(if h.params.keep_f32 { nd } else { 0 }),
            map: HashMap::new(),
            checked0: 0,
            checked_up: 0,
            checked_vals: 0,
            error: None,
            h,
        })
        .map(|mut r| {
            if r.left == 0 {
                r.next_stage();
            }
            r
        })
    }

    /// Body bytes the header announces.
    pub fn body_len(&self) -> u64 {
        self.h.body_len
    }

    /// Body bytes fed so far.
    pub fn fed(&self) -> u64 {
        self.fed
    }

    fn fail(&mut self, msg: String) {
        if self.error.is_none() {
            self.error = Some(HnswError::Corrupt(msg));
        }
    }

    fn width(&self) -> usize {
        match self.stage {
            Stage::Ext | Stage::Deleted => 8,
            Stage::Levels => 1,
            Stage::Level0 | Stage::Upper | Stage::Scales | Stage::Norms | Stage::Raw => 4,
            Stage::Vectors => match self.h.params.storage {
                Storage::F32 => 4,
                Storage::F16 => 2,
                Storage::I8 => 1,
            },
            Stage::Done => 1,
        }
    }

    /// Takes more body bytes. Feeding past the announced body is an error.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), HnswError> {
        if self.fed + bytes.len() as u64 > self.h.body_len {
            return Err(HnswError::Corrupt(
                "more bytes than the snapshot's body".into(),
            ));
        }
        self.fed += bytes.len() as u64;
        self.sum.update(bytes);
        if self.error.is_some() {
            return Ok(());
        }
        let mut input = bytes;
        while !input.is_empty() && !matches!(self.stage, Stage::Done) {
            let w = self.width();
            // Complete an element split across chunks first.
            if !self.carry.is_empty() {
                let need = w - self.carry.len();
                let take = need.min(input.len());
                self.carry.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.carry.len() < w {
                    return Ok(());
                }
                let c = std::mem::take(&mut self.carry);
                self.decode(&c);
                self.left -= 1;
            } else {
                let whole = ((input.len() / w) as u64).min(self.left) as usize;
                let (now, rest) = input.split_at(whole * w);
                self.decode(now);
                self.left -= whole as u64;
                input = rest;
                if self.left > 0 && !input.is_empty() && input.len() < w {
                    self.carry.extend_from_slice(input);
                    input = &[];
                }
            }
            self.check_progress();
            if self.left == 0 {
                self.next_stage();
            }
            if self.error.is_some() {
                break;
            }
        }
        Ok(())
    }

    /// Decodes whole elements of the current section.
    fn decode(&mut self, b: &[u8]) {
        match self.stage {
            Stage::Ext => self.ext.extend(u64s(b)),
            Stage::Levels => self.levels.extend_from_slice(b),
            Stage::Deleted => self.deleted.extend(u64s(b)),
            Stage::Level0 => self.level0.extend(u32s(b)),
            Stage::Upper => self.upper.extend(u32s(b)),
            Stage::Vectors => match &mut self.vectors {
                Vectors::F32(v) => v.extend(f32s(b)),
                Vectors::F16(v) => v.extend(
                    b.chunks_exact(2)
                        .map(|c| f16::from_bits(u16::from_le_bytes([c[0], c[1]]))),
                ),
                Vectors::I8 { codes, .. } => codes.extend(b.iter().map(|&x| x as i8)),
            },
            Stage::Scales | Stage::Norms => {
                if let Vectors::I8 { scale, norm_sq, .. } = &mut self.vectors {
                    let v = if matches!(self.stage, Stage::Scales) {
                        scale
                    } else {
                        norm_sq
                    };
                    v.extend(f32s(b));
                }
            }
            Stage::Raw => self.raw.extend(f32s(b)),
            Stage::Done => {}
        }
    }

    /// Checks what was decoded since the last call: link blocks of finished nodes, values.
    fn check_progress(&mut self) {
        let (m, m0) = (self.h.params.m, self.h.params.m0);
        match self.stage {
            Stage::Level0 => {
                while (self.checked0 + 1) * (1 + m0) <= self.level0.len() {
                    let n = self.checked0;
                    let s = n * (1 + m0);
                    if let Err(e) = self.check_block(&self.level0[s..s + 1 + m0], m0, n, 0) {
                        self.fail(e);
                        return;
                    }
                    self.checked0 += 1;
                }
            }
            Stage::Upper => {
                while self.checked_up < self.levels.len() {
                    let n = self.checked_up;
                    let l = self.levels[n] as usize;
                    let end = self.upper_off[n] as usize + l * (1 + m);
                    if end > self.upper.len() {
                        break;
                    }
                    for level in 0..l {
                        let s = self.upper_off[n] as usize + level * (1 + m);
                        if let Err(e) =
                            self.check_block(&self.upper[s..s + 1 + m], m, n, level as u8 + 1)
                        {
                            self.fail(e);
                            return;
                        }
                    }
                    self.checked_up += 1;
                }
            }
            Stage::Vectors | Stage::Scales | Stage::Norms | Stage::Raw => {
                let (ok, len) = match (&self.stage, &self.vectors) {
                    (Stage::Vectors, Vectors::F32(v)) => (
                        v[self.checked_vals..].iter().all(|x| x.is_finite()),
                        v.len(),
                    ),
                    (Stage::Vectors, Vectors::F16(v)) => (
                        v[self.checked_vals..].iter().all(|x| x.is_finite()),
                        v.len(),
                    ),
                    (Stage::Scales, Vectors::I8 { scale, .. }) => (
                        scale[self.checked_vals..]
                            .iter()
                            .all(|x| x.is_finite() && *x >= 0.0),
                        scale.len(),
                    ),
                    (Stage::Norms, Vectors::I8 { norm_sq, .. }) => (
                        norm_sq[self.checked_vals..]
                            .iter()
                            .all(|x| x.is_finite() && *x >= 0.0),
                        norm_sq.len(),
                    ),
                    (Stage::Raw, _) => (
                        self.raw[self.checked_vals..].iter().all(|x| x.is_finite()),
                        self.raw.len(),
                    ),
                    _ => (true, 0),
                };
                self.checked_vals = len;
                if !ok {
                    self.fail("a stored vector has a NaN or infinite value".into());
                }
            }
            _ => {}
        }
    }

    /// A link at level `l` must point to another node that has level `l`.
    fn check_block(&self, block: &[u32], cap: usize, node: usize, level: u8) -> Result<(), String> {
        let c = block[0] as usize;
        if c > cap {
            return Err(format!("node {node} has {c} links, more than {cap}"));
        }
        let slots = self.h.slots;
        let bad =
            |&x: &u32| x as u64 >= slots || x as usize == node || self.levels[x as usize] < level;
        if block[1..=c].iter().any(bad) {
            return Err(format!(
                "node {node} has a link at level {level} to no node of that level"
            ));
        }
        Ok(())
    }

    fn is_deleted(&self, n: usize) -> bool {
        self.deleted[n / 64] & (1 << (n % 64)) != 0
    }

    fn next_stage(&mut self) {
        let (slots, dims) = (self.h.slots, self.h.params.dims as u64);
        let (m, m0, fixed, body_len) = (
            self.h.params.m as u64,
            self.h.params.m0 as u64,
            self.h.fixed,
            self.h.body_len,
        );
        let (storage, keep_f32, words) = (
            self.h.params.storage,
            self.h.params.keep_f32,
            self.h.words(),
        );
        self.checked_vals = 0;
        let (stage, left) = match self.stage {
            Stage::Ext => (Stage::Levels, slots),
            Stage::Levels => (Stage::Deleted, words),
            Stage::Deleted => {
                self.after_deleted();
                (Stage::Level0, slots * (1 + m0))
            }
            Stage::Level0 => {
                // Upper blocks follow from the levels; the body must hold exactly them.
                let units: u64 = self.levels.iter().map(|&l| l as u64).sum::<u64>() * (1 + m);
                if fixed + units * 4 != body_len {
                    self.fail("body length does not match the levels".into());
                }
                self.upper.reserve_exact(units as usize);
                (Stage::Upper, units)
            }
            Stage::Upper => (Stage::Vectors, slots * dims),
            Stage::Vectors if storage == Storage::I8 => (Stage::Scales, slots),
            Stage::Scales => (Stage::Norms, slots),
            Stage::Vectors | Stage::Norms => (Stage::Raw, if keep_f32 { slots * dims } else { 0 }),
            Stage::Raw | Stage::Done => (Stage::Done, 0),
        };
        self.stage = stage;
        self.left = left;
        if self.left == 0 && !matches!(self.stage, Stage::Done) {
            self.check_progress();
            self.next_stage();
        }
    }

    /// Levels, tombstones and ids are in: check them and index the live ids.
    fn after_deleted(&mut self) {
        let (m, max_level, slots) = (self.h.params.m as u64, self.h.max_level, self.h.slots);
        // Live nodes sit at or below the entry's level; a tombstone may sit higher (the entry
        // was replaced when it was deleted), never above MAX_LEVEL.
        let mut off = 0u64;
        for n in 0..self.levels.len() {
            let l = self.levels[n];
            if l > MAX_LEVEL || (l > max_level && !self.is_deleted(n)) {
                self.fail(format!(
                    "live node {n} has level {l} above the max level {max_level}"
                ));
                return;
            }
            self.upper_off.push(off as u32);
            off += l as u64 * (1 + m);
        }
        let words = self.deleted.len();
        let bits: u64 = self.deleted.iter().map(|w| w.count_ones() as u64).sum();
        if bits != self.h.n_deleted
            || (slots % 64 != 0 && words > 0 && self.deleted[words - 1] >> (slots % 64) != 0)
        {
            self.fail("tombstone bits do not match the deleted count".into());
            return;
        }
        let mut map = HashMap::with_capacity((slots - self.h.n_deleted) as usize);
        for n in 0..self.ext.len() {
            let id = self.ext[n];
            if !self.is_deleted(n) && map.insert(id, n as u32).is_some() {
                self.fail(format!("id {id} appears twice"));
                return;
            }
        }
        self.map = map;
    }

    /// The index, once every byte was fed: the checksum, then any structural problem met.
    pub fn finish(self) -> Result<Hnsw, HnswError> {
        let h = self.h;
        if self.fed < h.body_len {
            return Err(HnswError::Truncated {
                needed: HEADER_LEN as u64 + h.body_len,
                got: HEADER_LEN as u64 + self.fed,
            });
        }
        let computed = self.sum.finish();
        // Fuzz builds skip the comparison so mutated bytes reach the structural checks.
        if computed != h.checksum && !cfg!(fuzzing) {
            return Err(HnswError::ChecksumMismatch {
                stored: h.checksum,
                computed,
            });
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        let (slots, entry, max_level) = (h.slots, h.entry, h.max_level);
        let live = slots - h.n_deleted;
        if live == 0 && entry != INVALID && slots == 0 {
            return Err(HnswError::Corrupt(
                "an empty index has an entry point".into(),
            ));
        }
        if slots > 0 && entry != INVALID {
            if entry as u64 >= slots || self.levels[entry as usize] != max_level {
                return Err(HnswError::Corrupt(
                    "the entry point is not a node of the max level".into(),
                ));
            }
        } else if live > 0 {
            return Err(HnswError::Corrupt("live vectors but no entry point".into()));
        }
        Ok(Hnsw::from_parts(
            h.params,
            SplitMix64(h.rng_state),
            Parts {
                level_threshold: h.level_threshold,
                vectors: self.vectors,
                raw: self.raw,
                level0: self.level0,
                upper: self.upper,
                upper_off: self.upper_off,
                levels: self.levels,
                ext: self.ext,
                map: self.map,
                deleted: self.deleted,
                n_deleted: h.n_deleted as usize,
                entry,
                max_level,
            },
        ))
    }
}
