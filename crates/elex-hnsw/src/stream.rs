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

use crate::graph::Graph;
use crate::ids::IdMap;
use crate::index::{Hnsw, Parts};
use crate::section::Sink;
use crate::snapshot::{CHECKSUM_AT, Header, Part, layout};
use crate::store::VectorStore;
use crate::tombstones::Tombstones;
use crate::{HEADER_LEN, HnswError};
use elex_simd::{Checksum, Kernels, SplitMix64};

impl Hnsw {
    /// A writer of this index's snapshot in chunks. The index must not change until the
    /// writer is done (it checks, and fails with `Busy`, if it did).
    pub fn snapshot_writer(&self) -> SnapshotWriter {
        let body_len: u64 = self.sections().iter().map(|s| s.bytes()).sum();
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

/// Reads a snapshot in chunks: [`SnapshotReader::new`] with the header and the snapshot's
/// total length, [`SnapshotReader::feed`] with the rest in any split, then
/// [`SnapshotReader::finish`].
///
/// Each component decodes its own sections into its arrays and checks them (the graph each
/// link block as soon as it is in, the store each value); what spans components (levels and
/// ids against the tombstones, the body's length against the levels, the entry point) is
/// checked here, at the end of the section that completes it.
pub struct SnapshotReader {
    h: Header,
    sum: Checksum,
    layout: Vec<Part>,
    /// The section being read (`layout.len()` once done).
    at: usize,
    /// Elements left in the current section.
    left: u64,
    carry: Vec<u8>,
    fed: u64,
    ids: IdMap,
    graph: Graph,
    tombs: Tombstones,
    store: VectorStore,
    /// Elements (blocks, values) of the current section already checked.
    checked: usize,
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
        let (slots, p) = (h.slots as usize, &h.params);
        let store = VectorStore::for_reading(p.dims, p.storage, p.keep_f32, slots);
        let mut r = SnapshotReader {
            sum,
            layout: layout(store.sections()),
            at: 0,
            left: 0,
            carry: Vec::new(),
            fed: 0,
            ids: IdMap::for_reading(slots),
            graph: Graph::for_reading(p.m, p.m0, slots),
            tombs: Tombstones::for_reading(slots),
            store,
            checked: 0,
            error: None,
            h,
        };
        r.enter(0);
        Ok(r)
    }

    /// Body bytes the header announces.
    pub fn body_len(&self) -> u64 {
        self.h.body_len
    }

    /// Body bytes fed so far.
    pub fn fed(&self) -> u64 {
        self.fed
    }

    fn fail(&mut self, e: Result<(), String>) {
        if let Err(msg) = e
            && self.error.is_none()
        {
            self.error = Some(HnswError::Corrupt(msg));
        }
    }

    /// Where the current section's elements go.
    fn sink(&mut self) -> Sink<'_> {
        match self.layout[self.at] {
            Part::Ids => self.ids.sink(),
            Part::Graph(i) => self.graph.sink(i),
            Part::Tombstones => self.tombs.sink(),
            Part::Store(i) => self.store.sink(i),
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
        while !input.is_empty() && self.at < self.layout.len() {
            let w = self.sink().width();
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
                self.sink().decode(&c);
                self.left -= 1;
            } else {
                let whole = ((input.len() / w) as u64).min(self.left) as usize;
                let (now, rest) = input.split_at(whole * w);
                self.sink().decode(now);
                self.left -= whole as u64;
                input = rest;
                if self.left > 0 && !input.is_empty() && input.len() < w {
                    self.carry.extend_from_slice(input);
                    input = &[];
                }
            }
            self.check_progress();
            if self.left == 0 {
                self.leave();
            }
            if self.error.is_some() {
                break;
            }
        }
        Ok(())
    }

    /// The current section's component checks what was decoded since the last call.
    fn check_progress(&mut self) {
        let mut done = self.checked;
        let r = match self.layout[self.at] {
            Part::Graph(i) => self.graph.check_blocks(i, &mut done),
            Part::Store(i) => self.store.check_values(i, &mut done),
            Part::Ids | Part::Tombstones => Ok(()),
        };
        self.checked = done;
        self.fail(r);
    }

    /// Starts section `at` (finishing at once a section with no elements).
    fn enter(&mut self, at: usize) {
        self.at = at;
        self.checked = 0;
        let slots = self.h.slots;
        self.left = match self.layout.get(at) {
            None => return,
            Some(Part::Ids) => slots,
            Some(Part::Tombstones) => self.h.words(),
            Some(&Part::Graph(i)) => self.graph.section_len(i, slots),
            Some(&Part::Store(i)) => self.store.section_len(i, slots),
        };
        if self.left == 0 {
            self.check_progress();
            self.leave();
        }
    }

    /// The current section is complete: checks that span components, then the next section.
    fn leave(&mut self) {
        let h = &self.h;
        match self.layout[self.at] {
            Part::Tombstones => {
                let r = self.tombs.check(h.slots, h.n_deleted);
                self.fail(r);
                let (h, tombs) = (&self.h, &self.tombs);
                let live = (h.slots - h.n_deleted) as usize;
                let r = self
                    .graph
                    .check_levels(h.max_level, |n| tombs.is_deleted(n))
                    .and_then(|()| self.ids.index_live(live, |n| tombs.is_deleted(n)));
                self.fail(r);
            }
            // Upper blocks follow from the levels; the body must hold exactly them.
            Part::Graph(Graph::LEVEL0) if h.fixed + self.graph.upper_units() * 4 != h.body_len => {
                self.fail(Err("body length does not match the levels".into()));
            }
            _ => {}
        }
        if self.error.is_none() {
            self.enter(self.at + 1);
        }
    }

    /// The index, once every byte was fed: the checksum, then any structural problem met.
    pub fn finish(mut self) -> Result<Hnsw, HnswError> {
        let h = &self.h;
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
        self.graph
            .check_entry(h.entry, h.max_level, h.slots - h.n_deleted)
            .map_err(HnswError::Corrupt)?;
        Ok(Hnsw::from_parts(
            self.h.params,
            Kernels::detect(),
            SplitMix64(self.h.rng_state),
            self.h.level_threshold,
            Parts {
                graph: self.graph,
                ids: self.ids,
                tombs: self.tombs,
                store: self.store,
            },
        ))
    }
}
