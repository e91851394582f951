//! 4-bit codes: sixteen non-uniform levels, one scale per vector.
//!
//! A vector `x` of `n` components is stored as `n` 4-bit codes and a scale `s`, so that
//! `xᵢ ≈ s · LEVELS[cᵢ]`. The levels are the Lloyd-Max quantizer of a unit Gaussian (the
//! mean-squared-error optimum for the bell-shaped components of embeddings), scaled to i8 so
//! the kernels turn a code into its level with one table lookup (`pshufb`, `i8x16.swizzle`,
//! `tbl`) and then multiply like the i8 kernels. Measured before choosing (docs-50k, exact
//! re-rank of the best 20 of the codes' ranking): recall@10 1.000 against 0.9997 with uniform
//! levels; on GloVe-50 0.985 against 0.971.
//!
//! Layout: 16 bytes per block of 32 components; byte `j` of a block holds component `j` in its
//! low nibble and component `j + 16` in its high nibble, so one 16-byte load gives two runs of
//! 16 consecutive components. A row of `n` components takes [`q4_bytes`]`(n)` bytes; the
//! nibbles past `n` are zero.

/// The sixteen levels, ascending: the Lloyd-Max points of N(0, 1) (±0.1284 … ±2.7326) times
/// `127 / 2.7326`, rounded.
pub const Q4_LEVELS: [i8; 16] = [
    -127, -96, -75, -58, -44, -31, -18, -6, 6, 18, 31, 44, 58, 75, 96, 127,
];

/// One standard deviation in level units: `127 / 2.7326`.
const UNIT: f64 = 127.0 / 2.7326;

/// Bytes of one row of `n` 4-bit codes: 16 per started block of 32.
pub const fn q4_bytes(n: usize) -> usize {
    n.div_ceil(32) * 16
}

/// Midpoints between adjacent levels: the decision thresholds.
fn mids() -> [f64; 15] {
    let mut m = [0.0; 15];
    for (k, x) in m.iter_mut().enumerate() {
        *x = (f64::from(Q4_LEVELS[k]) + f64::from(Q4_LEVELS[k + 1])) / 2.0;
    }
    m
}

/// Sets component `i`'s code.
#[inline]
fn set(dst: &mut [u8], i: usize, c: u8) {
    let (block, j) = (i / 32, i % 32);
    let b = &mut dst[block * 16 + j % 16];
    if j < 16 {
        *b = (*b & 0xF0) | c;
    } else {
        *b = (*b & 0x0F) | (c << 4);
    }
}

/// Component `i`'s code.
#[inline]
pub(crate) fn get(codes: &[u8], i: usize) -> u8 {
    let (block, j) = (i / 32, i % 32);
    let b = codes[block * 16 + j % 16];
    if j < 16 { b & 0x0F } else { b >> 4 }
}

/// Encodes finite `src` into `dst` (`q4_bytes(src.len())` bytes) and returns the scale.
///
/// The scale starts at the vector's RMS over [`UNIT`]; then twice: every component takes the
/// nearest level, and the scale becomes the least-squares fit `Σ xᵢLᵢ / Σ Lᵢ²` for those codes.
/// All arithmetic is sequential f64, so every platform writes the same bytes. A zero vector
/// gets scale 0.
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) -> f32 {
    dst.fill(0);
    let ss: f64 = src.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    if ss == 0.0 {
        return 0.0;
    }
    let mids = mids();
    let mut s = (ss / src.len() as f64).sqrt() / UNIT;
    for _ in 0..2 {
        let (mut xl, mut ll) = (0.0f64, 0.0f64);
        for (i, &x) in src.iter().enumerate() {
            let x = f64::from(x);
            let t = x / s;
            let c = mids.partition_point(|&m| m < t);
            let l = f64::from(Q4_LEVELS[c]);
            xl += x * l;
            ll += l * l;
            set(dst, i, c as u8);
        }
        // Each component takes a level of its own sign (zero takes +6), so xl > 0 here.
        if xl > 0.0 && ll > 0.0 {
            s = xl / ll;
        }
    }
    s as f32
}

/// Uniform 4-bit codes (the walking copy of an f32 index): `xᵢ ≈ s · (cᵢ − 7.5)` with
/// `s = max|x| / 7.5` and `cᵢ = round(xᵢ / s + 7.5)` in `0..=15`, in the [`q4_bytes`] layout
/// (unused nibbles zero). Unlike the q4 levels, a code is its own value, so a kernel multiplies
/// the raw nibbles with no table lookup (and, in wasm's relaxed SIMD, a nibble is a valid 7-bit
/// operand of the exact dot product). Sequential f32, so every platform writes the same bytes.
/// A zero vector gets scale 0 (and every code 8, which with scale 0 means 0).
pub(crate) fn quantize_u4(src: &[f32], dst: &mut [u8]) -> f32 {
    dst.fill(0);
    let m = src.iter().fold(0f32, |m, &x| m.max(x.abs()));
    let inv = if m > 0.0 { 7.5 / m } else { 0.0 };
    for (i, &x) in src.iter().enumerate() {
        set(dst, i, (x * inv + 7.5).round().clamp(0.0, 15.0) as u8);
    }
    m / 7.5
}

/// Whether a row of `n` uniform 4-bit codes has room for its scale: at least 8 padding
/// components, the high nibbles of the last block's last 8 bytes (as for 50, 100, 200 or 300
/// components). A reader then takes a row's scale from the bytes it has loaded for the codes,
/// not from an array of its own.
pub const fn u4_scale_fits(n: usize) -> bool {
    q4_bytes(n) * 2 >= n + 8
}

/// Writes `scale`'s bits into the padding of `row`, `n` codes from [`Kernels::quantize_u4`]
/// (nibble `k` of the bits in the high nibble of the row's `k`-th last-8 byte), where
/// [`u4_scale_fits`] and the row is [`q4_bytes`]`(n)` long; returns whether it did. The
/// components' codes stay as they were, and a kernel whose query is padded with zeros (as the
/// u4 kernels' queries are, to whole blocks) sums the same.
///
/// [`Kernels::quantize_u4`]: crate::Kernels::quantize_u4
pub fn u4_put_scale(row: &mut [u8], n: usize, scale: f32) -> bool {
    if !u4_scale_fits(n) || row.len() != q4_bytes(n) {
        return false;
    }
    let bits = scale.to_bits();
    let at = row.len() - 8;
    for (k, b) in row[at..].iter_mut().enumerate() {
        *b = (*b & 0x0F) | (((bits >> (4 * k)) & 0xF) as u8) << 4;
    }
    true
}

/// The scale [`u4_put_scale`] wrote into `row` (`None` for a row shorter than 8 bytes).
#[inline]
pub fn u4_row_scale(row: &[u8]) -> Option<f32> {
    let x = u64::from_le_bytes(*row.last_chunk::<8>()?);
    // The high nibble of byte k is nibble k of the bits: gather them.
    let mut y = (x >> 4) & 0x0F0F_0F0F_0F0F_0F0F;
    y = (y | (y >> 4)) & 0x00FF_00FF_00FF_00FF;
    y = (y | (y >> 8)) & 0x0000_FFFF_0000_FFFF;
    y = (y | (y >> 16)) & 0xFFFF_FFFF;
    Some(f32::from_bits(y as u32))
}

/// 32 bytes of 0xFF then 32 zeros: `TAIL_MASK[32 - r..]` starts with `r` set bytes, the mask
/// that keeps the first `r` levels of a block.
// Only the SIMD kernels use it; a scalar-only wasm build has none.
#[cfg_attr(
    not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_feature = "simd128"
    )),
    allow(dead_code)
)]
pub(crate) static TAIL_MASK: [u8; 64] = {
    let mut m = [0u8; 64];
    let mut i = 0;
    while i < 32 {
        m[i] = 0xFF;
        i += 1;
    }
    m
};
