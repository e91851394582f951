//! TEXMEX `.fvecs` / `.ivecs` readers: each row is a little-endian i32 dimension followed by that
//! many f32 (or i32) values. Every row must have the same dimension.

use std::path::Path;

/// A dense row-major matrix read from a vecs file.
pub struct Matrix<T> {
    pub dims: usize,
    pub rows: usize,
    pub data: Vec<T>,
}

impl<T> Matrix<T> {
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.dims..(i + 1) * self.dims]
    }
}

fn read_rows<T>(
    path: &Path,
    limit: Option<usize>,
    conv: fn([u8; 4]) -> T,
) -> Result<Matrix<T>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() < 4 {
        return Err(format!("{}: too short to be a vecs file", path.display()));
    }
    let dims = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if dims <= 0 || dims > 1 << 20 {
        return Err(format!("{}: implausible dimension {dims}", path.display()));
    }
    let dims = dims as usize;
    let row = 4 + 4 * dims;
    if bytes.len() % row != 0 {
        return Err(format!(
            "{}: {} bytes is not a whole number of {row}-byte rows",
            path.display(),
            bytes.len()
        ));
    }
    let rows = (bytes.len() / row).min(limit.unwrap_or(usize::MAX));
    let mut data = Vec::with_capacity(rows * dims);
    for r in 0..rows {
        let b = &bytes[r * row..(r + 1) * row];
        let d = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if d as usize != dims {
            return Err(format!(
                "{}: row {r} has dimension {d}, row 0 has {dims}",
                path.display()
            ));
        }
        data.extend(
            b[4..]
                .chunks_exact(4)
                .map(|c| conv([c[0], c[1], c[2], c[3]])),
        );
    }
    Ok(Matrix { dims, rows, data })
}

pub fn read_fvecs(path: &Path, limit: Option<usize>) -> Result<Matrix<f32>, String> {
    read_rows(path, limit, f32::from_le_bytes)
}

pub fn read_ivecs(path: &Path, limit: Option<usize>) -> Result<Matrix<i32>, String> {
    read_rows(path, limit, i32::from_le_bytes)
}
