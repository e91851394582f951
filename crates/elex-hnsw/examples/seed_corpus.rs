//! Writes small valid snapshots (every metric and storage, with tombstones, empty) into a folder:
//! the seed corpus of the `hnsw_from_bytes` fuzz target. Usage: `seed_corpus DIR`.

use elex_hnsw::{Hnsw, HnswParams, Metric, Storage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: seed_corpus DIR")?;
    std::fs::create_dir_all(&dir)?;
    let mut n = 0;
    for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
        for (storage, keep) in [
            (Storage::F32, false),
            (Storage::F16, false),
            (Storage::I8, false),
            (Storage::I8, true),
        ] {
            for size in [0usize, 1, 5, 40] {
                let mut p = HnswParams::new(4, metric).with_m(2);
                p.storage = storage;
                p.keep_f32 = keep;
                p.ef_construction = 8;
                let mut idx = Hnsw::new(p)?;
                for i in 0..size {
                    let v = [
                        (i % 7) as f32 + 0.5,
                        (i % 3) as f32,
                        (i * 13 % 5) as f32,
                        1.0,
                    ];
                    idx.insert(i as u64, &v)?;
                }
                if size > 3 {
                    idx.delete(2)?;
                }
                std::fs::write(format!("{dir}/seed-{n:03}"), idx.to_bytes())?;
                n += 1;
            }
        }
    }
    println!("wrote {n} seeds to {dir}");
    Ok(())
}
