//! [`Short`]: numbers in error messages, written without core's float formatting (Grisu and
//! Dragon4 with their tables: about 16 KB of the WebAssembly module, there only for messages).

use core::fmt;

/// Writes an `f32` or `f64` for a person: up to six significant digits, plain from 1e-5 up to
/// 1e15 (`0.75`, `1.2`, `65504`, `0.00001`), otherwise as mantissa and exponent
/// (`3.40282e38`, `1e-7`); `NaN`, `inf`, `-inf` as Rust writes them. Whole numbers below 1e15
/// are exact.
#[derive(Clone, Copy, Debug)]
pub struct Short(pub f64);

impl From<f32> for Short {
    fn from(x: f32) -> Short {
        Short(f64::from(x))
    }
}

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if x.is_nan() {
            return f.write_str("NaN");
        }
        if x.is_sign_negative() && x != 0.0 {
            f.write_str("-")?;
        }
        let a = x.abs();
        if a.is_infinite() {
            return f.write_str("inf");
        }
        if a == 0.0 {
            return f.write_str("0");
        }
        if a < 1e15 && a.fract() == 0.0 {
            return write!(f, "{}", a as u64);
        }
        // Six significant digits: `digits` in 100000..=999999, the value `digits * 10^(e - 5)`.
        let mut e = 0i32;
        let mut m = a;
        while m >= 10.0 {
            m /= 10.0;
            e += 1;
        }
        while m < 1.0 {
            m *= 10.0;
            e -= 1;
        }
        let mut digits = (m * 100_000.0).round() as u64;
        if digits >= 1_000_000 {
            digits /= 10;
            e += 1;
        }
        let mut s = [b'0'; 6];
        let mut d = digits;
        for b in s.iter_mut().rev() {
            *b = b'0' + (d % 10) as u8;
            d /= 10;
        }
        let sig = s.len() - s.iter().rev().take_while(|&&d| d == b'0').count();
        let sig = &s[..sig.max(1)];
        fn text(b: &[u8]) -> &str {
            core::str::from_utf8(b).unwrap_or("?")
        }
        if (-5..15).contains(&e) {
            if e < 0 {
                f.write_str("0.")?;
                for _ in 0..(-e - 1) {
                    f.write_str("0")?;
                }
                f.write_str(text(sig))
            } else {
                let int = (e + 1) as usize;
                if sig.len() <= int {
                    // A fraction beyond six digits of a large number: its whole part.
                    write!(f, "{}", a.round() as u64)
                } else {
                    write!(f, "{}.{}", text(&sig[..int]), text(&sig[int..]))
                }
            }
        } else {
            f.write_str(text(&sig[..1]))?;
            if sig.len() > 1 {
                write!(f, ".{}", text(&sig[1..]))?;
            }
            write!(f, "e{e}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Short;

    fn s(x: f64) -> String {
        Short(x).to_string()
    }

    #[test]
    fn writes_what_a_person_expects() {
        for (x, want) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (0.75, "0.75"),
            (1.2, "1.2"),
            (0.1 + 0.2, "0.3"),
            (65504.0, "65504"),
            (4294967296.0, "4294967296"),
            (1.5, "1.5"),
            (-2.5, "-2.5"),
            (123.456, "123.456"),
            (0.00001, "0.00001"),
            (1e-7, "1e-7"),
            (1e300, "1e300"),
            (f64::from(f32::MAX), "3.40282e38"),
            (f64::from(f32::MAX) / 4.0, "8.50706e37"),
            (9.999999, "10"),
            (1234567.5, "1234568"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (2.0f64.powi(60), "1.15292e18"),
        ] {
            assert_eq!(s(x), want, "{x:?}");
        }
        assert_eq!(Short::from(1.2f32).to_string(), "1.2");
        assert_eq!(Short::from(0.1f32).to_string(), "0.1");
    }

    /// Six significant digits agree with Rust's own formatting (within one unit of the last).
    #[test]
    fn agrees_with_std_to_six_digits() {
        let mut r = crate::SplitMix64(7);
        for _ in 0..10_000 {
            let bits = r.next_u64();
            let x = f64::from_bits(bits);
            if !x.is_finite() || x == 0.0 {
                continue;
            }
            let ours: f64 = s(x).parse().unwrap_or(f64::NAN);
            let theirs: f64 = format!("{x:.5e}").parse().unwrap_or(f64::NAN);
            let rel = ((ours - theirs) / theirs).abs();
            assert!(
                rel < 1.1e-5 || (x.abs() < 1e15 && x.fract() == 0.0 && ours == x),
                "{x:e}: ours {ours:e}, std {theirs:e}"
            );
        }
    }
}
