//! The index's mutations as log entries: what a persistent index appends to its op log
//! (framed, numbered and checksummed by `elex-store`) and replays on open.
//!
//! Vectors are logged as the caller gave them (before normalization or quantization), and
//! replay makes the same calls in the same order from the same checkpoint, so a replayed index
//! is byte-identical to the one that wrote the log (its RNG state is in the snapshot).
//!
//! Encoding, little endian: a tag byte per operation, then
//! - `1` add: id `u64`, `dims` × `f32`;
//! - `2` batch: count `u32`, count × id `u64`, count × `dims` × `f32`;
//! - `3` delete: id `u64`;
//! - `4` compact;
//! - `5` update: id `u64`, `dims` × `f32`.

use std::collections::HashMap;

use crate::{Hnsw, HnswError};

/// One logged mutation.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// [`Hnsw::insert`].
    Add {
        /// The caller's id.
        id: u64,
        /// The vector as given.
        vector: Vec<f32>,
    },
    /// A batch insert ([`Hnsw::insert_batch`], or the stepped batch API).
    Batch {
        /// The caller's ids.
        ids: Vec<u64>,
        /// `ids.len()` vectors, one after another.
        vectors: Vec<f32>,
    },
    /// [`Hnsw::delete`].
    Delete {
        /// The caller's id.
        id: u64,
    },
    /// [`Hnsw::compact`].
    Compact,
    /// [`Hnsw::update`].
    Update {
        /// The caller's id.
        id: u64,
        /// The new vector as given.
        vector: Vec<f32>,
    },
}

/// Operations being encoded for one log record.
#[derive(Debug, Default)]
pub struct OpLog {
    bytes: Vec<u8>,
    ops: u32,
}

fn put_f32s(out: &mut Vec<u8>, v: &[f32]) {
    out.reserve(v.len() * 4);
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

impl OpLog {
    /// Appends an add.
    pub fn add(&mut self, id: u64, vector: &[f32]) {
        self.bytes.push(1);
        self.bytes.extend_from_slice(&id.to_le_bytes());
        put_f32s(&mut self.bytes, vector);
        self.ops += 1;
    }

    /// Appends a batch (`ids.len()` vectors in `vectors`).
    pub fn batch(&mut self, ids: &[u64], vectors: &[f32]) {
        self.bytes.push(2);
        self.bytes
            .extend_from_slice(&(ids.len() as u32).to_le_bytes());
        self.bytes.reserve(ids.len() * 8);
        for id in ids {
            self.bytes.extend_from_slice(&id.to_le_bytes());
        }
        put_f32s(&mut self.bytes, vectors);
        self.ops += 1;
    }

    /// Appends a delete.
    pub fn delete(&mut self, id: u64) {
        self.bytes.push(3);
        self.bytes.extend_from_slice(&id.to_le_bytes());
        self.ops += 1;
    }

    /// Appends a compaction.
    pub fn compact(&mut self) {
        self.bytes.push(4);
        self.ops += 1;
    }

    /// Appends an update.
    pub fn update(&mut self, id: u64, vector: &[f32]) {
        self.bytes.push(5);
        self.bytes.extend_from_slice(&id.to_le_bytes());
        put_f32s(&mut self.bytes, vector);
        self.ops += 1;
    }

    /// Operations appended since the last [`take`](Self::take).
    pub fn len(&self) -> u32 {
        self.ops
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.ops == 0
    }

    /// Bytes encoded so far.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// The operation count and encoded bytes; the log starts empty again.
    pub fn take(&mut self) -> (u32, Vec<u8>) {
        (
            std::mem::take(&mut self.ops),
            std::mem::take(&mut self.bytes),
        )
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], HnswError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| {
                HnswError::Corrupt(format!(
                    "an operation ends past its record ({n} bytes at {} of {})",
                    self.at,
                    self.b.len()
                ))
            })?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u64(&mut self) -> Result<u64, HnswError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    fn u32(&mut self) -> Result<u32, HnswError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }

    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, HnswError> {
        let len = n
            .checked_mul(4)
            .ok_or_else(|| HnswError::Corrupt("vector length overflows".into()))?;
        Ok(self
            .take(len)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
            .collect())
    }
}

/// Decodes a record's payload of `count` operations for an index of `dims` dimensions; every
/// length is checked before anything is allocated from it.
pub fn decode_ops(payload: &[u8], count: u32, dims: usize) -> Result<Vec<Op>, HnswError> {
    let mut r = Reader { b: payload, at: 0 };
    let mut ops = Vec::new();
    for _ in 0..count {
        let op = match r.take(1)?[0] {
            1 => Op::Add {
                id: r.u64()?,
                vector: r.f32s(dims)?,
            },
            2 => {
                let n = r.u32()? as usize;
                let need = n.saturating_mul(8 + 4 * dims);
                if need > payload.len() - r.at {
                    return Err(HnswError::Corrupt(format!(
                        "a batch of {n} vectors does not fit its record"
                    )));
                }
                let ids = (0..n).map(|_| r.u64()).collect::<Result<Vec<_>, _>>()?;
                Op::Batch {
                    ids,
                    vectors: r.f32s(n * dims)?,
                }
            }
            3 => Op::Delete { id: r.u64()? },
            4 => Op::Compact,
            5 => Op::Update {
                id: r.u64()?,
                vector: r.f32s(dims)?,
            },
            t => return Err(HnswError::Corrupt(format!("unknown operation tag {t}"))),
        };
        ops.push(op);
    }
    if r.at != payload.len() {
        return Err(HnswError::Corrupt(format!(
            "{} bytes after the last of {count} operations",
            payload.len() - r.at
        )));
    }
    Ok(ops)
}

impl Hnsw {
    /// Checks that `ops` would all apply, in order, to this index (the same checks the calls
    /// make, with the ids each earlier op adds or removes taken into account), changing
    /// nothing. A record that passes is applied whole by [`Hnsw::apply_ops`].
    pub fn check_ops(&self, ops: &[Op]) -> Result<(), HnswError> {
        self.check_idle("apply logged operations")?;
        // Ids whose liveness the earlier ops changed: true = live.
        let mut changed: HashMap<u64, bool> = HashMap::new();
        let mut slots = self.len_slots();
        let live = |changed: &HashMap<u64, bool>, id: u64| {
            changed
                .get(&id)
                .copied()
                .unwrap_or_else(|| self.contains(id))
        };
        for op in ops {
            match op {
                Op::Add { id, vector } => {
                    self.check_vector(vector)?;
                    if live(&changed, *id) {
                        return Err(HnswError::DuplicateId(*id));
                    }
                    changed.insert(*id, true);
                    slots += 1;
                }
                Op::Batch { ids, vectors } => {
                    if ids.len().checked_mul(self.dims()) != Some(vectors.len()) {
                        return Err(HnswError::BatchShape {
                            ids: ids.len(),
                            values: vectors.len(),
                            dims: self.dims(),
                        });
                    }
                    for (i, id) in ids.iter().enumerate() {
                        self.check_vector(&vectors[i * self.dims()..(i + 1) * self.dims()])?;
                        if live(&changed, *id) {
                            return Err(HnswError::DuplicateId(*id));
                        }
                        changed.insert(*id, true);
                    }
                    slots += ids.len();
                }
                Op::Delete { id } => {
                    if !live(&changed, *id) {
                        return Err(HnswError::UnknownId(*id));
                    }
                    changed.insert(*id, false);
                }
                Op::Update { id, vector } => {
                    self.check_vector(vector)?;
                    if !live(&changed, *id) {
                        return Err(HnswError::UnknownId(*id));
                    }
                    slots += 1;
                }
                Op::Compact => {
                    // A compaction keeps one slot per live id.
                    let delta: isize = changed
                        .iter()
                        .map(|(id, &l)| match (self.contains(*id), l) {
                            (false, true) => 1,
                            (true, false) => -1,
                            _ => 0,
                        })
                        .sum();
                    slots = (self.len() as isize + delta).max(0) as usize;
                }
            }
            if slots >= u32::MAX as usize - 1 {
                return Err(HnswError::Full(slots));
            }
        }
        Ok(())
    }

    /// Applies logged operations in order, whole or not at all: they are checked first
    /// ([`Hnsw::check_ops`]).
    pub fn apply_ops(&mut self, ops: &[Op]) -> Result<(), HnswError> {
        self.check_ops(ops)?;
        for op in ops {
            self.apply_op(op)?;
        }
        Ok(())
    }

    /// Applies one logged operation (the call it records).
    pub fn apply_op(&mut self, op: &Op) -> Result<(), HnswError> {
        match op {
            Op::Add { id, vector } => self.insert(*id, vector).map(|_| ()),
            Op::Batch { ids, vectors } => self.insert_batch(ids, vectors, |_, _| {}),
            Op::Delete { id } => self.delete(*id),
            Op::Compact => self.compact(),
            Op::Update { id, vector } => self.update(*id, vector).map(|_| ()),
        }
    }
}
