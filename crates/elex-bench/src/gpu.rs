//! `elex-bench gpu-knn`: exact batched kNN on the GPU beside elex's CPU brute force on all cores,
//! same data, same run; reports both times, their ratio, and the agreement of the ids. Without a
//! GPU adapter it says so and runs the CPU path alone.

use std::time::Instant;

use elex_gpu::{Gpu, GpuKnn, GpuStorage, Metric, cpu, prepare};

use crate::args::Args;
use crate::vecs::read_fvecs;

pub fn run(a: &mut Args) -> Result<(), String> {
    let base_path = a.path("--base")?;
    let query_path = a.path("--query")?;
    let k: usize = a.num("--k", 10)?;
    let limit: Option<usize> = a.opt_num("--limit")?;
    let nq: Option<usize> = a.opt_num("--queries")?;
    let threads: usize = a.num(
        "--threads",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    )?;
    let storage = match a.text("--storage", "f32").as_str() {
        "f32" => GpuStorage::F32,
        "f16" => GpuStorage::F16,
        s => return Err(format!("--storage {s}: f32 or f16")),
    };
    let metric = match a.text("--metric", "cosine").as_str() {
        "cosine" => Metric::Cosine,
        "dot" => Metric::Dot,
        "l2" => Metric::L2,
        s => return Err(format!("--metric {s}: cosine, dot or l2")),
    };
    let json = a.opt_text("--json");
    a.finish()?;
    let base = read_fvecs(&base_path, limit)?;
    let queries = read_fvecs(&query_path, nq)?;
    if base.dims != queries.dims {
        return Err(format!(
            "queries have {} dimensions, base has {}",
            queries.dims, base.dims
        ));
    }
    println!(
        "exact {k}-NN: {} queries x {} base x {} dims, {metric:?}, {storage:?}",
        queries.rows, base.rows, base.dims
    );
    let gpu = match Gpu::new_blocking() {
        Ok(g) => Some(g),
        Err(e) => {
            println!("GPU: not available ({e}); running the CPU brute force only");
            None
        }
    };
    // Both paths search the data as the GPU holds it (normalized, f16-rounded).
    let b = prepare(&base.data, base.dims, metric, storage).map_err(|e| e.to_string())?;
    let q =
        prepare(&queries.data, base.dims, metric, GpuStorage::F32).map_err(|e| e.to_string())?;
    let mut gpu_s = None;
    let mut gpu_hits = None;
    let mut agreement = None;
    let mut adapter = String::from("none");
    if let Some(gpu) = &gpu {
        adapter = gpu.adapter().to_string();
        let knn = GpuKnn::upload(gpu, &base.data, base.dims, metric, storage)
            .map_err(|e| e.to_string())?;
        // One warm-up batch compiles and uploads everything; then the timed run.
        knn.search_blocking(&queries.data[..base.dims], k)
            .map_err(|e| e.to_string())?;
        let t = Instant::now();
        gpu_hits = Some(
            knn.search_blocking(&queries.data, k)
                .map_err(|e| e.to_string())?,
        );
        gpu_s = Some(t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let cpu_hits = cpu::exact_knn(&b, &q, base.dims, k, metric, threads);
    let cpu_s = t.elapsed().as_secs_f64();
    if let Some(g) = &gpu_hits {
        let same: usize = g
            .iter()
            .zip(&cpu_hits)
            .map(|(a, b)| a.iter().filter(|h| b.iter().any(|c| c.id == h.id)).count())
            .sum();
        agreement = Some(same as f64 / (cpu_hits.len() * k) as f64);
    }
    println!("CPU brute force ({threads} threads): {cpu_s:.3} s");
    if let (Some(gs), Some(ag)) = (gpu_s, agreement) {
        println!(
            "GPU ({adapter}): {gs:.3} s  ->  {:.2}x the CPU; ids agree {:.4}",
            cpu_s / gs,
            ag
        );
    }
    if let Some(path) = json {
        let doc = serde_json::json!({
            "queries": queries.rows,
            "base": base.rows,
            "dims": base.dims,
            "k": k,
            "metric": format!("{metric:?}"),
            "storage": format!("{storage:?}"),
            "adapter": adapter,
            "cpu_threads": threads,
            "cpu_seconds": cpu_s,
            "gpu_seconds": gpu_s,
            "gpu_over_cpu": gpu_s.map(|g| cpu_s / g),
            "id_agreement": agreement,
        })
        .to_string()
            + "\n";
        std::fs::write(&path, doc).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}
