//! A query allocates nothing after warm-up: a counting global allocator watches
//! `search_into` with a reused scratch and output buffer.
#![cfg(not(target_arch = "wasm32"))]
// The counting allocator is test scaffolding; the library itself forbids unsafe code.
#![allow(unsafe_code)]

mod common;
use common::*;
use elex_hnsw::{Filter, Hnsw, HnswParams, Metric, Storage};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn queries_allocate_nothing_after_warm_up() {
    for (storage, keep) in [
        (Storage::F32, false),
        (Storage::F16, false),
        (Storage::I8, true),
        (Storage::Q4, true),
    ] {
        let dims = 32;
        let mut p = HnswParams::new(dims, Metric::Cosine);
        p.storage = storage;
        p.keep_f32 = keep;
        let mut idx = Hnsw::new(p).unwrap();
        let data = clustered(3, 2000, dims, 10, 0.4);
        let ids: Vec<u64> = (0..2000).collect();
        idx.insert_batch(&ids, &data, |_, _| {}).unwrap();
        let queries = clustered(4, 50, dims, 10, 0.4);
        let allow: Vec<u64> = (0..2000).filter(|i| i % 10 == 0).collect();
        let pred = |id: u64| id.is_multiple_of(7);
        let (mut s, mut out) = (idx.scratch(), Vec::with_capacity(10));
        let filters = [
            Filter::None,
            Filter::Allow(&allow),
            Filter::Predicate(&pred),
        ];
        for q in queries.chunks_exact(dims) {
            for f in filters {
                idx.search_into(q, 10, 64, f, &mut s, &mut out).unwrap();
            }
        }
        let before = ALLOCS.load(Ordering::Relaxed);
        for q in queries.chunks_exact(dims) {
            for f in filters {
                idx.search_into(q, 10, 64, f, &mut s, &mut out).unwrap();
                assert_eq!(out.len(), 10);
            }
        }
        let during = ALLOCS.load(Ordering::Relaxed) - before;
        assert_eq!(
            during, 0,
            "{storage:?}: {during} allocations in 150 warmed-up queries"
        );
    }
}
