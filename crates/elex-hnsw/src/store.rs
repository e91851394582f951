//! Vector storage: one contiguous buffer per storage kind, and the distance between two encoded
//! vectors. Queries are encoded exactly like stored vectors, so one distance function serves
//! search, construction and repair.
//!
//! Distances are "smaller is closer": L2 is the squared Euclidean distance, Dot is `−a·b`, and
//! Cosine is `1 − a·b` on vectors normalized at insert. For i8 storage every vector keeps its
//! scale `s` (`x ≈ s·q`) and its exact squared norm, so `a·b ≈ s_a s_b (q_a·q_b)` and
//! `‖a − b‖² = ‖a‖² + ‖b‖² − 2 a·b`.
//!
//! q4 storage keeps 4-bit codes with one scale per vector (`x ≈ s·LEVELS[c]`, see
//! `elex_simd::Kernels::quantize_q4`) and the exact squared norm, as i8 does. Queries stay
//! finer than the rows: a query is encoded as i8 (and as codes, which are what is stored when
//! it is inserted), and scored against a row with `dot_q4_i8`; two stored rows (construction
//! and repair) are scored with `dot_q4_q4`.

use crate::section::{Reserve, Section, Sink};
use crate::{HnswError, Metric, NodeId, Storage};
use elex_simd::{Kernels, f16};

/// Cache lines of a vector prefetched ahead of its distance: the first 512 bytes (a whole
/// 384-d vector is 24 lines; prefetching all of them for four rows at a time kept the build
/// waiting on prefetches: 8 lines built docs-50k's first 10,000 vectors 7% faster, same QPS).
const PREFETCH_LINES: usize = 8;

/// One encoded vector, stored or query.
#[derive(Clone, Copy)]
pub(crate) enum View<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
    I8 {
        codes: &'a [i8],
        scale: f32,
        norm_sq: f32,
    },
    /// A stored q4 row.
    Q4 {
        codes: &'a [u8],
        scale: f32,
        norm_sq: f32,
    },
    /// A query against q4 rows: its i8 encoding.
    Q4Query {
        q8: &'a [i8],
        scale: f32,
        norm_sq: f32,
    },
}

/// Contiguous encoded vectors, `dims` values per node.
#[derive(Clone, Debug)]
pub(crate) enum Vectors {
    F32(Vec<f32>),
    F16(Vec<f16>),
    I8(Scaled<i8>),
    /// `q4_bytes(dims)` code bytes per node.
    Q4(Scaled<u8>),
}

/// An element of a [`Scaled`] array: i8 codes (one per dimension) or q4 bytes (two codes each),
/// and how a snapshot section holds them.
pub(crate) trait Code: Copy {
    fn section(v: &[Self]) -> Section<'_>;
    fn sink(v: &mut Vec<Self>) -> Sink<'_>;
}

impl Code for i8 {
    fn section(v: &[i8]) -> Section<'_> {
        Section::I8(v)
    }
    fn sink(v: &mut Vec<i8>) -> Sink<'_> {
        Sink::I8(v)
    }
}

impl Code for u8 {
    fn section(v: &[u8]) -> Section<'_> {
        Section::U8(v)
    }
    fn sink(v: &mut Vec<u8>) -> Sink<'_> {
        Sink::U8(v)
    }
}

/// Quantized vectors: `row` codes per vector, and its scale and exact squared norm. How i8
/// and q4 storage keep their vectors and an f32 store its walking codes; in a snapshot, three
/// sections (codes, scales, squared norms).
///
/// Invariants: one scale and one squared norm per `row` codes; both finite and not negative.
#[derive(Clone, Debug)]
pub(crate) struct Scaled<C> {
    codes: Vec<C>,
    scale: Vec<f32>,
    norm_sq: Vec<f32>,
}

impl<C: Code> Scaled<C> {
    /// Room for `n` vectors of `row` codes.
    fn with_capacity(row: usize, n: usize) -> Scaled<C> {
        Scaled {
            codes: Vec::with_capacity(row * n),
            scale: Vec::with_capacity(n),
            norm_sq: Vec::with_capacity(n),
        }
    }

    /// Vector `n`'s codes, scale and squared norm (`n` is a vector it holds).
    #[inline]
    fn get(&self, row: usize, n: usize) -> (&[C], f32, f32) {
        (
            &self.codes[n * row..(n + 1) * row],
            self.scale[n],
            self.norm_sq[n],
        )
    }

    /// Vector `n`'s codes (empty past the end, which every kernel answers with an error).
    #[inline]
    fn codes(&self, row: usize, n: NodeId) -> &[C] {
        self.codes
            .get(n.idx() * row..(n.idx() + 1) * row)
            .unwrap_or(&[])
    }

    fn push(&mut self, codes: &[C], scale: f32, norm_sq: f32) {
        self.codes.extend_from_slice(codes);
        self.scale.push(scale);
        self.norm_sq.push(norm_sq);
    }

    /// Keeps the first `n` vectors.
    fn truncate(&mut self, row: usize, n: usize) {
        self.codes.truncate(n * row);
        self.scale.truncate(n);
        self.norm_sq.truncate(n);
    }

    /// Room for `n` more vectors.
    fn reserve_exact(&mut self, row: usize, n: usize) -> Reserve {
        self.codes.try_reserve_exact(n * row)?;
        self.scale.try_reserve_exact(n)?;
        self.norm_sq.try_reserve_exact(n)?;
        elex_simd::advise_huge_pages(&self.codes);
        Ok(())
    }

    fn shrink_to_fit(&mut self) {
        self.codes.shrink_to_fit();
        self.scale.shrink_to_fit();
        self.norm_sq.shrink_to_fit();
    }

    /// Heap bytes, by capacity.
    fn heap_bytes(&self) -> usize {
        self.codes.capacity() * size_of::<C>()
            + (self.scale.capacity() + self.norm_sq.capacity()) * 4
    }

    /// Snapshot section `i`: 0 the codes, 1 the scales, 2 the squared norms.
    fn section(&self, i: usize) -> Section<'_> {
        match i {
            0 => C::section(&self.codes),
            1 => Section::F32(&self.scale),
            _ => Section::F32(&self.norm_sq),
        }
    }

    fn sink(&mut self, i: usize) -> Sink<'_> {
        match i {
            0 => C::sink(&mut self.codes),
            1 => Sink::F32(&mut self.scale),
            _ => Sink::F32(&mut self.norm_sq),
        }
    }
}

impl Vectors {
    pub(crate) fn new(storage: Storage) -> Vectors {
        match storage {
            Storage::F32 => Vectors::F32(Vec::new()),
            Storage::F16 => Vectors::F16(Vec::new()),
            Storage::I8 => Vectors::I8(Scaled::with_capacity(0, 0)),
            Storage::Q4 => Vectors::Q4(Scaled::with_capacity(0, 0)),
        }
    }

    /// Storage elements per node: `dims`, or code bytes for q4.
    #[inline]
    fn row(&self, dims: usize) -> usize {
        match self {
            Vectors::Q4(_) => elex_simd::q4_bytes(dims),
            _ => dims,
        }
    }

    #[inline]
    pub(crate) fn view(&self, dims: usize, node: u32) -> View<'_> {
        let w = self.row(dims);
        let r = node as usize * w..(node as usize + 1) * w;
        match self {
            Vectors::F32(v) => View::F32(&v[r]),
            Vectors::F16(v) => View::F16(&v[r]),
            Vectors::I8(v) => {
                let (codes, scale, norm_sq) = v.get(w, node as usize);
                View::I8 {
                    codes,
                    scale,
                    norm_sq,
                }
            }
            Vectors::Q4(v) => {
                let (codes, scale, norm_sq) = v.get(w, node as usize);
                View::Q4 {
                    codes,
                    scale,
                    norm_sq,
                }
            }
        }
    }

    /// Hints that node `node`'s vector will be read soon.
    #[inline]
    pub(crate) fn prefetch(&self, dims: usize, node: u32) {
        let w = self.row(dims);
        let r = node as usize * w..(node as usize + 1) * w;
        match self {
            Vectors::F32(v) => elex_simd::prefetch(v.get(r).unwrap_or(&[]), PREFETCH_LINES),
            Vectors::F16(v) => elex_simd::prefetch(v.get(r).unwrap_or(&[]), PREFETCH_LINES),
            Vectors::I8(v) => elex_simd::prefetch(v.codes(w, NodeId(node)), PREFETCH_LINES),
            Vectors::Q4(v) => elex_simd::prefetch(v.codes(w, NodeId(node)), PREFETCH_LINES),
        }
    }

    /// Keeps the first `n` vectors.
    pub(crate) fn truncate(&mut self, dims: usize, n: usize) {
        let w = self.row(dims);
        match self {
            Vectors::F32(v) => v.truncate(n * w),
            Vectors::F16(v) => v.truncate(n * w),
            Vectors::I8(v) => v.truncate(w, n),
            Vectors::Q4(v) => v.truncate(w, n),
        }
    }

    /// Appends one encoded vector.
    pub(crate) fn push(&mut self, e: &Encoded) {
        match (self, e) {
            (Vectors::F32(v), Encoded::F32(x)) => v.extend_from_slice(x),
            (Vectors::F16(v), Encoded::F16(x)) => v.extend_from_slice(x),
            (
                Vectors::I8(v),
                Encoded::I8 {
                    codes,
                    scale,
                    norm_sq,
                },
            ) => v.push(codes, *scale, *norm_sq),
            (
                Vectors::Q4(v),
                Encoded::Q4 {
                    codes,
                    scale,
                    norm_sq,
                    ..
                },
            ) => v.push(codes, *scale, *norm_sq),
            // The index only ever pushes encodings of its own storage kind.
            _ => {}
        }
    }

    /// Copies node `node` into `e`.
    pub(crate) fn load(&self, k: &Kernels, dims: usize, node: u32, e: &mut Encoded) {
        match (self.view(dims, node), e) {
            (View::F32(x), Encoded::F32(v)) => {
                v.clear();
                v.extend_from_slice(x);
            }
            (View::F16(x), Encoded::F16(v)) => {
                v.clear();
                v.extend_from_slice(x);
            }
            (
                View::I8 {
                    codes,
                    scale,
                    norm_sq,
                },
                Encoded::I8 {
                    codes: c,
                    scale: s,
                    norm_sq: n,
                },
            ) => {
                c.clear();
                c.extend_from_slice(codes);
                *s = scale;
                *n = norm_sq;
            }
            (
                View::Q4 {
                    codes,
                    scale,
                    norm_sq,
                },
                Encoded::Q4 {
                    codes: c,
                    scale: s,
                    norm_sq: n,
                    q8,
                    q8_scale,
                },
            ) => {
                c.clear();
                c.extend_from_slice(codes);
                *s = scale;
                *n = norm_sq;
                // The stored node as a query: its levels, exactly what its codes mean.
                q8.clear();
                q8.resize(dims, 0);
                let _ = k.decode_q4(codes, q8);
                *q8_scale = scale;
            }
            _ => {}
        }
    }

    /// Decodes node `node` to f32 (exact for f32 and f16, `s·q` for i8).
    pub(crate) fn decode(&self, k: &Kernels, dims: usize, node: u32, out: &mut [f32]) {
        match self.view(dims, node) {
            View::F32(x) => out.copy_from_slice(x),
            View::F16(x) => {
                let _ = k.f16_to_f32(x, out);
            }
            View::I8 { codes, scale, .. } => {
                for (o, &c) in out.iter_mut().zip(codes) {
                    *o = scale * f32::from(c);
                }
            }
            View::Q4 { codes, scale, .. } => {
                let mut lv = vec![0i8; dims];
                let _ = k.decode_q4(codes, &mut lv);
                for (o, &c) in out.iter_mut().zip(&lv) {
                    *o = scale * f32::from(c);
                }
            }
            View::Q4Query { .. } => {}
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Vectors::F32(v) => v.capacity() * 4,
            Vectors::F16(v) => v.capacity() * 2,
            Vectors::I8(v) => v.heap_bytes(),
            Vectors::Q4(v) => v.heap_bytes(),
        }
    }
}

/// An owned encoding, reused as query buffer.
#[derive(Clone, Debug)]
pub(crate) enum Encoded {
    F32(Vec<f32>),
    F16(Vec<f16>),
    I8 {
        codes: Vec<i8>,
        scale: f32,
        norm_sq: f32,
    },
    /// What is stored (`codes`, `scale`, `norm_sq`) and the finer form a query is scored in.
    Q4 {
        codes: Vec<u8>,
        scale: f32,
        norm_sq: f32,
        q8: Vec<i8>,
        q8_scale: f32,
    },
}

impl Encoded {
    pub(crate) fn new(storage: Storage) -> Encoded {
        match storage {
            Storage::F32 => Encoded::F32(Vec::new()),
            Storage::F16 => Encoded::F16(Vec::new()),
            Storage::I8 => Encoded::I8 {
                codes: Vec::new(),
                scale: 0.0,
                norm_sq: 0.0,
            },
            Storage::Q4 => Encoded::Q4 {
                codes: Vec::new(),
                scale: 0.0,
                norm_sq: 0.0,
                q8: Vec::new(),
                q8_scale: 0.0,
            },
        }
    }

    pub(crate) fn view(&self) -> View<'_> {
        match self {
            Encoded::F32(v) => View::F32(v),
            Encoded::F16(v) => View::F16(v),
            Encoded::I8 {
                codes,
                scale,
                norm_sq,
            } => View::I8 {
                codes,
                scale: *scale,
                norm_sq: *norm_sq,
            },
            Encoded::Q4 {
                q8,
                q8_scale,
                norm_sq,
                ..
            } => View::Q4Query {
                q8,
                scale: *q8_scale,
                norm_sq: *norm_sq,
            },
        }
    }
}

/// Metric plus kernels: the distance between encodings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Space {
    pub k: Kernels,
    pub metric: Metric,
    pub dims: usize,
}

impl Space {
    /// Checks a caller's vector: dimension and finiteness.
    pub(crate) fn check(&self, v: &[f32]) -> Result<(), HnswError> {
        if v.len() != self.dims {
            return Err(HnswError::DimensionMismatch {
                expected: self.dims,
                got: v.len(),
            });
        }
        if let Some(index) = v.iter().position(|x| !x.is_finite()) {
            return Err(HnswError::NonFinite { index });
        }
        Ok(())
    }

    /// Writes the metric's form of `v` into `out`: normalized under cosine, as is otherwise.
    /// `v` must have passed [`Space::check`]; under cosine only the zero vector fails.
    ///
    /// A vector whose squared norm is a normal finite f32 is divided by its norm directly (the
    /// path every stored snapshot was built with). Any other non-zero vector (components so
    /// small that their squares underflow, or so large that they overflow) is first scaled by
    /// its largest component, which is exact in direction and brings the norm into [1, √d].
    pub(crate) fn prepare(&self, v: &[f32], out: &mut Vec<f32>) -> Result<(), HnswError> {
        out.clear();
        out.extend_from_slice(v);
        if self.metric == Metric::Cosine {
            let norm_sq = self.k.norm_sq_f32(v);
            if !(norm_sq.is_finite() && norm_sq >= f32::MIN_POSITIVE) {
                let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
                if !(max > 0.0 && max.is_finite()) {
                    return Err(HnswError::ZeroVector);
                }
                out.iter_mut().for_each(|x| *x /= max);
            }
            let norm = self.k.norm_f32(out);
            if !(norm > 0.0 && norm.is_finite()) {
                return Err(HnswError::ZeroVector);
            }
            let inv = 1.0 / norm;
            out.iter_mut().for_each(|x| *x *= inv);
        }
        Ok(())
    }

    /// Encodes a prepared f32 vector into `e` (whose kind is the index's storage).
    pub(crate) fn encode(&self, x: &[f32], e: &mut Encoded) {
        match e {
            Encoded::F32(v) => {
                v.clear();
                v.extend_from_slice(x);
            }
            Encoded::F16(v) => {
                v.clear();
                v.resize(x.len(), f16::ZERO);
                let _ = self.k.f32_to_f16(x, v);
            }
            Encoded::I8 {
                codes,
                scale,
                norm_sq,
            } => {
                codes.clear();
                codes.resize(x.len(), 0);
                (*scale, *norm_sq) = quantize_i8(&self.k, x, codes);
            }
            Encoded::Q4 {
                codes,
                scale,
                norm_sq,
                q8,
                q8_scale,
            } => {
                codes.clear();
                codes.resize(elex_simd::q4_bytes(x.len()), 0);
                *scale = self.k.quantize_q4(x, codes).unwrap_or(0.0);
                q8.clear();
                q8.resize(x.len(), 0);
                *q8_scale = self.k.quantize_i8(x, q8).unwrap_or(0.0);
                *norm_sq = self.k.norm_sq_f32(x);
            }
        }
    }

    /// Distance between two encodings of the same kind; smaller is closer. Never NaN: a query
    /// of huge values can overflow a sum into `inf - inf`, which ranks last, as +inf.
    #[inline]
    pub(crate) fn dist(&self, a: View<'_>, b: View<'_>) -> f32 {
        let d = self.dist_raw(a, b);
        if d.is_nan() { f32::INFINITY } else { d }
    }

    #[inline]
    fn dist_raw(&self, a: View<'_>, b: View<'_>) -> f32 {
        let k = &self.k;
        match (a, b) {
            (View::F32(x), View::F32(y)) => match self.metric {
                Metric::L2 => k.l2sq_f32(x, y).unwrap_or(f32::INFINITY),
                Metric::Dot => -k.dot_f32(x, y).unwrap_or(f32::NEG_INFINITY),
                Metric::Cosine => 1.0 - k.dot_f32(x, y).unwrap_or(f32::NEG_INFINITY),
            },
            (View::F16(x), View::F16(y)) => match self.metric {
                Metric::L2 => k.l2sq_f16(x, y).unwrap_or(f32::INFINITY),
                Metric::Dot => -k.dot_f16(x, y).unwrap_or(f32::NEG_INFINITY),
                Metric::Cosine => 1.0 - k.dot_f16(x, y).unwrap_or(f32::NEG_INFINITY),
            },
            (
                View::I8 {
                    codes: x,
                    scale: sx,
                    norm_sq: nx,
                },
                View::I8 {
                    codes: y,
                    scale: sy,
                    norm_sq: ny,
                },
            ) => self.dist_i8_raw(x, sx, nx, y, sy, ny),
            (
                View::Q4Query {
                    q8,
                    scale: sq,
                    norm_sq: nq,
                },
                View::Q4 {
                    codes,
                    scale: sx,
                    norm_sq: nx,
                },
            )
            | (
                View::Q4 {
                    codes,
                    scale: sx,
                    norm_sq: nx,
                },
                View::Q4Query {
                    q8,
                    scale: sq,
                    norm_sq: nq,
                },
            ) => {
                let dot = sq * sx * k.dot_q4_i8(codes, q8).unwrap_or(0) as f32;
                self.dist_from_dot(dot, nq, nx)
            }
            (
                View::Q4 {
                    codes: x,
                    scale: sx,
                    norm_sq: nx,
                },
                View::Q4 {
                    codes: y,
                    scale: sy,
                    norm_sq: ny,
                },
            ) => {
                let dot = sx * sy * k.dot_q4_q4(x, y, self.dims).unwrap_or(0) as f32;
                self.dist_from_dot(dot, nx, ny)
            }
            _ => f32::INFINITY,
        }
    }

    /// The metric's distance from an approximate inner product and the exact squared norms.
    #[inline]
    fn dist_from_dot(&self, dot: f32, nx: f32, ny: f32) -> f32 {
        match self.metric {
            Metric::L2 => (nx + ny - 2.0 * dot).max(0.0),
            Metric::Dot => -dot,
            Metric::Cosine => 1.0 - dot,
        }
    }

    /// The i8 arm of [`Space::dist_raw`]: codes with their scales and squared norms.
    #[inline]
    fn dist_i8_raw(&self, x: &[i8], sx: f32, nx: f32, y: &[i8], sy: f32, ny: f32) -> f32 {
        self.dist_of_i8_dot(self.k.dot_i8(x, y).unwrap_or(0), sx, nx, sy, ny)
    }

    /// The distance of two i8 encodings from their codes' integer inner product.
    #[inline]
    fn dist_of_i8_dot(&self, dot: i64, sx: f32, nx: f32, sy: f32, ny: f32) -> f32 {
        self.dist_from_dot(sx * sy * dot as f32, nx, ny)
    }

    /// [`Space::dist`] of two i8 encodings given by their parts, without going through
    /// [`View`] (the search loop's i8 rows).
    #[inline]
    fn dist_i8(&self, x: &[i8], sx: f32, nx: f32, y: &[i8], sy: f32, ny: f32) -> f32 {
        let d = self.dist_i8_raw(x, sx, nx, y, sy, ny);
        if d.is_nan() { f32::INFINITY } else { d }
    }

    /// [`Space::dist`] of the f32 query `q` and each of four f32 rows, bit for bit, through the
    /// kernels' four-row call.
    #[inline]
    pub(crate) fn dist_f32_x4(&self, q: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
        let k = &self.k;
        let raw = match self.metric {
            Metric::L2 => k.l2sq_f32_x4(q, rows),
            Metric::Dot => k.dot_f32_x4(q, rows).map(|d| d.map(|x| -x)),
            Metric::Cosine => k.dot_f32_x4(q, rows).map(|d| d.map(|x| 1.0 - x)),
        };
        match raw {
            Ok(d) => d.map(|x| if x.is_nan() { f32::INFINITY } else { x }),
            // A row of another length (never: every row has `dims` values): one at a time.
            Err(_) => rows.map(|r| self.dist(View::F32(q), View::F32(r))),
        }
    }

    /// Exact distance between two prepared f32 vectors (the rerank and the oracle).
    #[inline]
    pub(crate) fn dist_f32(&self, x: &[f32], y: &[f32]) -> f32 {
        self.dist(View::F32(x), View::F32(y))
    }
}

/// Distances from one encoded query to stored nodes with the storage kind resolved once per
/// search instead of once per distance: the search loops are generic over it. Each distance is
/// [`Space::dist`] of the same two encodings (same kernel, same formula: bit-identical).
pub(crate) trait Rows {
    /// Distance from the query to `n`'s stored vector.
    fn dist(&self, n: NodeId) -> f32;
    /// Distances to four nodes, each the bits [`Rows::dist`] gives (one kernel call where the
    /// ISA has a four-row kernel).
    #[inline]
    fn dist4(&self, n: [NodeId; 4]) -> [f32; 4] {
        n.map(|n| self.dist(n))
    }
    /// Hints that `n`'s vector will be read soon.
    fn prefetch(&self, n: NodeId);
    /// Reads a word of each cache line of `n`'s vector (where wasm has no prefetch, the loads
    /// of several rows are then in flight at once); returns them mixed, for `black_box`.
    /// Natively unused: prefetches do it.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    #[inline]
    fn touch(&self, _n: NodeId) -> u32 {
        0
    }
    /// [`Rows::touch`] of every node of `ids`, all before any is needed: their misses overlap.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    #[inline]
    fn touch_all(&self, ids: impl Iterator<Item = NodeId>) {
        std::hint::black_box(ids.fold(0, |t, n| t ^ self.touch(n)));
    }
}

/// The query and the store's buffer for one storage kind.
pub(crate) struct KindRows<'a, Q, V> {
    space: &'a Space,
    q: Q,
    v: V,
}

/// The rows of the index's storage kind; `None` when the query's kind is another (never: a
/// query is encoded in the index's kind).
pub(crate) enum AnyRows<'a> {
    F32(KindRows<'a, &'a [f32], &'a Vec<f32>>),
    F16(KindRows<'a, &'a [f16], &'a Vec<f16>>),
    I8(I8KindRows<'a>),
    /// q4 rows against a query (`View::Q4Query`) or a stored row (`View::Q4`).
    Q4(KindRows<'a, View<'a>, &'a Vectors>),
}

/// An element of an unquantized storage kind (f32, f16): its slices are views, and a storage
/// kind with a four-row kernel uses it.
pub(crate) trait Elem: Sized {
    fn view(s: &[Self]) -> View<'_>;
    /// [`Space::dist`] of `q` and each row.
    #[inline]
    fn dist4(space: &Space, q: &[Self], rows: [&[Self]; 4]) -> [f32; 4] {
        rows.map(|r| space.dist(Self::view(q), Self::view(r)))
    }
    /// See [`Rows::touch`].
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    #[inline]
    fn touch(_s: &[Self]) -> u32 {
        0
    }
}

impl Elem for f32 {
    #[inline]
    fn view(s: &[f32]) -> View<'_> {
        View::F32(s)
    }
    #[inline]
    fn dist4(space: &Space, q: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
        space.dist_f32_x4(q, rows)
    }
    #[inline]
    fn touch(s: &[f32]) -> u32 {
        touch_row(s, f32::to_bits)
    }
}

impl Elem for f16 {
    #[inline]
    fn view(s: &[f16]) -> View<'_> {
        View::F16(s)
    }
    #[inline]
    fn touch(s: &[f16]) -> u32 {
        touch_row(s, |x| u32::from(x.to_bits()))
    }
}

impl<T: Elem> KindRows<'_, &[T], &Vec<T>> {
    /// `n`'s stored row (empty past the end, which every kernel answers with an error).
    #[inline]
    fn row(&self, n: NodeId) -> &[T] {
        let d = self.space.dims;
        self.v.get(n.idx() * d..(n.idx() + 1) * d).unwrap_or(&[])
    }
}

impl<T: Elem> Rows for KindRows<'_, &[T], &Vec<T>> {
    #[inline]
    fn dist(&self, n: NodeId) -> f32 {
        self.space.dist(T::view(self.q), T::view(self.row(n)))
    }
    #[inline]
    fn dist4(&self, n: [NodeId; 4]) -> [f32; 4] {
        T::dist4(self.space, self.q, n.map(|n| self.row(n)))
    }
    #[inline]
    fn prefetch(&self, n: NodeId) {
        elex_simd::prefetch(self.row(n), PREFETCH_LINES);
    }
    #[inline]
    fn touch(&self, n: NodeId) -> u32 {
        T::touch(self.row(n))
    }
}

/// An i8 query (codes, scale, squared norm) against i8 rows (an i8 store's or an f32 store's
/// walking codes).
pub(crate) type I8KindRows<'a> = KindRows<'a, (&'a [i8], f32, f32), I8Rows<'a>>;

/// An i8 store's arrays (or an f32 store's walking codes), taken apart once per search (the
/// loop then holds the slices themselves, not a pointer to the vectors that hold them).
pub(crate) struct I8Rows<'a> {
    codes: &'a [i8],
    scale: &'a [f32],
    norm_sq: &'a [f32],
}

/// `n`'s entry of `norm_sq` where the metric reads it (L2), `0.0` under cosine and dot (see
/// [`I8Rows::norm_of`]); `None` past the end.
#[inline]
fn norm_of(norm_sq: &[f32], space: &Space, n: NodeId) -> Option<f32> {
    match space.metric {
        Metric::L2 => norm_sq.get(n.idx()).copied(),
        Metric::Cosine | Metric::Dot => Some(0.0),
    }
}

impl<'a> I8Rows<'a> {
    /// `n`'s squared norm where the metric reads it (L2); `0.0` under cosine and dot, whose
    /// distances do not (so the search loop reads no norm there: one random load fewer per
    /// distance). `None` past the end.
    #[inline]
    fn norm_of(&self, space: &Space, n: NodeId) -> Option<f32> {
        norm_of(self.norm_sq, space, n)
    }

    /// `n`'s codes (empty past the end, which the kernel answers with an error, as
    /// [`KindRows::row`]).
    #[inline]
    fn codes(&self, dims: usize, n: NodeId) -> &'a [i8] {
        self.codes
            .get(n.idx() * dims..(n.idx() + 1) * dims)
            .unwrap_or(&[])
    }
}

impl Scaled<i8> {
    #[inline]
    fn rows(&self) -> I8Rows<'_> {
        I8Rows {
            codes: &self.codes,
            scale: &self.scale,
            norm_sq: &self.norm_sq,
        }
    }

    /// Appends the codes of one prepared f32 vector, as an i8 index encodes it (how an f32
    /// store makes its walking codes).
    fn push_f32(&mut self, k: &Kernels, x: &[f32]) {
        let at = self.codes.len();
        self.codes.resize(at + x.len(), 0);
        let (scale, norm_sq) = quantize_i8(k, x, &mut self.codes[at..]);
        self.scale.push(scale);
        self.norm_sq.push(norm_sq);
    }
}

impl Rows for KindRows<'_, (&[i8], f32, f32), I8Rows<'_>> {
    #[inline]
    fn dist(&self, n: NodeId) -> f32 {
        let (codes, scale, norm_sq) = self.q;
        let (Some(&s), Some(ns)) = (self.v.scale.get(n.idx()), self.v.norm_of(self.space, n))
        else {
            return f32::INFINITY;
        };
        let row = self.v.codes(self.space.dims, n);
        self.space.dist_i8(codes, scale, norm_sq, row, s, ns)
    }
    /// One four-row kernel call for the codes' inner products (the bits of [`Rows::dist`]:
    /// the integer products are exact, the rest is the same arithmetic).
    #[inline]
    fn dist4(&self, n: [NodeId; 4]) -> [f32; 4] {
        let (codes, scale, norm_sq) = self.q;
        let rows = n.map(|n| self.v.codes(self.space.dims, n));
        let Ok(dots) = self.space.k.dot_i8_x4(codes, rows) else {
            return n.map(|n| self.dist(n));
        };
        let mut out = [f32::INFINITY; 4];
        for ((o, n), dot) in out.iter_mut().zip(n).zip(dots) {
            if let (Some(&s), Some(ns)) = (self.v.scale.get(n.idx()), self.v.norm_of(self.space, n))
            {
                let d = self.space.dist_of_i8_dot(dot, scale, norm_sq, s, ns);
                *o = if d.is_nan() { f32::INFINITY } else { d };
            }
        }
        out
    }
    /// Natively a prefetch of the row's first lines. In wasm, nothing: wasm has no prefetch,
    /// and the one-byte load that stands in for one (`elex_simd::prefetch`) cost more than it
    /// saved on i8 rows, which the kernel reads right after (same-process A/Bs in Node, the
    /// loads against none, identical results: GloVe-50 100K 1.08-1.12x QPS, docs-50k at 384
    /// dimensions even). The touch of the next candidate's links stays (without it 0.96-0.99x).
    #[inline]
    fn prefetch(&self, n: NodeId) {
        if cfg!(not(target_arch = "wasm32")) {
            elex_simd::prefetch(self.v.codes(self.space.dims, n), PREFETCH_LINES);
        }
    }
    #[inline]
    fn touch(&self, n: NodeId) -> u32 {
        touch_row(self.v.codes(self.space.dims, n), |x| x as u32)
    }
}

/// Whether searches of an f32 store with walking codes walk on 4-bit codes ([`U4Codes`]) in
/// place of the i8 ones: in the relaxed-SIMD wasm build. There the kernel is two relaxed dot
/// products per 32 dimensions and 16 bytes, against twice the bytes and the sign split of the
/// i8 kernel. Elsewhere it was no clear win, so the i8 walk stays:
/// - simd128 without relaxed (eight widening dot products per block), Node, 5 interleaved
///   rounds, 4-bit over i8 walk: docs-50k 50K 0.98 / 1.07 / 1.09x at ef 24 / 48 / 96, GloVe-50
///   100K 0.95 / 0.91 / 1.09 / 0.94x at ef 16-128;
/// - natively (AVX-512's i8 kernel, prefetch), elex-bench, 4 interleaved rounds: docs-50k
///   1.09 / 0.99 / 1.27x, GloVe-50 0.97 / 1.00 / 0.86 / 0.85x (rounds 0.64-1.60x).
pub(crate) const SEARCH_ON_U4: bool =
    cfg!(all(target_arch = "wasm32", target_feature = "relaxed-simd"));

/// Uniform 4-bit codes of an f32 store's vectors and their scales (`x ≈ s · (c − 7.5)`, see
/// `elex_simd::Kernels::quantize_u4`), [`elex_simd::q4_bytes`]`(dims)` bytes per vector; the
/// squared norms are the i8 walking codes' (the f32 vectors' exact ones).
///
/// Measured before it was kept (same page, interleaved rounds, same recall per ef within 0.003
/// of the i8 walk): in Chromium's relaxed-SIMD build 1.35-1.55x the i8 walk's QPS on docs-50k
/// 50K and 1.16-1.32x on GloVe-50 100K.
///
/// Invariants: one scale per `q4_bytes(dims)` code bytes; scales finite and not negative;
/// where [`elex_simd::u4_scale_fits`], each row carries its scale ([`elex_simd::u4_put_scale`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct U4Codes {
    codes: Vec<u8>,
    scale: Vec<f32>,
}

impl U4Codes {
    /// Appends the codes of one prepared (finite) f32 vector (with its scale in the row's
    /// padding where [`elex_simd::u4_scale_fits`]).
    fn push_f32(&mut self, k: &Kernels, x: &[f32]) {
        let at = self.codes.len();
        self.codes.resize(at + elex_simd::q4_bytes(x.len()), 0);
        let row = &mut self.codes[at..];
        let s = k.quantize_u4(x, row).unwrap_or(0.0);
        elex_simd::u4_put_scale(row, x.len(), s);
        self.scale.push(s);
    }

    fn truncate(&mut self, dims: usize, n: usize) {
        self.codes.truncate(n * elex_simd::q4_bytes(dims));
        self.scale.truncate(n);
    }

    fn reserve_exact(&mut self, dims: usize, n: usize) -> Reserve {
        self.codes
            .try_reserve_exact(n * elex_simd::q4_bytes(dims))?;
        self.scale.try_reserve_exact(n)?;
        Ok(())
    }

    fn shrink_to_fit(&mut self) {
        self.codes.shrink_to_fit();
        self.scale.shrink_to_fit();
    }

    fn heap_bytes(&self) -> usize {
        self.codes.capacity() + self.scale.capacity() * 4
    }
}

/// A query's i8 codes (padded to whole blocks) against the 4-bit walking codes.
pub(crate) struct U4Rows<'a> {
    space: &'a Space,
    q: &'a [i8],
    scale: f32,
    norm_sq: f32,
    /// `7.5 Σ qᵢ`: the codes' offset, `Σ qᵢ (cᵢ − 7.5) = Σ qᵢ cᵢ − bias` (exact in f32: a
    /// multiple of 0.5 below 2²³).
    bias: f32,
    /// Code bytes per vector.
    row: usize,
    /// Whether the rows carry their scales ([`elex_simd::u4_scale_fits`]).
    inline: bool,
    codes: &'a [u8],
    scales: &'a [f32],
    /// The vectors' squared norms (the i8 walking codes').
    norms: &'a [f32],
}

impl U4Rows<'_> {
    #[inline]
    fn codes(&self, n: NodeId) -> &[u8] {
        self.codes
            .get(n.idx() * self.row..(n.idx() + 1) * self.row)
            .unwrap_or(&[])
    }

    /// The distance from the kernel's sum for `n` (+inf past the end or for NaN).
    #[inline]
    fn finish(&self, dot: i64, n: NodeId) -> f32 {
        let s = if self.inline {
            elex_simd::u4_row_scale(self.codes(n))
        } else {
            self.scales.get(n.idx()).copied()
        };
        let (Some(s), Some(ns)) = (s, norm_of(self.norms, self.space, n)) else {
            return f32::INFINITY;
        };
        let dot = self.scale * s * (dot as f32 - self.bias);
        let d = self.space.dist_from_dot(dot, self.norm_sq, ns);
        if d.is_nan() { f32::INFINITY } else { d }
    }
}

impl Rows for U4Rows<'_> {
    /// The walk's leftover neighbours (at most three per expansion) and the upper layers.
    #[inline]
    fn dist(&self, n: NodeId) -> f32 {
        match self.space.k.dot_u4_i8(self.q, self.codes(n)) {
            Ok(d) => self.finish(d, n),
            Err(_) => f32::INFINITY,
        }
    }
    #[inline]
    fn dist4(&self, n: [NodeId; 4]) -> [f32; 4] {
        match self.space.k.dot_u4_i8_x4(self.q, n.map(|n| self.codes(n))) {
            Ok(d) => [0, 1, 2, 3].map(|i| self.finish(d[i], n[i])),
            Err(_) => n.map(|n| self.dist(n)),
        }
    }
    /// Natively a prefetch of the row (at most 8 lines: 1,024 dimensions); nothing in wasm,
    /// as for the i8 rows.
    #[inline]
    fn prefetch(&self, n: NodeId) {
        if cfg!(not(target_arch = "wasm32")) {
            elex_simd::prefetch(self.codes(n), PREFETCH_LINES);
        }
    }
    #[inline]
    fn touch(&self, n: NodeId) -> u32 {
        touch_row(self.codes(n), u32::from)
    }
}

/// [`Rows::touch`] of a row: a value of each cache line, as `u32`s by `bits`, mixed.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
#[inline]
fn touch_row<T: Copy>(row: &[T], bits: impl Fn(T) -> u32) -> u32 {
    row.iter()
        .step_by(elex_simd::CACHE_LINE / std::mem::size_of::<T>())
        .fold(0, |a, &x| a ^ bits(x))
}

/// The rows of any storage kind, chosen at run time (see [`CodeRows`]).
impl Rows for AnyRows<'_> {
    #[inline]
    fn dist(&self, n: NodeId) -> f32 {
        match self {
            AnyRows::F32(r) => r.dist(n),
            AnyRows::F16(r) => r.dist(n),
            AnyRows::I8(r) => r.dist(n),
            AnyRows::Q4(r) => r.dist(n),
        }
    }
    #[inline]
    fn dist4(&self, n: [NodeId; 4]) -> [f32; 4] {
        match self {
            AnyRows::F32(r) => r.dist4(n),
            AnyRows::F16(r) => r.dist4(n),
            AnyRows::I8(r) => r.dist4(n),
            AnyRows::Q4(r) => r.dist4(n),
        }
    }
    #[inline]
    fn prefetch(&self, n: NodeId) {
        match self {
            AnyRows::F32(r) => r.prefetch(n),
            AnyRows::F16(r) => r.prefetch(n),
            AnyRows::I8(r) => r.prefetch(n),
            AnyRows::Q4(r) => r.prefetch(n),
        }
    }
    /// The q4 rows are not touched (a kind the walk reads through this type).
    #[inline]
    fn touch(&self, n: NodeId) -> u32 {
        match self {
            AnyRows::F32(r) => r.touch(n),
            AnyRows::F16(r) => r.touch(n),
            AnyRows::I8(r) => r.touch(n),
            AnyRows::Q4(_) => 0,
        }
    }
}

/// The codes a search walks on where searches walk on 4-bit codes ([`SEARCH_ON_U4`], the
/// relaxed-SIMD wasm build): i8 (an i8 store's vectors or an f32 store's i8 walking codes) or
/// the 4-bit walking codes. One type for both, so the search loops are compiled once for the
/// two: a copy of each loop for the 4-bit codes alone added 6.4 KB to the relaxed wasm (0.4 KB
/// Brotli). The other storage kinds share one more copy, through [`AnyRows`] (a copy of their
/// own was about 1 KB Brotli each; through it, wasm in Node, docs-50k 20K, 7 rounds: f16
/// 0.96-0.99x, q4 with f32 copies 0.94-0.97x); the codes in that copy too searched at
/// 0.92-0.94x (docs-50k 50K, 9 rounds: the kind matched per kernel call among five).
pub(crate) enum CodeRows<'a> {
    I8(I8KindRows<'a>),
    U4(U4Rows<'a>),
}

impl Rows for CodeRows<'_> {
    #[inline]
    fn dist(&self, n: NodeId) -> f32 {
        match self {
            CodeRows::I8(r) => r.dist(n),
            CodeRows::U4(r) => r.dist(n),
        }
    }
    #[inline]
    fn dist4(&self, n: [NodeId; 4]) -> [f32; 4] {
        match self {
            CodeRows::I8(r) => r.dist4(n),
            CodeRows::U4(r) => r.dist4(n),
        }
    }
    #[inline]
    fn prefetch(&self, n: NodeId) {
        match self {
            CodeRows::I8(r) => r.prefetch(n),
            CodeRows::U4(r) => r.prefetch(n),
        }
    }
    #[inline]
    fn touch(&self, n: NodeId) -> u32 {
        match self {
            CodeRows::I8(r) => r.touch(n),
            CodeRows::U4(r) => r.touch(n),
        }
    }
}

impl Rows for KindRows<'_, View<'_>, &Vectors> {
    #[inline]
    fn dist(&self, n: NodeId) -> f32 {
        self.space.dist(self.q, self.v.view(self.space.dims, n.0))
    }
    #[inline]
    fn prefetch(&self, n: NodeId) {
        self.v.prefetch(self.space.dims, n.0);
    }
}

impl VectorStore {
    /// The query `q` against this store's vectors, for a search loop.
    #[inline]
    pub(crate) fn rows<'a>(&'a self, space: &'a Space, q: View<'a>) -> Option<AnyRows<'a>> {
        Some(match (q, &self.vectors) {
            (View::F32(q), Vectors::F32(v)) => AnyRows::F32(KindRows { space, q, v }),
            (View::F16(q), Vectors::F16(v)) => AnyRows::F16(KindRows { space, q, v }),
            (
                View::I8 {
                    codes,
                    scale,
                    norm_sq,
                },
                Vectors::I8(v),
            ) => AnyRows::I8(KindRows {
                space,
                q: (codes, scale, norm_sq),
                v: v.rows(),
            }),
            (q @ (View::Q4Query { .. } | View::Q4 { .. }), v @ Vectors::Q4(_)) => {
                AnyRows::Q4(KindRows { space, q, v })
            }
            _ => return None,
        })
    }
}

/// A prepared f32 vector as i8 codes (written into `codes`, its length): the scale and the
/// vector's squared norm. How an i8 index encodes its vectors and queries, and how an f32 index
/// makes its walking codes.
fn quantize_i8(k: &Kernels, x: &[f32], codes: &mut [i8]) -> (f32, f32) {
    (k.quantize_i8(x, codes).unwrap_or(0.0), k.norm_sq_f32(x))
}

/// The vectors of every node in the storage kind, their f32 copies when `keep_f32`, and the
/// i8 codes an f32 store walks the graph on.
///
/// Invariants: one vector (and one copy, when kept) per node, every value finite; i8 scales
/// and squared norms are finite and not negative; when there are walking codes, one per node,
/// the codes of that node's vector.
#[derive(Clone, Debug)]
pub(crate) struct VectorStore {
    dims: usize,
    vectors: Vectors,
    /// f32 copies (prepared form) when `keep_f32` and the storage is quantized.
    raw: Vec<f32>,
    keep_f32: bool,
    /// i8 codes of the f32 vectors, when searches walk the graph on them: a search computes
    /// its distances on these (a quarter of the bytes to fetch per distance) and re-ranks its
    /// `ef` candidates on the f32 vectors. Derived from the vectors (quantized exactly as an i8
    /// index quantizes), so never part of a snapshot.
    nav: Option<Scaled<i8>>,
    /// Uniform 4-bit codes of the same vectors, which searches walk on in place of `nav`: an
    /// eighth of the f32 bytes per distance, and a kernel without widening or table lookups
    /// (see [`U4Codes`]). Inserts still walk on `nav`, so the graph a seed builds, and the
    /// snapshot, stay those of the i8 walk. Present where [`SEARCH_ON_U4`] when `nav` is, and
    /// in an i8 store with f32 copies (codes of the copies; its inserts walk on the i8
    /// vectors). Like `nav`, derived and never part of a snapshot.
    nav4: Option<U4Codes>,
}

impl VectorStore {
    pub(crate) fn new(dims: usize, storage: Storage, keep_f32: bool) -> VectorStore {
        VectorStore {
            dims,
            vectors: Vectors::new(storage),
            raw: Vec::new(),
            keep_f32,
            nav: None,
            nav4: None,
        }
    }

    /// Whether searches walk the graph on i8 codes (and re-rank on the f32 vectors).
    #[inline]
    pub(crate) fn navigates(&self) -> bool {
        self.nav.is_some()
    }

    /// Turns walking on codes on (an f32 store only: others are unchanged) or off. On
    /// quantizes every stored vector, `slots` of them, to i8 and, where searches walk on 4-bit
    /// codes ([`SEARCH_ON_U4`]), to those too.
    pub(crate) fn set_navigation(&mut self, k: &Kernels, on: bool, slots: usize) {
        self.navigation(k, on, SEARCH_ON_U4, slots);
    }

    /// [`VectorStore::set_navigation`] with the 4-bit codes chosen by the caller (tests).
    fn navigation(&mut self, k: &Kernels, on: bool, u4: bool, slots: usize) {
        if !on {
            self.nav = None;
            self.nav4 = None;
            return;
        }
        // The f32 rows the codes are made of: an f32 store's vectors (i8 codes, and 4-bit ones
        // where searches walk on those), or an i8 store's f32 copies (4-bit codes only: its
        // searches re-rank on the copies already; else it walks on its own codes).
        let (rows, i8) = match &self.vectors {
            Vectors::F32(v) if self.nav.is_none() => (v, true),
            Vectors::I8(_) if u4 && self.keep_f32 && self.nav4.is_none() => (&self.raw, false),
            _ => return,
        };
        let mut nav = i8.then(|| Scaled::with_capacity(0, 0));
        let mut nav4 = u4.then(U4Codes::default);
        // Without room there are no walking codes: searches stay on the stored vectors.
        if nav
            .as_mut()
            .is_some_and(|c| c.reserve_exact(self.dims, slots).is_err())
            || nav4
                .as_mut()
                .is_some_and(|c| c.reserve_exact(self.dims, slots).is_err())
        {
            return;
        }
        for x in rows.chunks_exact(self.dims.max(1)).take(slots) {
            if let Some(c) = &mut nav {
                c.push_f32(k, x);
            }
            if let Some(c) = &mut nav4 {
                c.push_f32(k, x);
            }
        }
        self.nav = nav;
        self.nav4 = nav4;
    }

    /// The query's i8 encoding against the walking codes, when there are some.
    #[inline]
    pub(crate) fn nav_rows<'a>(
        &'a self,
        space: &'a Space,
        q: &'a Encoded,
    ) -> Option<I8KindRows<'a>> {
        match (&self.nav, q.view()) {
            (
                Some(nav),
                View::I8 {
                    codes,
                    scale,
                    norm_sq,
                },
            ) => Some(KindRows {
                space,
                q: (codes, scale, norm_sq),
                v: nav.rows(),
            }),
            _ => None,
        }
    }

    /// The query against the 4-bit walking codes, when there are some: `q8` is its i8 encoding
    /// and `padded` a buffer that takes its codes padded with zeros to whole blocks of 32 (the
    /// kernel's fast path; the padding's products are zero).
    #[inline]
    pub(crate) fn nav4_rows<'a>(
        &'a self,
        space: &'a Space,
        q8: &Encoded,
        padded: &'a mut Vec<i8>,
    ) -> Option<U4Rows<'a>> {
        // The vectors' exact squared norms: the i8 walking codes' or the i8 vectors'.
        let norms = match (&self.nav, &self.vectors) {
            (Some(nav), _) | (None, Vectors::I8(nav)) => &nav.norm_sq,
            _ => return None,
        };
        let (
            Some(v),
            View::I8 {
                codes,
                scale,
                norm_sq,
            },
        ) = (&self.nav4, q8.view())
        else {
            return None;
        };
        padded.clear();
        padded.extend_from_slice(codes);
        padded.resize(elex_simd::q4_bytes(codes.len()) * 2, 0);
        let sum: i32 = codes.iter().map(|&c| i32::from(c)).sum();
        Some(U4Rows {
            space,
            q: padded,
            scale,
            norm_sq,
            bias: 7.5 * sum as f32,
            row: elex_simd::q4_bytes(self.dims),
            inline: elex_simd::u4_scale_fits(self.dims),
            codes: &v.codes,
            scales: &v.scale,
            norms,
        })
    }

    /// The rows a search's final ranking reads: the f32 copies when kept (against the prepared
    /// query `prep`), else the stored vectors (against the encoded query `q`).
    #[inline]
    pub(crate) fn final_rows<'a>(
        &'a self,
        space: &'a Space,
        prep: &'a [f32],
        q: View<'a>,
    ) -> Option<AnyRows<'a>> {
        if self.keep_f32 {
            return Some(AnyRows::F32(KindRows {
                space,
                q: prep,
                v: &self.raw,
            }));
        }
        self.rows(space, q)
    }

    /// The rounding step and squared norm of `n`'s walking codes (the 4-bit ones where there
    /// are some, else the i8 walking codes or an i8 store's vectors): each component of the
    /// codes is within half a step of the vector's. `None` for the other kinds.
    #[inline]
    pub(crate) fn walk_step(&self, n: NodeId) -> Option<(f32, f32)> {
        let v = match (&self.nav, &self.vectors) {
            (Some(v), _) | (None, Vectors::I8(v)) => v,
            _ => return None,
        };
        let step = match &self.nav4 {
            Some(u) => u.scale.get(n.idx()),
            None => v.scale.get(n.idx()),
        };
        Some((*step?, *v.norm_sq.get(n.idx())?))
    }

    /// Node `n`'s own walking codes against all walking codes, when there are some: a node
    /// being linked walks the graph from its own codes.
    #[inline]
    pub(crate) fn nav_rows_of<'a>(&'a self, space: &'a Space, n: NodeId) -> Option<I8KindRows<'a>> {
        let v = self.nav.as_ref()?.rows();
        let q = (
            v.codes(self.dims, n),
            *v.scale.get(n.idx())?,
            *v.norm_sq.get(n.idx())?,
        );
        Some(KindRows { space, q, v })
    }

    #[inline]
    pub(crate) fn view(&self, n: NodeId) -> View<'_> {
        self.vectors.view(self.dims, n.0)
    }

    /// Whether exact f32 copies are kept (searches re-rank over them).
    #[inline]
    pub(crate) fn keeps_f32(&self) -> bool {
        self.keep_f32
    }

    /// `n`'s f32 copy, when kept.
    #[inline]
    pub(crate) fn exact(&self, n: NodeId) -> Option<&[f32]> {
        let r = n.idx() * self.dims;
        self.raw.get(r..r + self.dims)
    }

    /// Appends one node's encoding and, when kept, its prepared f32 form (and the walking
    /// codes of an f32 row, when there are some).
    pub(crate) fn push(&mut self, k: &Kernels, e: &Encoded, prep: &[f32]) {
        self.vectors.push(e);
        if self.keep_f32 {
            self.raw.extend_from_slice(prep);
        }
        // From the encoding, an f32 row: `prep` is empty when a compaction copies a node.
        if let (Some(nav), Encoded::F32(x)) = (&mut self.nav, e) {
            nav.push_f32(k, x);
        }
        // From the f32 row, else from the f32 copy (an i8 store's 4-bit codes).
        if let Some(nav4) = &mut self.nav4 {
            nav4.push_f32(k, if let Encoded::F32(x) = e { x } else { prep });
        }
    }

    /// Copies `n`'s encoding into `e` and its f32 copy (if kept) into `prep`.
    pub(crate) fn load(&self, k: &Kernels, n: NodeId, e: &mut Encoded, prep: &mut Vec<f32>) {
        self.vectors.load(k, self.dims, n.0, e);
        prep.clear();
        if let Some(x) = self.exact(n) {
            prep.extend_from_slice(x);
        }
    }

    /// `n` decoded to f32: its copy when kept, else the stored encoding decoded.
    pub(crate) fn decode(&self, k: &Kernels, n: NodeId) -> Vec<f32> {
        if let Some(x) = self.exact(n) {
            return x.to_vec();
        }
        let mut out = vec![0.0; self.dims];
        self.vectors.decode(k, self.dims, n.0, &mut out);
        out
    }

    /// Keeps the first `slots` nodes.
    pub(crate) fn truncate(&mut self, slots: usize) {
        self.vectors.truncate(self.dims, slots);
        if self.keep_f32 {
            self.raw.truncate(slots * self.dims);
        }
        if let Some(nav) = &mut self.nav {
            nav.truncate(self.dims, slots);
        }
        if let Some(nav4) = &mut self.nav4 {
            nav4.truncate(self.dims, slots);
        }
    }

    /// Room for `n` more nodes.
    pub(crate) fn reserve_exact(&mut self, n: usize) -> Reserve {
        let nd = n * self.dims;
        if self.keep_f32 {
            self.raw.try_reserve_exact(nd)?;
        }
        elex_simd::advise_huge_pages(&self.raw);
        if let Some(nav) = &mut self.nav {
            nav.reserve_exact(self.dims, n)?;
        }
        if let Some(nav4) = &mut self.nav4 {
            nav4.reserve_exact(self.dims, n)?;
        }
        let w = self.vectors.row(self.dims);
        match &mut self.vectors {
            Vectors::F32(v) => {
                v.try_reserve_exact(nd)?;
                elex_simd::advise_huge_pages(v);
            }
            Vectors::F16(v) => {
                v.try_reserve_exact(nd)?;
                elex_simd::advise_huge_pages(v);
            }
            Vectors::I8(v) => v.reserve_exact(w, n)?,
            Vectors::Q4(v) => v.reserve_exact(w, n)?,
        }
        Ok(())
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.raw.shrink_to_fit();
        if let Some(nav) = &mut self.nav {
            nav.shrink_to_fit();
        }
        if let Some(nav4) = &mut self.nav4 {
            nav4.shrink_to_fit();
        }
        match &mut self.vectors {
            Vectors::F32(v) => v.shrink_to_fit(),
            Vectors::F16(v) => v.shrink_to_fit(),
            Vectors::I8(v) => v.shrink_to_fit(),
            Vectors::Q4(v) => v.shrink_to_fit(),
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.vectors.heap_bytes()
            + self.raw.capacity() * 4
            + self.nav.as_ref().map_or(0, Scaled::heap_bytes)
            + self.nav4.as_ref().map_or(0, U4Codes::heap_bytes)
    }

    // ---- snapshot -----------------------------------------------------------------------
    //
    // The encodings (f32, f16, or i8 or q4 codes then scales then squared norms), then the
    // f32 copies (empty when not kept). Values are checked as they are decoded.

    /// Sections: 2 for f32 and f16, 4 for i8 and q4.
    pub(crate) fn sections(&self) -> usize {
        match self.vectors {
            Vectors::I8(_) | Vectors::Q4(_) => 4,
            _ => 2,
        }
    }

    /// Whether sections 1 and 2 are per-node scales and squared norms.
    fn scaled(&self) -> bool {
        matches!(self.vectors, Vectors::I8(_) | Vectors::Q4(_))
    }

    pub(crate) fn section(&self, i: usize) -> Section<'_> {
        match (&self.vectors, i) {
            (Vectors::F32(v), 0) => Section::F32(v),
            (Vectors::F16(v), 0) => Section::F16(v),
            (Vectors::I8(v), 0..=2) => v.section(i),
            (Vectors::Q4(v), 0..=2) => v.section(i),
            _ => Section::F32(&self.raw),
        }
    }

    pub(crate) fn sink(&mut self, i: usize) -> Sink<'_> {
        match (&mut self.vectors, i) {
            (Vectors::F32(v), 0) => Sink::F32(v),
            (Vectors::F16(v), 0) => Sink::F16(v),
            (Vectors::I8(v), 0..=2) => v.sink(i),
            (Vectors::Q4(v), 0..=2) => v.sink(i),
            _ => Sink::F32(&mut self.raw),
        }
    }

    /// Elements of section `i` for `slots` nodes.
    pub(crate) fn section_len(&self, i: usize, slots: u64) -> u64 {
        let nd = slots * self.dims as u64;
        match (&self.vectors, i) {
            (_, 0) => slots * self.vectors.row(self.dims) as u64,
            (Vectors::I8(_) | Vectors::Q4(_), 1 | 2) => slots,
            _ if self.keep_f32 => nd,
            _ => 0,
        }
    }

    /// An empty store ready to decode `slots` nodes into.
    pub(crate) fn for_reading(
        dims: usize,
        storage: Storage,
        keep_f32: bool,
        slots: usize,
    ) -> VectorStore {
        let nd = slots * dims;
        let vectors = match storage {
            Storage::F32 => Vectors::F32(Vec::with_capacity(nd)),
            Storage::F16 => Vectors::F16(Vec::with_capacity(nd)),
            Storage::I8 => Vectors::I8(Scaled::with_capacity(dims, slots)),
            Storage::Q4 => Vectors::Q4(Scaled::with_capacity(elex_simd::q4_bytes(dims), slots)),
        };
        VectorStore {
            dims,
            vectors,
            raw: Vec::with_capacity(if keep_f32 { nd } else { 0 }),
            keep_f32,
            nav: None,
            nav4: None,
        }
    }

    /// Checks the values of section `i` decoded since `*done` were checked.
    pub(crate) fn check_values(&self, i: usize, done: &mut usize) -> Result<(), String> {
        let (ok, len) = match self.section(i) {
            Section::F32(v) if self.scaled() && (i == 1 || i == 2) => (
                v[*done..].iter().all(|x| x.is_finite() && *x >= 0.0),
                v.len(),
            ),
            Section::F32(v) => (v[*done..].iter().all(|x| x.is_finite()), v.len()),
            Section::F16(v) => (v[*done..].iter().all(|x| x.is_finite()), v.len()),
            s => (true, s.len()),
        };
        *done = len;
        if ok {
            Ok(())
        } else {
            Err("a stored vector has a NaN or infinite value".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use elex_simd::SplitMix64;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// `dist4` gives the bits of `dist`, one node at a time, for every storage kind, metric and
    /// the walking codes, at lengths with and without a partial block of 16 and below one.
    #[test]
    fn grouped_distances_have_the_bits_of_single_ones() {
        let mut rng = SplitMix64(7);
        fn check<R: Rows>(rows: &R, n: usize, ctx: &str) {
            let ids: Vec<NodeId> = (0..n as u32).map(NodeId).collect();
            let one: Vec<u32> = ids.iter().map(|&i| rows.dist(i).to_bits()).collect();
            for w in ids.windows(4) {
                let got = rows.dist4([w[0], w[1], w[2], w[3]]).map(f32::to_bits);
                let want: Vec<u32> = w.iter().map(|i| one[i.idx()]).collect();
                assert_eq!(got.to_vec(), want, "dist4 {ctx}");
            }
        }
        let kernels = Kernels::detect();
        for dims in [7, 16, 50, 64, 100, 200] {
            for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
                // Each storage kind, and i8 with f32 copies (which walks on 4-bit codes of them).
                for (storage, keep) in [
                    (Storage::F32, false),
                    (Storage::F16, false),
                    (Storage::I8, false),
                    (Storage::I8, true),
                    (Storage::Q4, false),
                ] {
                    let space = Space {
                        k: kernels,
                        metric,
                        dims,
                    };
                    let mut store = VectorStore::new(dims, storage, keep);
                    store.navigation(&kernels, true, true, 0);
                    assert_eq!(store.nav4.is_some(), storage == Storage::F32 || keep);
                    let (mut e, mut prep) = (Encoded::new(storage), Vec::new());
                    let mut vector =
                        || -> Vec<f32> { (0..dims).map(|_| rng.next_f32() * 2.0 - 1.0).collect() };
                    let n = 9;
                    for _ in 0..n {
                        space.prepare(&vector(), &mut prep).unwrap();
                        space.encode(&prep, &mut e);
                        store.push(&kernels, &e, &prep);
                    }
                    space.prepare(&vector(), &mut prep).unwrap();
                    space.encode(&prep, &mut e);
                    let ctx = format!(
                        "{storage:?} keep {keep} {metric:?} dims {dims} {:?}",
                        kernels.isa()
                    );
                    match store.rows(&space, e.view()).unwrap() {
                        AnyRows::F32(r) => check(&r, n, &ctx),
                        AnyRows::F16(r) => check(&r, n, &ctx),
                        AnyRows::I8(r) => check(&r, n, &ctx),
                        AnyRows::Q4(r) => check(&r, n, &ctx),
                    }
                    // The query's i8 encoding: for the walking codes, or the i8 store's own.
                    let mut q8 = Encoded::new(Storage::I8);
                    space.encode(&prep, &mut q8);
                    if storage == Storage::F32 {
                        let nav = store.nav_rows(&space, &q8).expect("walking codes");
                        check(&nav, n, &format!("walking codes, {ctx}"));
                    }
                    if store.nav4.is_some() {
                        let mut pad = Vec::new();
                        let nav4 = store.nav4_rows(&space, &q8, &mut pad).expect("4-bit codes");
                        check(&nav4, n, &format!("4-bit walking codes, {ctx}"));
                        // Each distance is the exact one up to the codes' rounding: half a
                        // step of each (max|x| / 15 for a row, max|q| / 254 for the query).
                        let l1 = |v: &[f32]| v.iter().map(|x| f64::from(x.abs())).sum::<f64>();
                        let mx = |v: &[f32]| v.iter().fold(0f64, |m, x| m.max(f64::from(x.abs())));
                        for i in 0..n as u32 {
                            let x = match (store.exact(NodeId(i)), store.view(NodeId(i))) {
                                (Some(x), _) | (None, View::F32(x)) => x,
                                _ => unreachable!(),
                            };
                            let (ex, eq) = (mx(x) / 15.0, mx(&prep) / 254.0);
                            let bound = l1(&prep) * ex + l1(x) * eq + dims as f64 * ex * eq + 1e-4;
                            let bound = if metric == Metric::L2 {
                                2.0 * bound
                            } else {
                                bound
                            };
                            let got = f64::from(nav4.dist(NodeId(i)));
                            let want = f64::from(space.dist_f32(&prep, x));
                            assert!((got - want).abs() <= bound, "{ctx} node {i}: {got} {want}");
                        }
                    }
                }
            }
        }
    }

    /// A touch reads the first value of each cache line of a row and nothing else.
    #[test]
    fn a_touch_reads_each_cache_line_once() {
        let line = elex_simd::CACHE_LINE / 4;
        for len in [1, line - 1, line, line + 1, 384, 31 * line] {
            let row: Vec<f32> = (0..len)
                .map(|i| {
                    if i % line == 0 {
                        f32::from_bits(1 << (i / line))
                    } else {
                        1.0
                    }
                })
                .collect();
            let lines = len.div_ceil(line) as u32;
            assert_eq!(touch_row(&row, f32::to_bits), (1 << lines) - 1, "len {len}");
        }
        let line = elex_simd::CACHE_LINE;
        let bytes: Vec<u8> = (0..3 * line + 8)
            .map(|i| if i % line == 0 { 1 << (i / line) } else { 0xFF })
            .collect();
        assert_eq!(touch_row(&bytes, u32::from), 0b1111);
    }

    /// The walking codes' rows carry their scale where the layout has room for it (the kept
    /// scale, bit for bit), and are the codes alone elsewhere.
    #[test]
    fn the_walking_rows_carry_their_scale_where_there_is_room() {
        let k = Kernels::detect();
        let mut rng = SplitMix64(11);
        for dims in [1, 7, 24, 25, 50, 56, 57, 64, 100, 300, 384] {
            let mut codes = U4Codes::default();
            let rows: Vec<Vec<f32>> = (0..5)
                .map(|_| (0..dims).map(|_| rng.next_f32() * 2.0 - 1.0).collect())
                .collect();
            for x in &rows {
                codes.push_f32(&k, x);
            }
            let nb = elex_simd::q4_bytes(dims);
            for (i, x) in rows.iter().enumerate() {
                let row = &codes.codes[i * nb..(i + 1) * nb];
                let mut alone = vec![0u8; nb];
                let scale = k.quantize_u4(x, &mut alone).unwrap();
                assert_eq!(scale.to_bits(), codes.scale[i].to_bits(), "dims {dims}");
                if elex_simd::u4_scale_fits(dims) {
                    assert_eq!(
                        elex_simd::u4_row_scale(row).map(f32::to_bits),
                        Some(scale.to_bits())
                    );
                    assert_ne!(row, &alone[..], "dims {dims}: the scale is in the row");
                } else {
                    assert_eq!(row, &alone[..], "dims {dims}");
                }
            }
        }
    }
}
