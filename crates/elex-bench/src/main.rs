//! `elex-bench`: the native bench binary.
//!
//! ```text
//! elex-bench hnsw --base B.fvecs --query Q.fvecs --gt G.ivecs [--k 10] [--m 16]
//!     [--ef-construction 200] [--ef 10,20,40,80,160,320] [--storage f32|f16|i8|q4]
//!     [--metric cosine|dot|l2] [--keep-f32] [--walk auto|f32|i8] [--seed 42] [--limit N]
//!     [--queries N] [--json OUT]
//!     [--target-recall 0.9,0.95,0.99 [--calibration-samples 200]] (ef from a calibration)
//!     [--isa scalar|sse2|avx2|avx512|neon] (default: the best this CPU has)
//!     [--build-threads N] (the parallel build; default: sequential, seeded)
//! elex-bench budget --base B.fvecs --query Q.fvecs --gt G.ivecs [--shares 1,0.5,0.25]
//!     [--ef 64] [--rerank 20] [--precision f32|f16] [--rounds 3] [--queries N] [--json OUT]
//!     [--export BUNDLE] (the bundle `BudgetedIndex.importBundle` reads) [--budget-bytes B,..]
//!     [--build-threads N]
//! elex-bench gen-clustered --out DIR [--n 1000000] [--dims 384] [--queries 1000] [--clusters 2000]
//! elex-bench cache --trace T.trace (--capacity-objects N | --budget-bytes B)
//!     [--policy tinylfu,s3fifo,lru] [--json OUT]
//! elex-bench gpu-knn --base B.fvecs --query Q.fvecs [--k 10] [--metric cosine|dot|l2]
//!     [--storage f32|f16] [--limit N] [--queries N] [--threads N] [--json OUT]
//! ```

mod args;
mod budget;
mod cache;
#[cfg(feature = "gpu")]
mod gpu;
mod hnsw;
mod synth;
mod vecs;

const USAGE: &str = "usage:
  elex-bench hnsw --base B.fvecs --query Q.fvecs --gt G.ivecs [--k 10] [--m 16]
      [--ef-construction 200] [--ef 10,20,40,80,160,320] [--storage f32|f16|i8|q4]
      [--metric cosine|dot|l2] [--keep-f32] [--walk auto|f32|i8] [--seed 42] [--limit N]
      [--queries N] [--json OUT]
      [--target-recall 0.9,0.95,0.99 [--calibration-samples 200]] (ef from a calibration)
      [--isa scalar|sse2|avx2|avx512|neon] (default: the best this CPU has)
      [--build-threads N] (the parallel build; default: sequential, seeded)
  elex-bench budget --base B.fvecs --query Q.fvecs --gt G.ivecs [--shares 1,0.5,0.25]
      [--ef 64] [--rerank 20] [--precision f32|f16] [--rounds 3] [--queries N] [--json OUT]
      [--export BUNDLE] (the bundle BudgetedIndex.importBundle reads) [--budget-bytes B,..]
      [--build-threads N]
  elex-bench gen-clustered --out DIR [--n 1000000] [--dims 384] [--queries 1000] [--clusters 2000]
  elex-bench cache --trace T.trace (--capacity-objects N | --budget-bytes B)
      [--policy tinylfu,s3fifo,lru] [--json OUT]
  elex-bench gpu-knn --base B.fvecs --query Q.fvecs [--k 10] [--metric cosine|dot|l2]
      [--storage f32|f16] [--limit N] [--queries N] [--threads N] [--json OUT]";

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let result = match raw.first().map(String::as_str) {
        Some("hnsw") => {
            args::Args::parse(&raw[1..], &["--keep-f32"]).and_then(|mut a| hnsw::run(&mut a))
        }
        #[cfg(feature = "gpu")]
        Some("gpu-knn") => args::Args::parse(&raw[1..], &[]).and_then(|mut a| gpu::run(&mut a)),
        #[cfg(not(feature = "gpu"))]
        Some("gpu-knn") => Err("this elex-bench was built without the `gpu` feature".into()),
        Some("cache") => args::Args::parse(&raw[1..], &[]).and_then(|mut a| cache::run(&mut a)),
        Some("gen-clustered") => {
            args::Args::parse(&raw[1..], &[]).and_then(|mut a| synth::run(&mut a))
        }
        Some("budget") => args::Args::parse(&raw[1..], &[]).and_then(|mut a| budget::run(&mut a)),
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command {other}\n{USAGE}")),
    };
    if let Err(e) = result {
        eprintln!("elex-bench: {e}");
        std::process::exit(2);
    }
}
