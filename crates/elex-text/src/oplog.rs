//! The text index's mutations as log entries: what a persistent text index appends to its op
//! log (framed, numbered and checksummed by `elex-store`) and replays on open.
//!
//! Encoding, little endian: a tag byte per operation, then
//! - `1` add: id `u64`, text length `u32`, UTF-8 bytes;
//! - `2` batch: count `u32`, then count × (id `u64`, text length `u32`, UTF-8 bytes);
//! - `3` delete: id `u64`.

use std::collections::HashMap;

use elex_store::{ByteReader, OpWriter};

use crate::{MAX_TEXT_BYTES, TextError, TextIndex};

/// One logged mutation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextOp {
    /// [`TextIndex::add`].
    Add {
        /// The caller's id.
        id: u64,
        /// The text.
        text: String,
    },
    /// [`TextIndex::add_batch`] (or the stepped batch API).
    Batch {
        /// The caller's ids.
        ids: Vec<u64>,
        /// One text per id.
        texts: Vec<String>,
    },
    /// [`TextIndex::delete`].
    Delete {
        /// The caller's id.
        id: u64,
    },
}

/// Operations being encoded for one log record.
#[derive(Debug, Default)]
pub struct TextLog(OpWriter);

impl TextLog {
    fn text(&mut self, id: u64, text: &str) {
        self.0.u64(id).len_u32(text.len()).bytes(text.as_bytes());
    }

    /// Appends an add.
    pub fn add(&mut self, id: u64, text: &str) {
        self.0.op(1);
        self.text(id, text);
    }

    /// Appends a batch.
    pub fn batch<S: AsRef<str>>(&mut self, ids: &[u64], texts: &[S]) {
        self.0.op(2).len_u32(ids.len());
        for (id, t) in ids.iter().zip(texts) {
            self.text(*id, t.as_ref());
        }
    }

    /// Appends a delete.
    pub fn delete(&mut self, id: u64) {
        self.0.op(3).u64(id);
    }

    /// Operations appended since the last [`take`](Self::take).
    pub fn len(&self) -> u32 {
        self.0.len()
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The operation count and encoded bytes; the log starts empty again.
    pub fn take(&mut self) -> (u32, Vec<u8>) {
        self.0.take()
    }
}

fn read_text(r: &mut ByteReader<&[u8]>) -> Result<(u64, String), TextError> {
    let id = r.u64()?;
    let len = r.u32()? as usize;
    let text = std::str::from_utf8(r.take(len)?)
        .map_err(|e| TextError::Corrupt(format!("a logged text is not UTF-8: {e}")))?;
    Ok((id, text.to_string()))
}

/// Decodes a record's payload of `count` operations; lengths are checked before allocating.
pub fn decode_text_ops(payload: &[u8], count: u32) -> Result<Vec<TextOp>, TextError> {
    let mut r = ByteReader::new(payload);
    let mut ops = Vec::new();
    for _ in 0..count {
        let op = match r.u8()? {
            1 => {
                let (id, text) = read_text(&mut r)?;
                TextOp::Add { id, text }
            }
            2 => {
                let n = r.u32()? as usize;
                if !r.has_room(n, 12) {
                    return Err(TextError::Corrupt(format!(
                        "a batch of {n} texts does not fit its record"
                    )));
                }
                let (mut ids, mut texts) = (Vec::with_capacity(n), Vec::with_capacity(n));
                for _ in 0..n {
                    let (id, text) = read_text(&mut r)?;
                    ids.push(id);
                    texts.push(text);
                }
                TextOp::Batch { ids, texts }
            }
            3 => TextOp::Delete { id: r.u64()? },
            t => return Err(TextError::Corrupt(format!("unknown operation tag {t}"))),
        };
        ops.push(op);
    }
    if r.left() != 0 {
        return Err(TextError::Corrupt(format!(
            "{} bytes after the last of {count} operations",
            r.left()
        )));
    }
    Ok(ops)
}

impl TextIndex {
    /// Checks that `ops` would all apply, in order (the validator's checks, with the ids each
    /// earlier op adds or removes taken into account), changing nothing.
    pub fn check_ops(&self, ops: &[TextOp]) -> Result<(), TextError> {
        self.check_idle("apply logged operations")?;
        let mut changed: HashMap<u64, bool> = HashMap::new();
        let live = |c: &HashMap<u64, bool>, id: u64| {
            c.get(&id).copied().unwrap_or_else(|| self.contains(id))
        };
        let add = |c: &mut HashMap<u64, bool>, i: usize, id: u64, text: &str| {
            if id == u64::MAX {
                return Err(TextError::InvalidParams(format!("id {id} is reserved")));
            }
            if live(c, id) {
                return Err(TextError::DuplicateId(id));
            }
            if text.len() > MAX_TEXT_BYTES {
                return Err(TextError::TextTooLarge {
                    index: i,
                    bytes: text.len(),
                    max: MAX_TEXT_BYTES,
                });
            }
            c.insert(id, true);
            Ok(())
        };
        for op in ops {
            match op {
                TextOp::Add { id, text } => add(&mut changed, 0, *id, text)?,
                TextOp::Batch { ids, texts } => {
                    if ids.len() != texts.len() {
                        return Err(TextError::BatchShape {
                            ids: ids.len(),
                            texts: texts.len(),
                        });
                    }
                    for (i, (id, t)) in ids.iter().zip(texts).enumerate() {
                        add(&mut changed, i, *id, t)?;
                    }
                }
                TextOp::Delete { id } => {
                    if !live(&changed, *id) {
                        return Err(TextError::UnknownId(*id));
                    }
                    changed.insert(*id, false);
                }
            }
        }
        Ok(())
    }

    /// Applies logged operations in order, whole or not at all (checked first).
    pub fn apply_ops(&mut self, ops: &[TextOp]) -> Result<(), TextError> {
        self.check_ops(ops)?;
        for op in ops {
            match op {
                TextOp::Add { id, text } => self.add(*id, text)?,
                TextOp::Batch { ids, texts } => self.add_batch(ids, texts)?,
                TextOp::Delete { id } => self.delete(*id)?,
            }
        }
        Ok(())
    }

    /// An independent copy (a checkpoint writes the copy while the original takes writes);
    /// `Busy` while a batch is open.
    pub fn try_clone(&self) -> Result<TextIndex, TextError> {
        self.check_idle("copy the index")?;
        Ok(TextIndex {
            options: self.options,
            tokenizer: crate::Tokenizer::new(self.options.tokenizer),
            terms: self.terms.clone(),
            term_text: self.term_text.clone(),
            postings: self.postings.clone(),
            ids: self.ids.clone(),
            lens: self.lens.clone(),
            fwd: self.fwd.clone(),
            fwd_at: self.fwd_at.clone(),
            slot_of: self.slot_of.clone(),
            total_len: self.total_len,
            batch_open: false,
            generation: self.generation,
            word_terms: self.word_terms.clone(),
        })
    }
}
