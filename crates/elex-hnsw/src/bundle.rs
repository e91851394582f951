//! A budgeted index as one file to ship: build it once (natively), serve the file, and import
//! it in the browser as a stream (rows into IndexedDB as they arrive, with progress).
//!
//! Layout (little endian): a 40-byte header — magic `ELEXBDG1`, format version (u16), row
//! precision (u8: 1 f32, 2 f16), a zero byte, row bytes (u32), rows (u64), snapshot bytes (u64),
//! and the checksum of those 32 bytes (u64) — then the index's snapshot (codes and links, with
//! its own checksum), then `rows · row_bytes` bytes of exact rows in slot order, then the
//! checksum of the rows (u64). [`BundleReader`] takes the stream in chunks of any size.

use crate::{BudgetedHnsw, HEADER_LEN, Hnsw, HnswError, RowPrecision, RowStore, SnapshotReader};
use elex_simd::{Checksum, checksum64};

/// The first eight bytes of a bundle.
pub const BUNDLE_MAGIC: [u8; 8] = *b"ELEXBDG1";
/// The bundle format this build writes and reads.
pub const BUNDLE_VERSION: u16 = 1;
/// Bytes of the bundle header.
pub const BUNDLE_HEADER_LEN: usize = 40;

/// What a bundle's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BundleHeader {
    /// Precision of the rows.
    pub precision: RowPrecision,
    /// Bytes per row.
    pub row_bytes: u32,
    /// Rows (one per slot of the index).
    pub rows: u64,
    /// Bytes of the index snapshot.
    pub snapshot_len: u64,
}

impl BundleHeader {
    /// The 40 header bytes.
    pub fn encode(&self) -> [u8; BUNDLE_HEADER_LEN] {
        let mut h = [0u8; BUNDLE_HEADER_LEN];
        h[..8].copy_from_slice(&BUNDLE_MAGIC);
        h[8..10].copy_from_slice(&BUNDLE_VERSION.to_le_bytes());
        h[10] = match self.precision {
            RowPrecision::F32 => 1,
            RowPrecision::F16 => 2,
        };
        h[12..16].copy_from_slice(&self.row_bytes.to_le_bytes());
        h[16..24].copy_from_slice(&self.rows.to_le_bytes());
        h[24..32].copy_from_slice(&self.snapshot_len.to_le_bytes());
        let sum = checksum64(&h[..32]);
        h[32..].copy_from_slice(&sum.to_le_bytes());
        h
    }

    /// Parses and checks the 40 header bytes.
    pub fn parse(h: &[u8]) -> Result<BundleHeader, HnswError> {
        if h.len() < BUNDLE_HEADER_LEN {
            return Err(HnswError::Truncated {
                needed: BUNDLE_HEADER_LEN as u64,
                got: h.len() as u64,
            });
        }
        if h[..8] != BUNDLE_MAGIC {
            return Err(HnswError::BadMagic);
        }
        let u64_at = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&h[i..i + 8]);
            u64::from_le_bytes(w)
        };
        let stored = u64_at(32);
        let computed = checksum64(&h[..32]);
        if stored != computed {
            return Err(HnswError::ChecksumMismatch { stored, computed });
        }
        let version = u16::from_le_bytes([h[8], h[9]]);
        if version != BUNDLE_VERSION {
            return Err(HnswError::UnsupportedVersion {
                found: version,
                supported: BUNDLE_VERSION,
            });
        }
        let precision = match h[10] {
            1 => RowPrecision::F32,
            2 => RowPrecision::F16,
            p => return Err(HnswError::Corrupt(format!("row precision code {p}"))),
        };
        Ok(BundleHeader {
            precision,
            row_bytes: u32::from_le_bytes([h[12], h[13], h[14], h[15]]),
            rows: u64_at(16),
            snapshot_len: u64_at(24),
        })
    }

    /// Bytes of the whole bundle, `None` if that overflows.
    pub fn total_len(&self) -> Option<u64> {
        (BUNDLE_HEADER_LEN as u64 + 8)
            .checked_add(self.snapshot_len)?
            .checked_add(self.rows.checked_mul(u64::from(self.row_bytes))?)
    }
}

impl<S: RowStore> BudgetedHnsw<S> {
    /// Writes this index as a bundle: the header, the snapshot, every slot's row read back from
    /// the store (in pieces of about 4 MB), the rows' checksum. Returns the bytes written.
    pub fn export(&mut self, w: &mut impl std::io::Write) -> Result<u64, HnswError> {
        let io = |e: std::io::Error| HnswError::Io(e.to_string());
        let snapshot = self.index().to_bytes();
        let rb = self.row_bytes();
        let slots = self.index().len_slots();
        let header = BundleHeader {
            precision: self.precision(),
            row_bytes: rb as u32,
            rows: slots as u64,
            snapshot_len: snapshot.len() as u64,
        };
        w.write_all(&header.encode()).map_err(io)?;
        w.write_all(&snapshot).map_err(io)?;
        let mut sum = Checksum::new();
        let per = ((4 << 20) / rb.max(1)).max(1);
        let mut buf = Vec::new();
        let mut first = 0usize;
        while first < slots {
            let last = (first + per).min(slots);
            let ids: Vec<u32> = (first as u32..last as u32).collect();
            buf.clear();
            self.rows_mut()
                .read(&ids, &mut buf)
                .map_err(HnswError::RowStore)?;
            sum.update(&buf);
            w.write_all(&buf).map_err(io)?;
            first = last;
        }
        w.write_all(&sum.finish().to_le_bytes()).map_err(io)?;
        header
            .total_len()
            .ok_or_else(|| HnswError::TooLarge("bundle length overflows".into()))
    }
}

/// Reads a bundle fed in chunks of any size: the header, then the snapshot (decoded and checked
/// as it comes, and handed to the caller to keep), then the rows (handed to the caller as they
/// come, whole rows only), then the checksum.
#[derive(Debug, Default)]
pub struct BundleReader {
    head: Vec<u8>,
    header: Option<BundleHeader>,
    snap_head: Vec<u8>,
    snap: Option<SnapshotReader>,
    snapshot_seen: u64,
    rows_bytes: u64,
    sum: Checksum,
    partial: Vec<u8>,
    tail: Vec<u8>,
}

impl BundleReader {
    /// A reader at the start of a bundle.
    pub fn new() -> BundleReader {
        BundleReader::default()
    }

    /// The header, once its 40 bytes are in.
    pub fn header(&self) -> Option<&BundleHeader> {
        self.header.as_ref()
    }

    /// Whether the whole snapshot is in.
    pub fn snapshot_complete(&self) -> bool {
        self.header
            .is_some_and(|h| self.snapshot_seen == h.snapshot_len)
    }

    /// Row bytes received so far (whole rows handed out, plus a partial one held).
    pub fn rows_received(&self) -> u64 {
        self.rows_bytes
    }

    /// Takes `chunk`: the snapshot bytes it holds are decoded and appended to `snapshot`, the
    /// whole rows it completes to `rows`.
    pub fn feed(
        &mut self,
        mut chunk: &[u8],
        snapshot: &mut Vec<u8>,
        rows: &mut Vec<u8>,
    ) -> Result<(), HnswError> {
        if self.header.is_none() {
            let take = (BUNDLE_HEADER_LEN - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.head.len() < BUNDLE_HEADER_LEN {
                return Ok(());
            }
            let h = BundleHeader::parse(&self.head)?;
            if h.row_bytes == 0 || h.total_len().is_none() || h.snapshot_len < HEADER_LEN as u64 {
                return Err(HnswError::Corrupt(
                    "the bundle's header is inconsistent".into(),
                ));
            }
            self.header = Some(h);
        }
        let Some(h) = self.header else {
            return Ok(());
        };
        if self.snapshot_seen < h.snapshot_len && !chunk.is_empty() {
            let take = ((h.snapshot_len - self.snapshot_seen) as usize).min(chunk.len());
            let part = &chunk[..take];
            snapshot.extend_from_slice(part);
            self.snapshot_seen += take as u64;
            let mut body = part;
            if self.snap.is_none() {
                let need = (HEADER_LEN - self.snap_head.len()).min(body.len());
                self.snap_head.extend_from_slice(&body[..need]);
                body = &body[need..];
                if self.snap_head.len() == HEADER_LEN {
                    self.snap = Some(SnapshotReader::new(&self.snap_head, h.snapshot_len)?);
                }
            }
            if let Some(r) = &mut self.snap
                && !body.is_empty()
            {
                r.feed(body)?;
            }
            chunk = &chunk[take..];
        }
        let rows_total = h.rows * u64::from(h.row_bytes);
        if self.rows_bytes < rows_total && !chunk.is_empty() {
            let take = ((rows_total - self.rows_bytes) as usize).min(chunk.len());
            let part = &chunk[..take];
            self.sum.update(part);
            self.rows_bytes += take as u64;
            self.partial.extend_from_slice(part);
            let whole = self.partial.len() / h.row_bytes as usize * h.row_bytes as usize;
            rows.extend_from_slice(&self.partial[..whole]);
            self.partial.drain(..whole);
            chunk = &chunk[take..];
        }
        if !chunk.is_empty() {
            let take = (8 - self.tail.len()).min(chunk.len());
            self.tail.extend_from_slice(&chunk[..take]);
            if take < chunk.len() {
                return Err(HnswError::Corrupt(
                    "bytes after the end of the bundle".into(),
                ));
            }
        }
        Ok(())
    }

    /// Checks that the stream ended where the bundle does and the rows' checksum matches.
    pub fn finish(self) -> Result<(), HnswError> {
        let h = self.header.ok_or(HnswError::Truncated {
            needed: BUNDLE_HEADER_LEN as u64,
            got: self.head.len() as u64,
        })?;
        let total = h.total_len().unwrap_or(u64::MAX);
        let got =
            (BUNDLE_HEADER_LEN + self.tail.len()) as u64 + self.snapshot_seen + self.rows_bytes;
        if self.tail.len() < 8 || self.rows_bytes < h.rows * u64::from(h.row_bytes) {
            return Err(HnswError::Truncated { needed: total, got });
        }
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.tail);
        let stored = u64::from_le_bytes(w);
        let computed = self.sum.finish();
        if stored != computed {
            return Err(HnswError::ChecksumMismatch { stored, computed });
        }
        Ok(())
    }

    /// The index, once the whole snapshot is in (its checksum and structure checked), checked
    /// against the header: one row per slot, no f32 copies kept. Once only.
    pub fn take_index(&mut self) -> Result<Hnsw, HnswError> {
        let (Some(h), Some(r)) = (self.header, self.snap.take()) else {
            return Err(HnswError::Truncated {
                needed: BUNDLE_HEADER_LEN as u64 + HEADER_LEN as u64,
                got: self.head.len() as u64 + self.snapshot_seen,
            });
        };
        let index = r.finish()?;
        if index.len_slots() as u64 != h.rows
            || h.precision.row_bytes(index.dims()) != h.row_bytes as usize
            || index.params().keep_f32
        {
            return Err(HnswError::Corrupt(format!(
                "the bundle's header ({} rows of {} bytes) does not match its index ({} slots of {} dimensions)",
                h.rows,
                h.row_bytes,
                index.len_slots(),
                index.dims()
            )));
        }
        Ok(index)
    }
}

impl<S: RowStore> BudgetedHnsw<S> {
    /// Reads a bundle from `r` into `rows` (in pieces of about 4 MB, starting at slot 0) and
    /// opens it under `budget_bytes`; [`HnswError::BudgetTooSmall`] as soon as the snapshot
    /// shows the index does not fit, before any row is written.
    pub fn import(
        r: &mut impl std::io::Read,
        budget_bytes: u64,
        mut rows: S,
    ) -> Result<BudgetedHnsw<S>, HnswError> {
        let mut reader = BundleReader::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut pending = Vec::new();
        let mut snapshot = Vec::new();
        let mut index = None;
        let mut next = 0u32;
        loop {
            let n = r.read(&mut buf).map_err(|e| HnswError::Io(e.to_string()))?;
            if n == 0 {
                break;
            }
            reader.feed(&buf[..n], &mut snapshot, &mut pending)?;
            snapshot.clear();
            if index.is_none() && reader.snapshot_complete() {
                let i = reader.take_index()?;
                let minimum = i.memory_bytes() as u64;
                if minimum > budget_bytes {
                    return Err(HnswError::BudgetTooSmall {
                        budget: budget_bytes,
                        minimum,
                    });
                }
                index = Some(i);
            }
            if pending.len() >= 4 << 20 {
                let rb = reader.header().map_or(1, |h| h.row_bytes as usize);
                rows.append(next, &pending).map_err(HnswError::RowStore)?;
                next += (pending.len() / rb) as u32;
                pending.clear();
            }
        }
        let precision = reader.header().map(|h| h.precision);
        if !pending.is_empty() {
            rows.append(next, &pending).map_err(HnswError::RowStore)?;
        }
        reader.finish()?;
        match (index, precision) {
            (Some(i), Some(p)) => BudgetedHnsw::from_index(i, p, budget_bytes, rows),
            _ => Err(HnswError::Truncated {
                needed: BUNDLE_HEADER_LEN as u64,
                got: 0,
            }),
        }
    }
}
