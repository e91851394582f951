//! The Q-learning snapshot format, version 1. Little endian.
//!
//! | offset | field | type |
//! | --- | --- | --- |
//! | 0 | magic `ELEXQLRN` | 8 bytes |
//! | 8 | format version | u16 |
//! | 10 | rule (0 Q-learning, 1 expected SARSA, 2 double Q) | u8 |
//! | 11 | flags, 0 | u8 |
//! | 12 | states, actions | 2 × u32 |
//! | 20 | alpha, gamma, expected-SARSA ε, initial value | 4 × f32 |
//! | 36 | reserved, 0 | u32 |
//! | 40 | seed, generator state, steps | 3 × u64 |
//! | 64 | body length | u64 |
//! | 72 | checksum of bytes 0..72 and the body | u64 |
//!
//! Body: table A, `states × actions` f32 row by row (no padding); under double Q-learning,
//! table B after it. The reader checks every field and length before allocating, the checksum,
//! and that every value is finite.

use crate::learner::{Rule, check_alpha, check_gamma, check_rule};
use crate::table::MAX_VALUES;
use crate::{Learner, QError, QTable};
use elex_simd::{Checksum, Kernels, SplitMix64};

/// The first 8 bytes of every Q-learning snapshot.
pub const MAGIC: [u8; 8] = *b"ELEXQLRN";
/// The format version this build writes (and the newest it reads).
pub const FORMAT_VERSION: u16 = 1;
/// Bytes in the fixed header.
pub const HEADER_LEN: usize = 80;
const CHECKSUM_AT: usize = 72;

impl Learner {
    /// The learner as bytes (tables, parameters, the random stream and the schedule clock).
    pub fn to_bytes(&self) -> Vec<u8> {
        let tables: Vec<&QTable> = std::iter::once(&self.a).chain(self.b.as_ref()).collect();
        let body_len = tables
            .iter()
            .map(|t| t.states() * t.actions() * 4)
            .sum::<usize>();
        let mut out = vec![0u8; HEADER_LEN];
        out.reserve(body_len);
        out[..8].copy_from_slice(&MAGIC);
        out[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[10] = self.rule.code();
        let epsilon = match self.rule {
            Rule::ExpectedSarsa { epsilon } => epsilon,
            _ => 0.0,
        };
        out[12..16].copy_from_slice(&(self.a.states() as u32).to_le_bytes());
        out[16..20].copy_from_slice(&(self.a.actions() as u32).to_le_bytes());
        for (i, v) in [self.alpha, self.gamma, epsilon, self.initial]
            .iter()
            .enumerate()
        {
            out[20 + 4 * i..24 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        for (i, v) in [self.seed, self.rng.0, self.steps, body_len as u64]
            .iter()
            .enumerate()
        {
            out[40 + 8 * i..48 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        for t in &tables {
            for v in t.values() {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let mut sum = Checksum::new();
        sum.update(&out[..CHECKSUM_AT]);
        sum.update(&out[HEADER_LEN..]);
        let c = sum.finish();
        out[CHECKSUM_AT..HEADER_LEN].copy_from_slice(&c.to_le_bytes());
        out
    }

    /// Loads a snapshot; every problem is an error and nothing is half-loaded.
    pub fn from_bytes(bytes: &[u8]) -> Result<Learner, QError> {
        let got = bytes.len() as u64;
        if bytes.len() >= 8 && bytes[..8] != MAGIC {
            return Err(QError::BadMagic);
        }
        if bytes.len() < HEADER_LEN {
            return Err(QError::Truncated {
                needed: HEADER_LEN as u64,
                got,
            });
        }
        match u16::from_le_bytes([bytes[8], bytes[9]]) {
            1 => read_v1(bytes),
            found => Err(QError::UnsupportedVersion {
                found,
                supported: FORMAT_VERSION,
            }),
        }
    }
}

fn read_v1(b: &[u8]) -> Result<Learner, QError> {
    let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let f32_at = |o: usize| f32::from_bits(u32_at(o));
    let u64_at = |o: usize| u64::from(u32_at(o)) | u64::from(u32_at(o + 4)) << 32;
    let corrupt = |m: String| QError::Corrupt(m);
    if b[11] != 0 || u32_at(36) != 0 {
        return Err(corrupt("unknown flags or reserved bits set".into()));
    }
    let (states, actions) = (u32_at(12) as usize, u32_at(16) as usize);
    let (alpha, gamma, epsilon, initial) = (f32_at(20), f32_at(24), f32_at(28), f32_at(32));
    let (seed, rng, steps, body_len) = (u64_at(40), u64_at(48), u64_at(56), u64_at(64));
    let rule = match b[10] {
        0 => Rule::QLearning,
        1 => Rule::ExpectedSarsa { epsilon },
        2 => Rule::DoubleQ,
        r => return Err(corrupt(format!("unknown rule {r}"))),
    };
    check_alpha(alpha).map_err(|e| corrupt(e.to_string()))?;
    check_gamma(gamma).map_err(|e| corrupt(e.to_string()))?;
    check_rule(rule).map_err(|e| corrupt(e.to_string()))?;
    let values = (states as u64)
        .checked_mul(actions as u64)
        .filter(|&v| v > 0 && v <= MAX_VALUES as u64);
    let values =
        values.ok_or_else(|| corrupt(format!("{states} x {actions} table out of range")))?;
    let tables = if rule == Rule::DoubleQ { 2 } else { 1 };
    let want = values * 4 * tables;
    if body_len != want {
        return Err(corrupt(format!(
            "body length {body_len} does not match a {states} x {actions} table ({want})"
        )));
    }
    let needed = HEADER_LEN as u64 + body_len;
    if (b.len() as u64) < needed {
        return Err(QError::Truncated {
            needed,
            got: b.len() as u64,
        });
    }
    if b.len() as u64 > needed {
        return Err(corrupt(format!(
            "{} trailing bytes",
            b.len() as u64 - needed
        )));
    }
    let mut sum = Checksum::new();
    sum.update(&b[..CHECKSUM_AT]);
    sum.update(&b[HEADER_LEN..]);
    if sum.finish() != u64_at(CHECKSUM_AT) {
        return Err(QError::ChecksumMismatch);
    }
    let read_table = |at: usize| -> Result<QTable, QError> {
        let mut t = QTable::new(states, actions, 0.0)?;
        let body = &b[at..at + values as usize * 4];
        for (i, c) in body.chunks_exact(4).enumerate() {
            let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            if !v.is_finite() {
                return Err(QError::Corrupt("a Q value is NaN or infinite".into()));
            }
            t.set((i / actions) as u32, (i % actions) as u32, v)?;
        }
        Ok(t)
    };
    let a = read_table(HEADER_LEN)?;
    let second = if tables == 2 {
        Some(read_table(HEADER_LEN + values as usize * 4)?)
    } else {
        None
    };
    if !initial.is_finite() {
        return Err(corrupt("initial value is not finite".into()));
    }
    Ok(Learner::from_parts(
        a,
        second,
        alpha,
        gamma,
        initial,
        rule,
        seed,
        SplitMix64(rng),
        steps,
        Kernels::detect(),
    ))
}
