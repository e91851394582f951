//! `elex-bench gen-clustered`: a seeded set of clustered unit vectors in the TEXMEX layout
//! (`base.fvecs`, `query.fvecs`, `groundtruth.ivecs` with the exact top 100 by cosine, computed
//! by brute force on every core), for sizes no real corpus here reaches (1,000,000 x 384).
//!
//! Each vector is a centre plus Gaussian noise, normalized; centres are Gaussian too, and a
//! share of the noise is shared by sub-clusters, so neighbourhoods have structure at two scales.

use crate::args::Args;
use elex_simd::{Kernels, SplitMix64};
use std::io::Write;

/// Roughly N(0, 1): the sum of 12 uniforms, centred.
fn normal(r: &mut SplitMix64) -> f32 {
    (0..12).map(|_| r.next_f32()).sum::<f32>() - 6.0
}

fn unit(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-30);
    v.iter_mut().for_each(|x| *x /= n);
}

fn write_vecs<T: Copy>(
    path: &std::path::Path,
    dims: usize,
    rows: &[T],
    bytes: fn(T) -> [u8; 4],
) -> Result<(), String> {
    let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(f);
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    for row in rows.chunks(dims) {
        w.write_all(&(dims as i32).to_le_bytes()).map_err(io)?;
        for &x in row {
            w.write_all(&bytes(x)).map_err(io)?;
        }
    }
    w.flush().map_err(io)
}

pub fn run(a: &mut Args) -> Result<(), String> {
    let n: usize = a.num("--n", 1_000_000)?;
    let nq: usize = a.num("--queries", 1000)?;
    let dims: usize = a.num("--dims", 384)?;
    let clusters: usize = a.num("--clusters", 2000)?;
    let seed: u64 = a.num("--seed", 7)?;
    let threads: usize = a.num(
        "--threads",
        std::thread::available_parallelism().map_or(2, |t| t.get()),
    )?;
    let out = a.path("--out")?;
    a.finish()?;
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut r = SplitMix64(seed);
    let mut centres = vec![0f32; clusters * dims];
    for c in centres.chunks_mut(dims) {
        c.iter_mut().for_each(|x| *x = normal(&mut r));
        unit(c);
    }
    // Sub-cluster offsets: 8 per cluster.
    let mut subs = vec![0f32; clusters * 8 * dims];
    subs.iter_mut()
        .for_each(|x| *x = normal(&mut r) * 0.6 / (dims as f32).sqrt());
    let make = |r: &mut SplitMix64, count: usize| {
        let mut v = vec![0f32; count * dims];
        for row in v.chunks_mut(dims) {
            let c = r.below(clusters as u32) as usize;
            let s = c * 8 + r.below(8) as usize;
            for (i, x) in row.iter_mut().enumerate() {
                *x = centres[c * dims + i]
                    + subs[s * dims + i]
                    + normal(r) * 0.5 / (dims as f32).sqrt();
            }
            unit(row);
        }
        v
    };
    let base = make(&mut r, n);
    let queries = make(&mut r, nq);
    eprintln!("generated {n} + {nq} vectors of {dims}; ground truth on {threads} threads...");
    let k = Kernels::detect();
    let top = 100.min(n);
    let per = nq.div_ceil(threads.max(1));
    let truth: Vec<Vec<i32>> = std::thread::scope(|s| {
        let handles: Vec<_> = queries
            .chunks(per * dims)
            .map(|qs| {
                let base = &base;
                s.spawn(move || {
                    qs.chunks(dims)
                        .map(|q| {
                            let mut scored: Vec<(f32, i32)> = base
                                .chunks(dims)
                                .enumerate()
                                .map(|(i, b)| {
                                    (k.dot_f32(q, b).unwrap_or(f32::NEG_INFINITY), i as i32)
                                })
                                .collect();
                            scored.select_nth_unstable_by(top - 1, |x, y| {
                                y.0.total_cmp(&x.0).then(x.1.cmp(&y.1))
                            });
                            scored.truncate(top);
                            scored.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
                            scored.into_iter().map(|(_, i)| i).collect::<Vec<i32>>()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    write_vecs(&out.join("base.fvecs"), dims, &base, f32::to_le_bytes)?;
    write_vecs(&out.join("query.fvecs"), dims, &queries, f32::to_le_bytes)?;
    let flat: Vec<i32> = truth.into_iter().flatten().collect();
    write_vecs(&out.join("groundtruth.ivecs"), top, &flat, i32::to_le_bytes)?;
    println!(
        "wrote {} ({n} x {dims}, {nq} queries, top {top})",
        out.display()
    );
    Ok(())
}
