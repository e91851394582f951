//! `elex-bench hnsw`: builds an index over a base set, then for each ef runs every query one at
//! a time on one thread and reports recall@k against the ground truth, QPS, latency percentiles
//! and mean distance evaluations per query.

use crate::args::Args;
use crate::vecs::{read_fvecs, read_ivecs};
use elex_hnsw::{Filter, Hnsw, HnswParams, Metric, Storage};
use std::time::Instant;

pub struct Run {
    pub target: Option<f64>,
    pub ef: usize,
    pub recall: f64,
    pub qps: f64,
    pub p50_us: f64,
    pub p95_us: f64,
    pub p99_us: f64,
    pub dist_evals: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn run(a: &mut Args) -> Result<(), String> {
    let base_path = a.path("--base")?;
    let query_path = a.path("--query")?;
    let gt_path = a.path("--gt")?;
    let k: usize = a.num("--k", 10)?;
    let m: usize = a.num("--m", 16)?;
    let efc: usize = a.num("--ef-construction", 200)?;
    let efs = a.list("--ef", &[10, 20, 40, 80, 160, 320])?;
    let targets: Vec<f64> = match a.opt_text("--target-recall") {
        None => Vec::new(),
        Some(v) => v
            .split(',')
            .map(|x| {
                x.trim()
                    .parse()
                    .map_err(|_| format!("--target-recall: bad list {v}"))
            })
            .collect::<Result<_, _>>()?,
    };
    let samples: usize = a.num("--calibration-samples", elex_hnsw::DEFAULT_SAMPLES)?;
    let seed: u64 = a.num("--seed", 42)?;
    let limit: Option<usize> = a.opt_num("--limit")?;
    let nq_limit: Option<usize> = a.opt_num("--queries")?;
    let keep_f32 = a.flag("--keep-f32");
    let walk = a.opt_text("--walk");
    // --build-threads N: the parallel build (rounds planned on N threads); without it the
    // sequential, seeded insert_batch.
    let build_threads: Option<usize> = a.opt_num("--build-threads")?;
    let storage = match a.text("--storage", "f32").as_str() {
        "f32" => Storage::F32,
        "f16" => Storage::F16,
        "i8" => Storage::I8,
        "q4" => Storage::Q4,
        s => return Err(format!("--storage must be f32, f16, i8 or q4, not {s}")),
    };
    let metric = match a.text("--metric", "cosine").as_str() {
        "cosine" => Metric::Cosine,
        "dot" | "ip" => Metric::Dot,
        "l2" => Metric::L2,
        s => return Err(format!("--metric must be cosine, dot or l2, not {s}")),
    };
    let kernels = match a.opt_text("--isa") {
        None => elex_simd::Kernels::detect(),
        Some(name) => elex_simd::Isa::from_name(&name)
            .and_then(|isa| elex_simd::Kernels::force(isa).ok())
            .ok_or(format!("--isa {name}: unknown or not on this CPU"))?,
    };
    let json = a.opt_text("--json");
    a.finish()?;

    let base = read_fvecs(&base_path, limit)?;
    let queries = read_fvecs(&query_path, nq_limit)?;
    let gt = read_ivecs(&gt_path, nq_limit)?;
    if queries.dims != base.dims {
        return Err(format!(
            "queries have {} dimensions, base has {}",
            queries.dims, base.dims
        ));
    }
    if gt.rows < queries.rows || gt.dims < k {
        return Err(format!(
            "ground truth has {} rows of {}, need {} rows of at least k = {k}",
            gt.rows, gt.dims, queries.rows
        ));
    }
    // With --limit the provided ground truth (over the whole base) no longer applies: compute it.
    let truth: Vec<Vec<u64>> = if limit.is_some() {
        eprintln!(
            "computing exact ground truth over the first {} base vectors...",
            base.rows
        );
        exact_truth(&base.data, base.dims, &queries.data, metric, k)?
    } else {
        (0..queries.rows)
            .map(|q| gt.row(q)[..k].iter().map(|&i| i as u64).collect())
            .collect()
    };

    let mut p = HnswParams::new(base.dims, metric).with_m(m);
    p.ef_construction = efc;
    p.storage = storage;
    p.seed = seed;
    p.keep_f32 = keep_f32;
    let mut idx = Hnsw::with_kernels(p, kernels).map_err(|e| e.to_string())?;
    let ids: Vec<u64> = (0..base.rows as u64).collect();
    println!(
        "elex-hnsw: {} base x {} dims, {} queries, k={k}, M={m}, efC={efc}, {metric:?}, {storage:?}{}, isa={}",
        base.rows,
        base.dims,
        queries.rows,
        if keep_f32 { " + f32 rerank" } else { "" },
        idx.isa().name()
    );
    let t = Instant::now();
    let mut last = 0;
    let mut report = |done: usize, total: usize| {
        if done * 10 / total != last {
            last = done * 10 / total;
            eprint!("\rbuilding: {}%", last * 10);
        }
    };
    match build_threads {
        None => idx.insert_batch(&ids, &base.data, report),
        Some(t) => {
            let t = std::num::NonZeroUsize::new(t).ok_or("--build-threads must be at least 1")?;
            idx.insert_batch_parallel(&ids, &base.data, t, &mut report)
        }
    }
    .map_err(|e| e.to_string())?;
    let build_seconds = t.elapsed().as_secs_f64();
    eprintln!();
    match walk.as_deref() {
        None | Some("auto") => {}
        Some("f32") => idx.set_walk_on_i8(false),
        Some("i8") => idx.set_walk_on_i8(true),
        Some(w) => return Err(format!("--walk must be auto, f32 or i8, not {w}")),
    }
    let bpv = idx.bytes_per_vector();
    println!(
        "build {build_seconds:.2} s, {bpv:.0} bytes per vector, memory {:.1} MB",
        idx.memory_bytes() as f64 / 1e6
    );
    // With --target-recall: calibrate, then run the ef each target gets instead of --ef.
    let mut calibration = None;
    let plan: Vec<(Option<f64>, usize)> = if targets.is_empty() {
        efs.iter().map(|&ef| (None, ef)).collect()
    } else {
        let t = Instant::now();
        let c = idx.calibrate(samples, k).map_err(|e| e.to_string())?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "calibration: {} samples, {secs:.2} s, {} distance evaluations ({:.2} per vector per sample)",
            c.samples(),
            c.distance_evals(),
            c.distance_evals() as f64 / (c.samples().max(1) * idx.len()) as f64
        );
        let plan = targets.iter().map(|&t| (Some(t), c.ef_for(t, k))).collect();
        calibration = Some((c, secs));
        plan
    };
    println!(
        "{:>6} {:>6} {:>8} {:>10} {:>8} {:>8} {:>8} {:>10}",
        "target", "ef", "recall", "QPS", "p50 us", "p95 us", "p99 us", "dist/q"
    );

    let (mut s, mut out) = (idx.scratch(), Vec::with_capacity(k));
    let mut runs = Vec::new();
    for &(target, ef) in &plan {
        let ef = ef.max(k);
        // Warm-up: one pass over a few queries so the scratch is sized.
        for q in 0..queries.rows.min(10) {
            idx.search_into(queries.row(q), k, ef, Filter::None, &mut s, &mut out)
                .map_err(|e| e.to_string())?;
        }
        s.take_distance_evals();
        let mut lat = Vec::with_capacity(queries.rows);
        let mut hits = 0usize;
        let t = Instant::now();
        for (q, want) in truth.iter().enumerate() {
            let t0 = Instant::now();
            idx.search_into(queries.row(q), k, ef, Filter::None, &mut s, &mut out)
                .map_err(|e| e.to_string())?;
            lat.push(t0.elapsed().as_secs_f64() * 1e6);
            hits += out.iter().filter(|h| want.contains(&h.id)).count();
        }
        let total = t.elapsed().as_secs_f64();
        lat.sort_by(f64::total_cmp);
        let run = Run {
            target,
            ef,
            recall: hits as f64 / (queries.rows * k) as f64,
            qps: queries.rows as f64 / total,
            p50_us: percentile(&lat, 0.50),
            p95_us: percentile(&lat, 0.95),
            p99_us: percentile(&lat, 0.99),
            dist_evals: s.take_distance_evals() as f64 / queries.rows as f64,
        };
        println!(
            "{:>6} {:>6} {:>8.4} {:>10.0} {:>8.1} {:>8.1} {:>8.1} {:>10.0}",
            target.map_or("-".into(), |t| t.to_string()),
            run.ef,
            run.recall,
            run.qps,
            run.p50_us,
            run.p95_us,
            run.p99_us,
            run.dist_evals
        );
        runs.push(run);
    }
    if let Some(path) = json {
        let items: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "target_recall": r.target,
                    "ef": r.ef,
                    "recall": r.recall,
                    "qps": r.qps,
                    "p50_us": r.p50_us,
                    "p95_us": r.p95_us,
                    "p99_us": r.p99_us,
                    "dist_evals": r.dist_evals,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "engine": "elex",
            "storage": format!("{storage:?}").to_lowercase(),
            "metric": format!("{metric:?}").to_lowercase(),
            "isa": idx.isa().name(),
            "walk": if idx.walks_on_i8() { "i8" } else { "stored" },
            "n": base.rows,
            "dims": base.dims,
            "queries": queries.rows,
            "k": k,
            "m": m,
            "ef_construction": efc,
            "keep_f32": keep_f32,
            "build_seconds": build_seconds,
            "build_threads": build_threads,
            "bytes_per_vector": bpv,
            "runs": items,
            "calibration": calibration.as_ref().map(|(c, secs)| serde_json::json!({
                "samples": c.samples(),
                "k": c.k(),
                "seconds": secs,
                "distance_evals": c.distance_evals(),
                "points": c.points(),
            })),
        })
        .to_string()
            + "\n";
        std::fs::write(&path, doc).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}

/// Exact top-k by brute force, on an f32 index's oracle.
fn exact_truth(
    base: &[f32],
    dims: usize,
    queries: &[f32],
    metric: Metric,
    k: usize,
) -> Result<Vec<Vec<u64>>, String> {
    // Only the stored vectors and the oracle are needed: a tiny graph keeps the build fast.
    let mut p = HnswParams::new(dims, metric).with_m(2);
    p.ef_construction = 1;
    let mut idx = Hnsw::new(p).map_err(|e| e.to_string())?;
    let ids: Vec<u64> = (0..(base.len() / dims) as u64).collect();
    idx.insert_batch(&ids, base, |_, _| {})
        .map_err(|e| e.to_string())?;
    queries
        .chunks_exact(dims)
        .map(|q| {
            idx.exact_search(q, k, Filter::None)
                .map(|h| h.iter().map(|x| x.id).collect())
                .map_err(|e| e.to_string())
        })
        .collect()
}
