//! `elex-bench budget`: the default f32 index against a budgeted index (4-bit codes and links
//! resident, exact rows in a file with a hot set in memory) under budgets that are shares of the
//! f32 index's bytes. Rounds are interleaved (f32, each share, f32, each share, ...); each
//! reports recall@k, QPS, latency percentiles, rows and bytes read from the file per query and
//! the hot set's hit ratio, and the QPS ratio to the f32 index of the same round.

use crate::args::Args;
use crate::vecs::{read_fvecs, read_ivecs};
use elex_hnsw::{
    BudgetedHnsw, FileRows, Filter, Hnsw, HnswError, HnswParams, Metric, RowPrecision, Storage,
};
use std::time::Instant;

struct Pass {
    recall: f64,
    qps: f64,
    p50: f64,
    p95: f64,
    p99: f64,
}

fn pass(
    queries: &crate::vecs::Matrix<f32>,
    truth: &[Vec<u64>],
    k: usize,
    mut search: impl FnMut(&[f32]) -> Result<Vec<u64>, HnswError>,
) -> Result<Pass, String> {
    let mut lat = Vec::with_capacity(truth.len());
    let mut hits = 0usize;
    let t = Instant::now();
    for (q, want) in truth.iter().enumerate() {
        let t0 = Instant::now();
        let got = search(queries.row(q)).map_err(|e| e.to_string())?;
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
        hits += got.iter().filter(|id| want.contains(id)).count();
    }
    let total = t.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    Ok(Pass {
        recall: hits as f64 / (truth.len() * k) as f64,
        qps: truth.len() as f64 / total,
        p50: pct(0.5),
        p95: pct(0.95),
        p99: pct(0.99),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(a: &mut Args) -> Result<(), String> {
    let base_path = a.path("--base")?;
    let query_path = a.path("--query")?;
    let gt_path = a.path("--gt")?;
    let k: usize = a.num("--k", 10)?;
    let m: usize = a.num("--m", 16)?;
    let efc: usize = a.num("--ef-construction", 200)?;
    let ef: usize = a.num("--ef", 64)?;
    let rerank: usize = a.num("--rerank", elex_hnsw::DEFAULT_RERANK)?;
    let rounds: usize = a.num("--rounds", 3)?;
    let nq: Option<usize> = a.opt_num("--queries")?;
    let shares: Vec<f64> = a
        .text("--shares", "1,0.5,0.25")
        .split(',')
        .map(|x| {
            x.trim()
                .parse()
                .map_err(|_| format!("--shares: bad number {x}"))
        })
        .collect::<Result<_, _>>()?;
    let precision = match a.text("--precision", "f32").as_str() {
        "f32" => RowPrecision::F32,
        "f16" => RowPrecision::F16,
        s => return Err(format!("--precision must be f32 or f16, not {s}")),
    };
    let rows_path = a.text("--rows-file", "target/elex-budget-rows.bin");
    let json = a.opt_text("--json");
    let export = a.opt_text("--export");
    // --build-threads N: both indexes built in parallel rounds on N threads (the bundle is the
    // same for any N); without it the sequential, seeded build.
    let build_threads = match a.opt_num::<usize>("--build-threads")? {
        None => None,
        Some(t) => {
            Some(std::num::NonZeroUsize::new(t).ok_or("--build-threads must be at least 1")?)
        }
    };
    // Absolute budgets instead of shares: no f32 index is built (for sets too large for it).
    let absolute: Option<Vec<u64>> = match a.opt_text("--budget-bytes") {
        None => None,
        Some(v) => Some(
            v.split(',')
                .map(|x| {
                    x.trim()
                        .parse()
                        .map_err(|_| format!("--budget-bytes: bad number {x}"))
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    a.finish()?;

    let base = read_fvecs(&base_path, None)?;
    let queries = read_fvecs(&query_path, nq)?;
    let gt = read_ivecs(&gt_path, nq)?;
    if gt.rows < queries.rows || gt.dims < k || queries.dims != base.dims {
        return Err("ground truth or queries do not match the base".into());
    }
    let truth: Vec<Vec<u64>> = (0..queries.rows)
        .map(|q| gt.row(q)[..k].iter().map(|&i| i as u64).collect())
        .collect();
    let ids: Vec<u64> = (0..base.rows as u64).collect();
    let params = |storage| {
        let mut p = HnswParams::new(base.dims, Metric::Cosine).with_m(m);
        p.ef_construction = efc;
        p.storage = storage;
        p
    };

    let t = Instant::now();
    let mut f32_index = Hnsw::new(params(Storage::F32)).map_err(|e| e.to_string())?;
    if absolute.is_none() {
        match build_threads {
            None => f32_index.insert_batch(&ids, &base.data, |_, _| {}),
            Some(t) => f32_index.insert_batch_parallel(&ids, &base.data, t, |_, _| {}),
        }
        .map_err(|e| e.to_string())?;
    }
    let f32_build = t.elapsed().as_secs_f64();
    let full = f32_index.memory_bytes() as u64;
    let shares: Vec<f64> = match &absolute {
        Some(b) => b.iter().map(|&x| x as f64).collect(),
        None => shares,
    };
    let budget_of = |share: f64| match absolute {
        Some(_) => share as u64,
        None => (full as f64 * share) as u64,
    };

    let _ = std::fs::remove_file(&rows_path);
    let rows = FileRows::open(
        std::path::Path::new(&rows_path),
        precision.row_bytes(base.dims),
    )
    .map_err(|e| format!("{rows_path}: {e}"))?;
    let t = Instant::now();
    let mut b = BudgetedHnsw::new(params(Storage::Q4), precision, u64::MAX, rows)
        .map_err(|e| e.to_string())?;
    match build_threads {
        None => b.insert_batch(&ids, &base.data),
        Some(t) => b.insert_batch_parallel(&ids, &base.data, t, |_, _| {}),
    }
    .map_err(|e| e.to_string())?;
    let q4_build = t.elapsed().as_secs_f64();
    b.set_rerank(rerank).map_err(|e| e.to_string())?;
    if let Some(path) = &export {
        // The bundle the browser imports (`BudgetedIndex.importBundle`).
        let t = Instant::now();
        let file = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
        let mut w = std::io::BufWriter::new(file);
        let n = b.export(&mut w).map_err(|e| e.to_string())?;
        std::io::Write::flush(&mut w).map_err(|e| format!("{path}: {e}"))?;
        println!(
            "bundle: {path}, {:.1} MB, written in {:.2} s",
            n as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
    }
    println!(
        "{} x {} ({}), k {k}, M {m}, efC {efc}, ef {ef}, rerank {rerank}, rows {precision:?} in {rows_path}",
        base.rows, base.dims, queries.rows,
    );
    println!(
        "f32 index: {:.1} MB, built in {f32_build:.1} s; q4 codes + links: {:.1} MB (minimum budget, {:.0}% of f32), built in {q4_build:.1} s",
        full as f64 / 1e6,
        b.minimum_bytes() as f64 / 1e6,
        100.0 * b.minimum_bytes() as f64 / full as f64
    );

    // Per share, per round: (pass, ratio to the round's f32 QPS, rows/q, bytes/q, hit ratio, memory).
    type Row = (Pass, f64, f64, f64, f64, u64);
    let mut table: Vec<Vec<Row>> = shares.iter().map(|_| Vec::new()).collect();
    let mut base_passes = Vec::new();
    for round in 0..rounds {
        let f32_qps = if absolute.is_none() {
            let p = pass(&queries, &truth, k, |q| {
                Ok(f32_index
                    .search_filtered(q, k, ef, Filter::None)?
                    .into_iter()
                    .map(|h| h.id)
                    .collect())
            })?;
            let qps = p.qps;
            base_passes.push(p);
            qps
        } else {
            f64::NAN
        };
        for (si, &share) in shares.iter().enumerate() {
            let budget = budget_of(share);
            if let Err(e) = b.set_budget(budget) {
                if round == 0 {
                    println!("share {share}: {e}");
                }
                continue;
            }
            // Warm the hot set with one pass, then measure the next.
            pass(&queries, &truth, k, |q| {
                Ok(b.search(q, k, ef, Filter::None)?
                    .into_iter()
                    .map(|h| h.id)
                    .collect())
            })?;
            let before = b.stats();
            let p = pass(&queries, &truth, k, |q| {
                Ok(b.search(q, k, ef, Filter::None)?
                    .into_iter()
                    .map(|h| h.id)
                    .collect())
            })?;
            let s = b.stats();
            let n = (s.queries - before.queries).max(1) as f64;
            let hot = s.hot_hits - before.hot_hits;
            let read = s.rows_read - before.rows_read;
            let ratio = p.qps / f32_qps;
            let hit = hot as f64 / (hot + read).max(1) as f64;
            table[si].push((
                p,
                ratio,
                read as f64 / n,
                (s.bytes_read - before.bytes_read) as f64 / n,
                hit,
                b.memory_bytes(),
            ));
            assert!(b.memory_bytes() <= budget);
        }
        eprintln!("round {} of {rounds} done", round + 1);
    }
    let med = |f: &dyn Fn(&Pass) -> f64, v: &[Pass]| median(v.iter().map(f).collect());
    println!(
        "{:>14} {:>8} {:>9} {:>8} {:>8} {:>8} {:>9} {:>10} {:>10} {:>8} {:>9}",
        "budget",
        "recall",
        "QPS",
        "p50 us",
        "p95 us",
        "p99 us",
        "vs f32",
        "rows/q",
        "bytes/q",
        "hit",
        "memory MB"
    );
    if !base_passes.is_empty() {
        println!(
            "{:>14} {:>8.4} {:>9.0} {:>8.1} {:>8.1} {:>8.1} {:>9} {:>10} {:>10} {:>8} {:>9.1}",
            "f32, no budget",
            med(&|p| p.recall, &base_passes),
            med(&|p| p.qps, &base_passes),
            med(&|p| p.p50, &base_passes),
            med(&|p| p.p95, &base_passes),
            med(&|p| p.p99, &base_passes),
            "1",
            "-",
            "-",
            "-",
            full as f64 / 1e6
        );
    }
    let mut out = Vec::new();
    for (si, rows) in table.iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        let col = |f: &dyn Fn(&Row) -> f64| median(rows.iter().map(f).collect());
        let line = serde_json::json!({
            "share": if absolute.is_some() { None } else { Some(shares[si]) },
            "budget_bytes": budget_of(shares[si]),
            "recall": col(&|r| r.0.recall),
            "qps": col(&|r| r.0.qps),
            "p50_us": col(&|r| r.0.p50),
            "p95_us": col(&|r| r.0.p95),
            "p99_us": col(&|r| r.0.p99),
            "qps_ratio_to_f32": col(&|r| r.1),
            "rows_read_per_query": col(&|r| r.2),
            "bytes_read_per_query": col(&|r| r.3),
            "hot_hit_ratio": col(&|r| r.4),
            "memory_bytes": col(&|r| r.5 as f64),
        });
        println!(
            "{:>14} {:>8.4} {:>9.0} {:>8.1} {:>8.1} {:>8.1} {:>9.2} {:>10.1} {:>10.0} {:>8.3} {:>9.1}",
            match absolute {
                Some(_) => format!("{:.0} MB", shares[si] / 1e6),
                None => format!("{:.0}% of f32", shares[si] * 100.0),
            },
            line["recall"].as_f64().unwrap_or(0.0),
            line["qps"].as_f64().unwrap_or(0.0),
            line["p50_us"].as_f64().unwrap_or(0.0),
            line["p95_us"].as_f64().unwrap_or(0.0),
            line["p99_us"].as_f64().unwrap_or(0.0),
            line["qps_ratio_to_f32"].as_f64().unwrap_or(0.0),
            line["rows_read_per_query"].as_f64().unwrap_or(0.0),
            line["bytes_read_per_query"].as_f64().unwrap_or(0.0),
            line["hot_hit_ratio"].as_f64().unwrap_or(0.0),
            line["memory_bytes"].as_f64().unwrap_or(0.0) / 1e6,
        );
        out.push(line);
    }
    let _ = std::fs::remove_file(&rows_path);
    if let Some(path) = json {
        let doc = serde_json::json!({
            "n": base.rows,
            "dims": base.dims,
            "queries": queries.rows,
            "k": k, "m": m, "ef_construction": efc, "ef": ef, "rerank": rerank,
            "rounds": rounds,
            "f32_bytes": full,
            "q4_minimum_bytes": b.minimum_bytes(),
            "f32_build_seconds": f32_build,
            "q4_build_seconds": q4_build,
            "build_threads": build_threads.map(|t| t.get()),
            "f32": (!base_passes.is_empty()).then(|| serde_json::json!({
                "recall": med(&|p| p.recall, &base_passes),
                "qps": med(&|p| p.qps, &base_passes),
                "p95_us": med(&|p| p.p95, &base_passes),
            })),
            "budgets": out,
        });
        std::fs::write(&path, doc.to_string() + "\n").map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}
