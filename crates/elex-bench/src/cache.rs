//! `elex-bench cache`: replays a trace of (u64 key, u32 size) records through elex's cache and
//! prints object and byte miss ratios per policy.
//!
//! A request is a lookup; a miss inserts the object (unit weight under `--capacity-objects`, its
//! size under `--budget-bytes`). An object larger than the whole budget is a miss and is not
//! inserted. Victims are dropped (the trace has no second tier); the miss ratios are those of
//! the memory tier alone.

use std::time::Instant;

use elex_cache::{Cache, CacheConfig, CacheError, Lookup, Policy, Weigher};

use crate::args::Args;

/// Weighs by the recorded size, or 1 per object.
struct TraceWeigher {
    unit: bool,
}

impl Weigher<u64, u32> for TraceWeigher {
    fn weigh(&self, _key: &u64, size: &u32) -> u64 {
        if self.unit {
            1
        } else {
            u64::from(*size).max(1)
        }
    }
}

pub struct Outcome {
    pub policy: Policy,
    pub requests: u64,
    pub object_misses: u64,
    pub byte_misses: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// Reads a trace file: 12-byte little-endian records.
pub fn read_trace(path: &str) -> Result<Vec<(u64, u32)>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    if bytes.len() % 12 != 0 {
        return Err(format!(
            "{path}: {} bytes is not a whole number of 12-byte (u64 key, u32 size) records",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(12)
        .map(|r| {
            let mut k = [0u8; 8];
            let mut s = [0u8; 4];
            k.copy_from_slice(&r[..8]);
            s.copy_from_slice(&r[8..]);
            (u64::from_le_bytes(k), u32::from_le_bytes(s))
        })
        .collect())
}

pub fn replay(
    trace: &[(u64, u32)],
    policy: Policy,
    budget: u64,
    unit: bool,
) -> Result<Outcome, String> {
    let config = CacheConfig {
        policy,
        allow_drop: true,
        ..CacheConfig::with_budget(budget)
    };
    let mut cache = Cache::new(config, TraceWeigher { unit }).map_err(|e| e.to_string())?;
    let (mut object_misses, mut byte_misses, mut bytes) = (0u64, 0u64, 0u64);
    let t = Instant::now();
    for &(key, size) in trace {
        bytes += u64::from(size);
        let hit = match cache.get(&key) {
            Lookup::Hit(&s) => s == size,
            _ => false,
        };
        if hit {
            continue;
        }
        object_misses += 1;
        byte_misses += u64::from(size);
        match cache.put(key, size) {
            Ok(()) | Err(CacheError::EntryTooLarge { .. }) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(Outcome {
        policy,
        requests: trace.len() as u64,
        object_misses,
        byte_misses,
        bytes,
        seconds: t.elapsed().as_secs_f64(),
    })
}

pub fn run(a: &mut Args) -> Result<(), String> {
    let trace_path = a.path("--trace")?.display().to_string();
    let objects: Option<u64> = a.opt_num("--capacity-objects")?;
    let budget_bytes: Option<u64> = a.opt_num("--budget-bytes")?;
    let policies = a.text("--policy", "tinylfu");
    let json = a.opt_text("--json");
    a.finish()?;
    let (budget, unit) = match (objects, budget_bytes) {
        (Some(n), None) => (n, true),
        (None, Some(b)) => (b, false),
        _ => return Err("give exactly one of --capacity-objects N and --budget-bytes B".into()),
    };
    if budget == 0 {
        return Err("the capacity must be at least 1".into());
    }
    let policies: Vec<Policy> = policies
        .split(',')
        .map(|p| {
            Policy::parse(p.trim()).ok_or(format!("unknown policy {p} (tinylfu, s3fifo, lru)"))
        })
        .collect::<Result<_, _>>()?;
    let trace = read_trace(&trace_path)?;
    if trace.is_empty() {
        return Err(format!("{trace_path}: the trace is empty"));
    }
    println!(
        "trace {trace_path}: {} requests, {} {budget}",
        trace.len(),
        if unit {
            "capacity (objects)"
        } else {
            "budget (bytes)"
        }
    );
    println!(
        "{:>8} {:>12} {:>12} {:>10}",
        "policy", "object miss", "byte miss", "Mreq/s"
    );
    let mut outs = Vec::new();
    for p in policies {
        let o = replay(&trace, p, budget, unit)?;
        println!(
            "{:>8} {:>12.5} {:>12.5} {:>10.2}",
            p.name(),
            o.object_misses as f64 / o.requests as f64,
            o.byte_misses as f64 / o.bytes.max(1) as f64,
            o.requests as f64 / o.seconds / 1e6
        );
        outs.push(o);
    }
    if let Some(path) = json {
        let run = |o: &Outcome| {
            serde_json::json!({
                "policy": o.policy.name(),
                "object_miss_ratio": o.object_misses as f64 / o.requests as f64,
                "byte_miss_ratio": o.byte_misses as f64 / o.bytes.max(1) as f64,
                "requests": o.requests,
                "seconds": o.seconds,
            })
        };
        let first = &outs[0];
        let doc = serde_json::json!({
            "engine": "elex",
            "trace": trace_path,
            "capacity_objects": if unit { Some(budget) } else { None },
            "budget_bytes": if unit { None } else { Some(budget) },
            "policy": first.policy.name(),
            "object_miss_ratio": first.object_misses as f64 / first.requests as f64,
            "byte_miss_ratio": first.byte_misses as f64 / first.bytes.max(1) as f64,
            "runs": outs.iter().map(run).collect::<Vec<_>>(),
        })
        .to_string()
            + "\n";
        std::fs::write(&path, doc).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}
