//! The little-endian payload codec every persistent object's op log shares (the HNSW index's,
//! the text index's and the learner's; the text index's snapshot body reads with it too): an
//! [`OpWriter`] that encodes one log record's operations and counts them, and a [`ByteReader`]
//! that checks each length against the bytes left before it slices or allocates anything, so
//! a damaged or hostile payload is a [`Truncated`] error, never a panic or a huge allocation.
//!
//! What the operations are (their tags and fields) stays each object's business: its op log
//! module documents its encoding and decodes with its own match over the tags.

use std::fmt;

/// One log record's operations being encoded: [`op`](Self::op) starts one with its tag byte,
/// and the field methods append its fields, little endian.
#[derive(Debug, Default)]
pub struct OpWriter {
    bytes: Vec<u8>,
    ops: u32,
}

impl OpWriter {
    /// Starts an operation: its tag byte; counts it.
    pub fn op(&mut self, tag: u8) -> &mut Self {
        self.bytes.push(tag);
        self.ops += 1;
        self
    }

    /// Appends a byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.bytes.push(v);
        self
    }

    /// Appends a `u32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a `u64`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends an `f32`.
    pub fn f32(&mut self, v: f32) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a length as a `u32`. Callers bound their lengths (texts, batches) far below
    /// `u32::MAX` where they enter.
    pub fn len_u32(&mut self, n: usize) -> &mut Self {
        debug_assert!(u32::try_from(n).is_ok(), "a logged length fits u32");
        self.u32(n as u32)
    }

    /// Appends every value of `v`, each as the `N` bytes `to` gives.
    fn values<T: Copy, const N: usize>(&mut self, v: &[T], to: fn(T) -> [u8; N]) -> &mut Self {
        self.bytes.reserve(v.len() * N);
        for &x in v {
            self.bytes.extend_from_slice(&to(x));
        }
        self
    }

    /// Appends every value of `v`.
    pub fn u64s(&mut self, v: &[u64]) -> &mut Self {
        self.values(v, u64::to_le_bytes)
    }

    /// Appends every value of `v`.
    pub fn f32s(&mut self, v: &[f32]) -> &mut Self {
        self.values(v, f32::to_le_bytes)
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(b);
        self
    }

    /// Reserves room for `n` more bytes.
    pub fn reserve(&mut self, n: usize) -> &mut Self {
        self.bytes.reserve(n);
        self
    }

    /// Operations started since the last [`take`](Self::take).
    pub fn len(&self) -> u32 {
        self.ops
    }

    /// Whether no operation was started.
    pub fn is_empty(&self) -> bool {
        self.ops == 0
    }

    /// Bytes encoded so far.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// The operation count and the encoded bytes; the writer starts empty again.
    pub fn take(&mut self) -> (u32, Vec<u8>) {
        (
            std::mem::take(&mut self.ops),
            std::mem::take(&mut self.bytes),
        )
    }
}

/// A read that wanted more bytes than were left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncated {
    /// Bytes wanted (`usize::MAX` when the count itself overflowed).
    pub want: usize,
    /// Where the read started.
    pub at: usize,
    /// The whole payload's length.
    pub len: usize,
}

impl fmt::Display for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.want == usize::MAX {
            write!(f, "a length at byte {} of {} overflows", self.at, self.len)
        } else {
            write!(
                f,
                "{} bytes wanted at byte {} of {}: the data ends first",
                self.want, self.at, self.len
            )
        }
    }
}

impl std::error::Error for Truncated {}

/// Reads little-endian fields from a payload (borrowed, or owned by a stepped loader), each
/// length checked against the bytes left first.
#[derive(Debug)]
pub struct ByteReader<B> {
    b: B,
    at: usize,
}

impl<B: AsRef<[u8]>> ByteReader<B> {
    /// Reads `b` from its start.
    pub fn new(b: B) -> Self {
        ByteReader { b, at: 0 }
    }

    /// Reads `b` from byte `at` (past a header the caller has parsed; clamped to the end).
    pub fn starting_at(b: B, at: usize) -> Self {
        let at = at.min(b.as_ref().len());
        ByteReader { b, at }
    }

    /// Bytes read so far (the offset of the next read).
    pub fn at(&self) -> usize {
        self.at
    }

    /// Bytes left to read.
    pub fn left(&self) -> usize {
        self.b.as_ref().len() - self.at
    }

    /// The whole payload's length.
    pub fn total(&self) -> usize {
        self.b.as_ref().len()
    }

    /// Whether `n` items of `width` bytes each could still be read: the check to make
    /// before allocating for a count read from the payload.
    pub fn has_room(&self, n: usize, width: usize) -> bool {
        n.checked_mul(width).is_some_and(|need| need <= self.left())
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&[u8], Truncated> {
        let b = self.b.as_ref();
        match self.at.checked_add(n).filter(|&end| end <= b.len()) {
            Some(end) => {
                let s = &b[self.at..end];
                self.at = end;
                Ok(s)
            }
            None => Err(Truncated {
                want: n,
                at: self.at,
                len: b.len(),
            }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// The next byte.
    pub fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.array::<1>()?[0])
    }

    /// The next `u16`.
    pub fn u16(&mut self) -> Result<u16, Truncated> {
        self.array().map(u16::from_le_bytes)
    }

    /// The next `u32`.
    pub fn u32(&mut self) -> Result<u32, Truncated> {
        self.array().map(u32::from_le_bytes)
    }

    /// The next `u64`.
    pub fn u64(&mut self) -> Result<u64, Truncated> {
        self.array().map(u64::from_le_bytes)
    }

    /// The next `f32`.
    pub fn f32(&mut self) -> Result<f32, Truncated> {
        self.array().map(f32::from_le_bytes)
    }

    fn overflow(&self) -> Truncated {
        Truncated {
            want: usize::MAX,
            at: self.at,
            len: self.total(),
        }
    }

    /// The next `n` values of `N` bytes each, decoded by `from` (the length is checked before
    /// anything is allocated).
    fn values<T, const N: usize>(
        &mut self,
        n: usize,
        from: fn([u8; N]) -> T,
    ) -> Result<Vec<T>, Truncated> {
        let bytes = n.checked_mul(N).ok_or_else(|| self.overflow())?;
        Ok(self
            .take(bytes)?
            .chunks_exact(N)
            .map(|c| from(c.try_into().expect("chunks of N bytes")))
            .collect())
    }

    /// The next `n` `u64`s (checked before anything is allocated).
    pub fn u64s(&mut self, n: usize) -> Result<Vec<u64>, Truncated> {
        self.values(n, u64::from_le_bytes)
    }

    /// The next `n` `f32`s (checked before anything is allocated).
    pub fn f32s(&mut self, n: usize) -> Result<Vec<f32>, Truncated> {
        self.values(n, f32::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_writer_encodes_the_reader_reads_back() {
        let mut w = OpWriter::default();
        assert!(w.is_empty());
        w.op(7)
            .u64(u64::MAX - 3)
            .f32s(&[1.5, -0.0, f32::MIN_POSITIVE]);
        w.op(9)
            .len_u32(2)
            .u64s(&[5, 6])
            .u8(200)
            .f32(-2.25)
            .bytes(b"xy");
        assert_eq!(
            (w.len(), w.byte_len()),
            (2, 1 + 8 + 12 + 1 + 4 + 16 + 1 + 4 + 2)
        );
        let (ops, bytes) = w.take();
        assert_eq!((ops, w.len(), w.byte_len()), (2, 0, 0));

        let mut r = ByteReader::new(bytes.as_slice());
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.u64(), Ok(u64::MAX - 3));
        let v = r.f32s(3).unwrap();
        assert_eq!(v[0], 1.5);
        assert!(v[1] == 0.0 && v[1].is_sign_negative());
        assert_eq!(v[2], f32::MIN_POSITIVE);
        assert_eq!(r.u8(), Ok(9));
        assert_eq!(r.u32(), Ok(2));
        assert_eq!(r.u64s(2), Ok(vec![5, 6]));
        assert_eq!(r.u8(), Ok(200));
        assert_eq!(r.f32(), Ok(-2.25));
        assert_eq!(r.take(2), Ok(&b"xy"[..]));
        assert_eq!((r.left(), r.at(), r.total()), (0, bytes.len(), bytes.len()));
        assert_eq!(
            r.u8(),
            Err(Truncated {
                want: 1,
                at: bytes.len(),
                len: bytes.len()
            })
        );
    }

    #[test]
    fn a_short_read_fails_where_it_starts_and_reads_nothing() {
        let bytes = [1u8, 2, 3, 4, 5, 6];
        let mut r = ByteReader::new(&bytes[..]);
        assert_eq!(r.u16(), Ok(0x0201));
        let e = r.u64().unwrap_err();
        assert_eq!((e.want, e.at, e.len), (8, 2, 6));
        assert!(
            e.to_string().contains("8 bytes wanted at byte 2 of 6"),
            "{e}"
        );
        // Nothing was consumed by the failed read.
        assert_eq!(r.at(), 2);
        assert_eq!(r.u32(), Ok(0x0605_0403));
        // Counts that overflow or exceed what is left fail before allocating.
        let mut r = ByteReader::new(&bytes[..]);
        assert!(!r.has_room(usize::MAX / 2, 4));
        assert!(r.has_room(3, 2) && !r.has_room(7, 1));
        let e = r.f32s(usize::MAX / 2).unwrap_err();
        assert_eq!(e.want, usize::MAX);
        assert!(e.to_string().contains("overflows"), "{e}");
        assert_eq!(r.u64s(1).unwrap_err().want, 8);
        assert_eq!(r.take(usize::MAX).unwrap_err().want, usize::MAX);
    }

    #[test]
    fn an_owned_payload_reads_from_past_its_header() {
        let mut r = ByteReader::starting_at(vec![9u8, 9, 1, 0, 0, 0], 2);
        assert_eq!((r.at(), r.left()), (2, 4));
        assert_eq!(r.u32(), Ok(1));
        let r = ByteReader::starting_at(vec![0u8; 3], 10);
        assert_eq!((r.at(), r.left()), (3, 0));
    }
}
