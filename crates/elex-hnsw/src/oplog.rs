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

use elex_store::{ByteReader, OpWriter};

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
pub struct OpLog(OpWriter);

impl OpLog {
    /// Appends an add.
    pub fn add(&mut self, id: u64, vector: &[f32]) {
        self.0.op(1).u64(id).f32s(vector);
    }

    /// Appends a batch (`ids.len()` vectors in `vectors`).
    pub fn batch(&mut self, ids: &[u64], vectors: &[f32]) {
        self.0.op(2).len_u32(ids.len()).u64s(ids).f32s(vectors);
    }

    /// Appends a delete.
    pub fn delete(&mut self, id: u64) {
        self.0.op(3).u64(id);
    }

    /// Appends a compaction.
    pub fn compact(&mut self) {
        self.0.op(4);
    }

    /// Appends an update.
    pub fn update(&mut self, id: u64, vector: &[f32]) {
        self.0.op(5).u64(id).f32s(vector);
    }

    /// Operations appended since the last [`take`](Self::take).
    pub fn len(&self) -> u32 {
        self.0.len()
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Bytes encoded so far.
    pub fn byte_len(&self) -> usize {
        self.0.byte_len()
    }

    /// The operation count and encoded bytes; the log starts empty again.
    pub fn take(&mut self) -> (u32, Vec<u8>) {
        self.0.take()
    }
}

/// Decodes a record's payload of `count` operations for an index of `dims` dimensions; every
/// length is checked before anything is allocated from it.
pub fn decode_ops(payload: &[u8], count: u32, dims: usize) -> Result<Vec<Op>, HnswError> {
    let mut r = ByteReader::new(payload);
    let mut ops = Vec::new();
    for _ in 0..count {
        let op = match r.u8()? {
            1 => Op::Add {
                id: r.u64()?,
                vector: r.f32s(dims)?,
            },
            2 => {
                let n = r.u32()? as usize;
                if !r.has_room(n, 4usize.saturating_mul(dims).saturating_add(8)) {
                    return Err(HnswError::Corrupt(format!(
                        "a batch of {n} vectors does not fit its record"
                    )));
                }
                Op::Batch {
                    ids: r.u64s(n)?,
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
    if r.left() != 0 {
        return Err(HnswError::Corrupt(format!(
            "{} bytes after the last of {count} operations",
            r.left()
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
