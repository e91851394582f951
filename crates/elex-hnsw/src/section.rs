//! The plumbing every component's snapshot section shares: a [`Section`] is a component's
//! array as it writes it (little-endian elements), a [`Sink`] the array it decodes into.
//! Components say which arrays they have and what they mean; the order of the sections in the
//! body is the snapshot format's business (`snapshot::Layout`).

use elex_simd::f16;

/// One section of the body, as a component holds it.
pub(crate) enum Section<'a> {
    U64(&'a [u64]),
    U8(&'a [u8]),
    U32(&'a [u32]),
    F32(&'a [f32]),
    F16(&'a [f16]),
    I8(&'a [i8]),
}

impl Section<'_> {
    pub(crate) fn width(&self) -> usize {
        match self {
            Section::U64(_) => 8,
            Section::U8(_) | Section::I8(_) => 1,
            Section::U32(_) | Section::F32(_) => 4,
            Section::F16(_) => 2,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Section::U64(x) => x.len(),
            Section::U8(x) => x.len(),
            Section::U32(x) => x.len(),
            Section::F32(x) => x.len(),
            Section::F16(x) => x.len(),
            Section::I8(x) => x.len(),
        }
    }

    /// Bytes the section takes in the body.
    pub(crate) fn bytes(&self) -> u64 {
        (self.len() * self.width()) as u64
    }

    /// Appends elements `from..to` as little-endian bytes.
    pub(crate) fn put(&self, from: usize, to: usize, out: &mut Vec<u8>) {
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

/// The array a section's bytes are decoded into.
pub(crate) enum Sink<'a> {
    U64(&'a mut Vec<u64>),
    U8(&'a mut Vec<u8>),
    U32(&'a mut Vec<u32>),
    F32(&'a mut Vec<f32>),
    F16(&'a mut Vec<f16>),
    I8(&'a mut Vec<i8>),
}

impl Sink<'_> {
    pub(crate) fn width(&self) -> usize {
        match self {
            Sink::U64(_) => 8,
            Sink::U8(_) | Sink::I8(_) => 1,
            Sink::U32(_) | Sink::F32(_) => 4,
            Sink::F16(_) => 2,
        }
    }

    /// Appends the whole elements in `b` (its length is a multiple of the width).
    pub(crate) fn decode(&mut self, b: &[u8]) {
        match self {
            Sink::U64(v) => v.extend(b.chunks_exact(8).map(|c| {
                let mut w = [0u8; 8];
                w.copy_from_slice(c);
                u64::from_le_bytes(w)
            })),
            Sink::U8(v) => v.extend_from_slice(b),
            Sink::U32(v) => v.extend(
                b.chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            Sink::F32(v) => v.extend(
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            Sink::F16(v) => v.extend(
                b.chunks_exact(2)
                    .map(|c| f16::from_bits(u16::from_le_bytes([c[0], c[1]]))),
            ),
            Sink::I8(v) => v.extend(b.iter().map(|&x| x as i8)),
        }
    }
}

/// What a component's `reserve_exact` returns: the allocator's error, which
/// `Hnsw::reserve_exact` turns into the index's `OutOfMemory`.
pub(crate) type Reserve = Result<(), std::collections::TryReserveError>;
