//! The snapshot format, version 1. Little endian throughout.
//!
//! Header (96 bytes):
//!
//! | offset | field | type |
//! | --- | --- | --- |
//! | 0 | magic `ELEXHNSW` | 8 bytes |
//! | 8 | format version | u16 |
//! | 10 | metric (0 cosine, 1 dot, 2 L2) | u8 |
//! | 11 | storage (0 f32, 1 f16, 2 i8) | u8 |
//! | 12 | flags (bit 0: f32 copies present) | u8 |
//! | 13 | max level | u8 |
//! | 14 | reserved, 0 | u16 |
//! | 16 | dims, slots, deleted, entry | 4 × u32 |
//! | 32 | m, m0, ef_construction, ef_search | 4 × u32 |
//! | 48 | ml | f64 |
//! | 56 | seed, level-generator state, level threshold | 3 × u64 |
//! | 80 | body length | u64 |
//! | 88 | checksum of bytes 0..88 and the body ([`checksum64`]) | u64 |
//!
//! Body: caller ids (`slots × u64`), levels (`slots × u8`), tombstone bits (`⌈slots/64⌉ × u64`),
//! level 0 (`slots × (1 + m0) × u32`), upper levels (`Σ levels × (1 + m) × u32`), vectors (f32:
//! `slots × dims × 4`; f16: `× 2`; i8: `slots × dims` codes, then `slots` f32 scales and
//! `slots` f32 squared norms), then the f32 copies when flagged.
//!
//! The reader checks the magic and version, every field's range, that the bytes hold exactly
//! the body the header describes (computed with checked arithmetic before anything is
//! allocated), the checksum, and then the graph's invariants (links in range, counts within
//! caps, levels, unique live ids, finite values), so a corrupt snapshot is reported, never
//! half-loaded. Older versions would pass through an explicit `migrate_vN`; there is one so far.
//! The body is read (and may be written) in chunks by the `stream` module.

use crate::graph::{Graph, MAX_LEVEL};
use crate::index::{Hnsw, MAX_DIMS, MAX_M, MAX_SLOTS, validate_params};
use crate::section::Section;
use crate::stream::SnapshotReader;
use crate::{HnswError, HnswParams, Metric, NodeId, Storage};
use elex_simd::Checksum;

/// The first 8 bytes of every snapshot.
pub const MAGIC: [u8; 8] = *b"ELEXHNSW";
/// The format version this build writes (and the newest it reads).
pub const FORMAT_VERSION: u16 = 1;
/// Bytes in the fixed header.
pub const HEADER_LEN: usize = 96;
pub(crate) const CHECKSUM_AT: usize = 88;

/// Where body bytes go: a checksum, a writer, or both.
type Sink<'a> = dyn FnMut(&[u8]) -> Result<(), HnswError> + 'a;

/// The component a section of the body belongs to, and which of its sections it is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Part {
    Ids,
    Graph(usize),
    Tombstones,
    Store(usize),
}

/// The v1 body, section by section: caller ids, levels, tombstone bits, level-0 blocks, upper
/// blocks, then the vector store's sections (`store_sections` of them).
pub(crate) fn layout(store_sections: usize) -> Vec<Part> {
    let mut l = vec![
        Part::Ids,
        Part::Graph(Graph::LEVELS),
        Part::Tombstones,
        Part::Graph(Graph::LEVEL0),
        Part::Graph(Graph::UPPER),
    ];
    l.extend((0..store_sections).map(Part::Store));
    l
}

impl Hnsw {
    /// The body's sections in snapshot order, as the components hold them.
    pub(crate) fn sections(&self) -> Vec<Section<'_>> {
        layout(self.store.sections())
            .into_iter()
            .map(|p| match p {
                Part::Ids => self.ids.section(),
                Part::Graph(i) => self.graph.section(i),
                Part::Tombstones => self.tombs.section(),
                Part::Store(i) => self.store.section(i),
            })
            .collect()
    }

    pub(crate) fn header(&self, body_len: u64, checksum: u64) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(&MAGIC);
        h[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        h[10] = self.p.metric.code();
        h[11] = self.p.storage.code();
        h[12] = u8::from(self.p.keep_f32);
        h[13] = self.graph.max_level();
        let u32s = [
            self.p.dims as u32,
            self.len_slots() as u32,
            self.tombs.count() as u32,
            self.graph.entry().unwrap_or(NodeId::INVALID).0,
            self.p.m as u32,
            self.p.m0 as u32,
            self.p.ef_construction.min(u32::MAX as usize) as u32,
            self.p.ef_search.min(u32::MAX as usize) as u32,
        ];
        for (i, v) in u32s.iter().enumerate() {
            h[16 + 4 * i..20 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        h[48..56].copy_from_slice(&self.p.ml.to_le_bytes());
        let u64s = [
            self.p.seed,
            self.rng.0,
            self.level_threshold,
            body_len,
            checksum,
        ];
        for (i, v) in u64s.iter().enumerate() {
            h[56 + 8 * i..64 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        h
    }

    /// Streams the body through `sink` in pieces of about 4 KB.
    fn emit_body(&self, sink: &mut Sink<'_>) -> Result<(), HnswError> {
        let mut buf = Vec::with_capacity(4096);
        for s in self.sections() {
            let step = 4096 / s.width();
            let mut from = 0;
            while from < s.len() {
                let to = s.len().min(from + step);
                buf.clear();
                s.put(from, to, &mut buf);
                sink(&buf)?;
                from = to;
            }
        }
        Ok(())
    }

    /// Writes the snapshot to `w` without building it in memory (two passes over the index:
    /// one for the checksum, one to write). Returns the bytes written.
    pub fn write_to<W: std::io::Write>(&self, w: &mut W) -> Result<u64, HnswError> {
        let mut sum = Checksum::new();
        let mut body_len = 0u64;
        self.emit_body(&mut |b| {
            body_len += b.len() as u64;
            Ok(())
        })?;
        let provisional = self.header(body_len, 0);
        sum.update(&provisional[..CHECKSUM_AT]);
        self.emit_body(&mut |b| {
            sum.update(b);
            Ok(())
        })?;
        let io = |e: std::io::Error| HnswError::Io(e.to_string());
        w.write_all(&self.header(body_len, sum.finish()))
            .map_err(io)?;
        self.emit_body(&mut |b| w.write_all(b).map_err(io))?;
        Ok(HEADER_LEN as u64 + body_len)
    }

    /// The snapshot as one byte buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.write_to(&mut out);
        out
    }

    /// Loads a snapshot; every problem is an error and nothing is half-loaded (a
    /// [`SnapshotReader`] fed the whole body at once).
    pub fn from_bytes(bytes: &[u8]) -> Result<Hnsw, HnswError> {
        let mut r = SnapshotReader::new(bytes, bytes.len() as u64)?;
        r.feed(&bytes[HEADER_LEN..])?;
        r.finish()
    }

    /// Reads a whole snapshot from `r` (see [`Hnsw::from_bytes`]).
    pub fn read_from<R: std::io::Read>(r: &mut R) -> Result<Hnsw, HnswError> {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes)
            .map_err(|e| HnswError::Io(e.to_string()))?;
        Hnsw::from_bytes(&bytes)
    }
}

/// A parsed, checked v1 header.
pub(crate) struct Header {
    pub params: HnswParams,
    pub slots: u64,
    pub n_deleted: u64,
    pub entry: u32,
    pub max_level: u8,
    pub rng_state: u64,
    pub level_threshold: u64,
    pub body_len: u64,
    pub checksum: u64,
    /// Body bytes of every section but the upper levels (whose size follows from the levels).
    pub fixed: u64,
}

fn corrupt<T>(msg: impl Into<String>) -> Result<T, HnswError> {
    Err(HnswError::Corrupt(msg.into()))
}

impl Header {
    /// Tombstone words.
    pub fn words(&self) -> u64 {
        self.slots.div_ceil(64)
    }

    /// Checks the magic, the version, every field's range, and that `total_len` bytes hold
    /// exactly the body the header describes (checked arithmetic, before any allocation).
    pub fn parse(bytes: &[u8], total_len: u64) -> Result<Header, HnswError> {
        if bytes.len() < HEADER_LEN {
            if bytes.len() >= 8 && bytes[..8] != MAGIC {
                return Err(HnswError::BadMagic);
            }
            return Err(HnswError::Truncated {
                needed: HEADER_LEN as u64,
                got: total_len.min(bytes.len() as u64),
            });
        }
        if bytes[..8] != MAGIC {
            return Err(HnswError::BadMagic);
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != FORMAT_VERSION {
            return Err(HnswError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let u32_at =
            |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let u64_at = |o: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[o..o + 8]);
            u64::from_le_bytes(w)
        };
        let metric = Metric::from_code(bytes[10])
            .ok_or(HnswError::Corrupt(format!("unknown metric {}", bytes[10])))?;
        let storage = Storage::from_code(bytes[11])
            .ok_or(HnswError::Corrupt(format!("unknown storage {}", bytes[11])))?;
        let flags = bytes[12];
        let max_level = bytes[13];
        if flags > 1 || bytes[14] != 0 || bytes[15] != 0 {
            return corrupt("unknown flags or reserved bits set");
        }
        if flags == 1 && storage == Storage::F32 {
            return corrupt("f32 copies flagged for f32 storage");
        }
        let (dims, slots, n_deleted, entry) = (
            u32_at(16) as u64,
            u32_at(20) as u64,
            u32_at(24) as u64,
            u32_at(28),
        );
        let (m, m0) = (u32_at(32) as u64, u32_at(36) as u64);
        let (efc, efs) = (u32_at(40) as usize, u32_at(44) as usize);
        let ml = f64::from_le_bytes(bytes[48..56].try_into().unwrap_or([0; 8]));
        let (seed, rng_state, level_threshold, body_len, checksum) =
            (u64_at(56), u64_at(64), u64_at(72), u64_at(80), u64_at(88));
        if dims == 0 || dims > MAX_DIMS as u64 {
            return corrupt(format!("dims {dims} out of range"));
        }
        if m < 2 || m > MAX_M as u64 || m0 < m || m0 > 2 * MAX_M as u64 {
            return corrupt(format!("m = {m}, m0 = {m0} out of range"));
        }
        if max_level > MAX_LEVEL || slots > MAX_SLOTS as u64 || n_deleted > slots {
            return corrupt("level or counts out of range");
        }
        let params = HnswParams {
            dims: dims as usize,
            metric,
            storage,
            m: m as usize,
            m0: m0 as usize,
            ef_construction: efc,
            ef_search: efs,
            ml,
            seed,
            keep_f32: flags & 1 == 1,
        };
        validate_params(&params).map_err(|e| HnswError::Corrupt(e.to_string()))?;

        // The body's size, from the header alone.
        let too_large =
            || HnswError::TooLarge(format!("{slots} slots of {dims} dimensions overflow"));
        let mul = |a: u64, b: u64| a.checked_mul(b).ok_or_else(too_large);
        let vec_bytes = match storage {
            Storage::F32 => mul(mul(slots, dims)?, 4)?,
            Storage::F16 => mul(mul(slots, dims)?, 2)?,
            Storage::I8 => mul(slots, dims)?
                .checked_add(mul(slots, 8)?)
                .ok_or_else(too_large)?,
            Storage::Q4 => mul(slots, dims.div_ceil(32))?
                .checked_mul(16)
                .and_then(|c| c.checked_add(slots.checked_mul(8)?))
                .ok_or_else(too_large)?,
        };
        let raw_bytes = if flags & 1 == 1 {
            mul(mul(slots, dims)?, 4)?
        } else {
            0
        };
        let fixed = [
            mul(slots, 9)?,
            mul(slots.div_ceil(64), 8)?,
            mul(mul(slots, 1 + m0)?, 4)?,
            vec_bytes,
            raw_bytes,
        ]
        .into_iter()
        .try_fold(0u64, |a, b| a.checked_add(b))
        .ok_or_else(too_large)?;
        let needed = (HEADER_LEN as u64)
            .checked_add(body_len)
            .ok_or_else(too_large)?;
        if total_len < needed {
            return Err(HnswError::Truncated {
                needed,
                got: total_len,
            });
        }
        if total_len > needed {
            return corrupt(format!(
                "{} trailing bytes after the snapshot",
                total_len - needed
            ));
        }
        if body_len < fixed {
            return corrupt(format!(
                "body of {body_len} bytes is shorter than the {fixed} its header needs"
            ));
        }
        Ok(Header {
            params,
            slots,
            n_deleted,
            entry,
            max_level,
            rng_state,
            level_threshold,
            body_len,
            checksum,
            fixed,
        })
    }
}
