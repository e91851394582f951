//! The budgeted index: codes and links resident, exact rows in a tier. It answers exactly what
//! an index keeping f32 copies answers, whatever the hot set holds; it never holds more than
//! its budget; a batch is all or nothing across the index and the row store.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;
use common::*;
use elex_hnsw::{
    BudgetedHnsw, BudgetedOp, Filter, Hit, Hnsw, HnswError, HnswParams, MemoryRows, Metric, Replay,
    RowPrecision, RowStore, Storage,
};
use std::cell::Cell;
use std::rc::Rc;

const DIMS: usize = 40;

fn params(metric: Metric, keep: bool) -> HnswParams {
    let mut p = HnswParams::new(DIMS, metric).with_m(8);
    p.storage = Storage::Q4;
    p.keep_f32 = keep;
    p.ef_construction = 64;
    p.seed = 9;
    p
}

fn budgeted(metric: Metric, budget: u64, n: usize) -> BudgetedHnsw<MemoryRows> {
    let mut b = BudgetedHnsw::new(
        params(metric, false),
        RowPrecision::F32,
        budget,
        MemoryRows::new(DIMS * 4),
    )
    .unwrap();
    let data = clustered(3, n, DIMS, 12, 0.4);
    let ids: Vec<u64> = (0..n as u64).map(|i| i * 2 + 1).collect();
    for (c, i) in data.chunks(DIMS * 250).zip(ids.chunks(250)) {
        b.insert_batch(i, c).unwrap();
        assert!(b.memory_bytes() <= b.budget());
    }
    b
}

fn bits(h: &[Hit]) -> Vec<(u64, u32)> {
    h.iter().map(|h| (h.id, h.distance.to_bits())).collect()
}

#[test]
fn answers_what_an_index_with_f32_copies_answers_whatever_the_hot_set_holds() {
    let n = 1500;
    for metric in [Metric::Cosine, Metric::L2, Metric::Dot] {
        let mut reference = Hnsw::new(params(metric, true)).unwrap();
        let data = clustered(3, n, DIMS, 12, 0.4);
        let ids: Vec<u64> = (0..n as u64).map(|i| i * 2 + 1).collect();
        for (c, i) in data.chunks(DIMS * 250).zip(ids.chunks(250)) {
            reference.insert_batch(i, c, |_, _| {}).unwrap();
        }
        // A roomy budget (every row can be hot) and one with room for about 30 rows.
        let roomy = budgeted(metric, 1 << 30, n);
        let min = roomy.minimum_bytes();
        let tight_budget = min + 30 * (DIMS as u64 * 4 + elex_hnsw::HOT_ENTRY_OVERHEAD);
        let mut tight = budgeted(metric, tight_budget, n);
        let mut roomy = roomy;
        let queries = clustered(4, 60, DIMS, 12, 0.4);
        let allow: Vec<u64> = ids.iter().copied().filter(|i| i % 3 == 0).collect();
        for (qi, q) in queries.chunks(DIMS).enumerate() {
            let ef = 40;
            let filter = if qi % 2 == 0 {
                Filter::None
            } else {
                Filter::Allow(&allow)
            };
            let want = reference.search_filtered(q, 10, ef, filter).unwrap();
            for b in [&mut roomy, &mut tight] {
                b.set_rerank(ef).unwrap();
                let got = b.search(q, 10, ef, filter).unwrap();
                assert_eq!(bits(&got), bits(&want), "{metric:?} query {qi}");
                assert!(b.memory_bytes() <= b.budget());
            }
        }
        // Each search re-ranked `ef` rows; the tight hot set served some and read the rest.
        for b in [&roomy, &tight] {
            let s = b.stats();
            assert_eq!(s.queries, 60);
            assert_eq!(s.hot_hits + s.rows_read, 60 * 40);
            assert_eq!(s.bytes_read, s.rows_read * DIMS as u64 * 4);
        }
        assert!(roomy.stats().hit_ratio() > tight.stats().hit_ratio());
        assert!(tight.memory_bytes() - tight.minimum_bytes() <= tight_budget - min);
    }
}

#[test]
fn a_budget_too_small_for_codes_and_links_is_a_typed_error_naming_the_minimum() {
    let b = budgeted(Metric::Cosine, 1 << 30, 1000);
    let min = b.minimum_bytes();
    let snapshot = b.index().to_bytes();
    // Reopening under too small a budget (a loaded index holds its arrays at their exact size).
    let index = Hnsw::from_bytes(&snapshot).unwrap();
    let loaded = index.memory_bytes() as u64;
    assert!(loaded <= min);
    let e = BudgetedHnsw::from_index(index, RowPrecision::F32, loaded - 1, MemoryRows::new(160));
    assert!(matches!(e, Err(HnswError::BudgetTooSmall { minimum, .. }) if minimum == loaded));
    let index = Hnsw::from_bytes(&snapshot).unwrap();
    assert!(
        BudgetedHnsw::from_index(index, RowPrecision::F32, loaded, MemoryRows::new(160)).is_ok()
    );

    // A batch that would overflow: refused whole, index and rows as before, and the minimum it
    // names is enough for the same batch.
    let mut b = budgeted(Metric::Cosine, min + 1000, 1000);
    assert_eq!(b.minimum_bytes(), min);
    let before = b.index().to_bytes();
    let more = clustered(5, 400, DIMS, 12, 0.4);
    let ids: Vec<u64> = (5000..5400).collect();
    let need = match b.insert_batch(&ids, &more) {
        Err(HnswError::BudgetTooSmall { budget, minimum }) => {
            assert_eq!(budget, min + 1000);
            minimum
        }
        other => panic!("expected BudgetTooSmall, got {other:?}"),
    };
    assert_eq!(b.index().to_bytes(), before);
    assert!(b.memory_bytes() <= b.budget());
    assert_eq!(b.len(), 1000);
    assert_eq!(b.rows().rows(), 1000, "the refused batch's rows are gone");
    assert!(matches!(
        b.set_budget(b.minimum_bytes() - 1),
        Err(HnswError::BudgetTooSmall { .. })
    ));
    b.set_budget(need).unwrap();
    b.insert_batch(&ids, &more).unwrap();
    assert_eq!(b.len(), 1400);
    assert!(b.memory_bytes() <= need);
}

/// A store that fails on demand.
struct Flaky {
    inner: MemoryRows,
    fail_append: Rc<Cell<bool>>,
    fail_read: Rc<Cell<bool>>,
}
impl RowStore for Flaky {
    fn append(&mut self, first: u32, rows: &[u8]) -> Result<(), String> {
        if self.fail_append.get() {
            return Err("disk full".into());
        }
        self.inner.append(first, rows)
    }
    fn read(&mut self, slots: &[u32], out: &mut Vec<u8>) -> Result<(), String> {
        if self.fail_read.get() {
            return Err("read failed".into());
        }
        self.inner.read(slots, out)
    }
    fn truncate(&mut self, slots: u32) -> Result<(), String> {
        self.inner.truncate(slots)
    }
}

#[test]
fn bad_batches_and_failing_stores_change_nothing() {
    let (fail_append, fail_read) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
    let store = Flaky {
        inner: MemoryRows::new(DIMS * 2),
        fail_append: fail_append.clone(),
        fail_read: fail_read.clone(),
    };
    let mut b = BudgetedHnsw::new(
        params(Metric::Cosine, false),
        RowPrecision::F16,
        1 << 26,
        store,
    )
    .unwrap();
    let data = clustered(7, 300, DIMS, 6, 0.4);
    let ids: Vec<u64> = (0..300).collect();
    b.insert_batch(&ids, &data).unwrap();
    let before = b.index().to_bytes();
    // The core's validator: a NaN, a duplicate id, a short batch.
    let mut nan = clustered(8, 10, DIMS, 6, 0.4);
    nan[DIMS * 3 + 2] = f32::NAN;
    let fresh: Vec<u64> = (1000..1010).collect();
    assert!(matches!(
        b.insert_batch(&fresh, &nan),
        Err(HnswError::NonFinite { .. })
    ));
    let dup: Vec<u64> = (295..305).collect();
    let ok = clustered(9, 10, DIMS, 6, 0.4);
    assert!(matches!(
        b.insert_batch(&dup, &ok),
        Err(HnswError::DuplicateId(_))
    ));
    assert!(matches!(
        b.insert_batch(&fresh, &ok[1..]),
        Err(HnswError::BatchShape { .. })
    ));
    assert_eq!(b.index().to_bytes(), before);
    // The store refuses the rows: nothing goes in.
    fail_append.set(true);
    assert!(matches!(
        b.insert_batch(&fresh, &ok),
        Err(HnswError::RowStore(_))
    ));
    assert_eq!(b.index().to_bytes(), before);
    fail_append.set(false);
    // A failed read is an error, and the next search works.
    let q = &data[..DIMS];
    let want = b.search(q, 5, 64, Filter::None).unwrap();
    fail_read.set(true);
    // The hot set may hold every candidate by now: a fresh query reads cold rows.
    let far: Vec<f32> = (0..DIMS)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    assert!(matches!(
        b.search(&far, 5, 64, Filter::None),
        Err(HnswError::RowStore(_))
    ));
    fail_read.set(false);
    assert_eq!(
        bits(&b.search(q, 5, 64, Filter::None).unwrap()),
        bits(&want)
    );
    // f16 rows: the distances are those of the f16-rounded vectors.
    assert!(want.windows(2).all(|w| w[0].distance <= w[1].distance));
    assert!(want[0].distance < 0.01, "{want:?}");
    // Arguments: k and ef checked where they enter.
    assert!(matches!(
        b.search(q, 0, 64, Filter::None),
        Err(HnswError::ZeroK)
    ));
    assert!(matches!(
        b.search(q, 301, 400, Filter::None),
        Err(HnswError::KTooLarge { .. })
    ));
    assert!(matches!(
        b.search(q, 10, 5, Filter::None),
        Err(HnswError::EfTooSmall { .. })
    ));
    assert!(b.set_rerank(0).is_err());
    // A plan finished with the wrong rows is refused.
    let plan = b.plan(&far, 5, 64, Filter::None).unwrap();
    let extra = vec![0u8; plan.missing().len() * DIMS * 2 + 1];
    assert!(matches!(
        b.finish(plan, &extra),
        Err(HnswError::RowStore(_))
    ));
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn deleted_ids_are_never_returned_and_rows_come_from_a_file() {
    let dir = std::env::temp_dir().join(format!("elex-tiered-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rows.bin");
    let _ = std::fs::remove_file(&path);
    let rows = elex_hnsw::FileRows::open(&path, DIMS * 4).unwrap();
    let mut b =
        BudgetedHnsw::new(params(Metric::L2, false), RowPrecision::F32, 1 << 26, rows).unwrap();
    let data = clustered(11, 800, DIMS, 8, 0.4);
    let ids: Vec<u64> = (0..800).collect();
    b.insert_batch(&ids, &data).unwrap();
    assert_eq!(b.rows().rows().unwrap(), 800);
    for id in (0..800).step_by(3) {
        b.delete(id).unwrap();
    }
    assert!(matches!(b.delete(0), Err(HnswError::UnknownId(0))));
    let q = &data[31 * DIMS..32 * DIMS];
    let hits = b.search(q, 10, 64, Filter::None).unwrap();
    assert!(hits.iter().all(|h| h.id % 3 != 0));
    // The query is id 31's vector: found first, at distance 0 over its exact row.
    assert_eq!((hits[0].id, hits[0].distance), (31, 0.0));
    let deleted = &data[30 * DIMS..31 * DIMS];
    let near = b.search(deleted, 10, 64, Filter::None).unwrap();
    assert!(near.iter().all(|h| h.id % 3 != 0));
    // Reopen over the same file from the index's snapshot: the same answers.
    let snap = b.index().to_bytes();
    drop(b);
    let rows = elex_hnsw::FileRows::open(&path, DIMS * 4).unwrap();
    let mut again = BudgetedHnsw::from_index(
        Hnsw::from_bytes(&snap).unwrap(),
        RowPrecision::F32,
        1 << 26,
        rows,
    )
    .unwrap();
    assert_eq!(
        bits(&again.search(q, 10, 64, Filter::None).unwrap()),
        bits(&hits)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bundle_round_trips_in_any_chunking_and_damage_is_refused() {
    use elex_hnsw::{BUNDLE_HEADER_LEN, BundleReader};
    let mut b = budgeted(Metric::Cosine, 1 << 30, 700);
    b.delete(7).unwrap();
    let mut bytes = Vec::new();
    let n = b.export(&mut bytes).unwrap();
    assert_eq!(n, bytes.len() as u64);
    let queries = clustered(4, 20, DIMS, 12, 0.4);
    let want: Vec<_> = queries
        .chunks(DIMS)
        .map(|q| bits(&b.search(q, 10, 40, Filter::None).unwrap()))
        .collect();
    // Whole, through `import`.
    let mut again =
        BudgetedHnsw::import(&mut &bytes[..], 1 << 30, MemoryRows::new(DIMS * 4)).unwrap();
    assert_eq!(again.index().to_bytes(), b.index().to_bytes());
    assert_eq!(again.rows().rows(), 700);
    for (q, w) in queries.chunks(DIMS).zip(&want) {
        assert_eq!(&bits(&again.search(q, 10, 40, Filter::None).unwrap()), w);
    }
    // Any chunking gives the same rows, in order.
    let (mut whole_rows, mut whole_snap) = (Vec::new(), Vec::new());
    let mut r = BundleReader::new();
    r.feed(&bytes, &mut whole_snap, &mut whole_rows).unwrap();
    assert!(r.snapshot_complete());
    assert_eq!(whole_snap, b.index().to_bytes());
    assert_eq!(r.take_index().unwrap().to_bytes(), whole_snap);
    r.finish().unwrap();
    for size in [1usize, 7, 40, 4093] {
        let mut r = BundleReader::new();
        let (mut rows, mut snap) = (Vec::new(), Vec::new());
        for c in bytes.chunks(size) {
            r.feed(c, &mut snap, &mut rows).unwrap();
            assert_eq!(rows.len() % (DIMS * 4), 0, "whole rows only");
        }
        assert_eq!(rows, whole_rows);
        assert_eq!(snap, whole_snap);
        assert_eq!(r.take_index().unwrap().to_bytes(), whole_snap);
        r.finish().unwrap();
    }
    // Damage anywhere is refused: header, snapshot, rows, checksum; short; too long.
    for at in [
        3,
        20,
        BUNDLE_HEADER_LEN + 100,
        bytes.len() - 500,
        bytes.len() - 2,
    ] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x20;
        let r = BudgetedHnsw::import(&mut &bad[..], 1 << 30, MemoryRows::new(DIMS * 4));
        assert!(
            matches!(
                r,
                Err(HnswError::ChecksumMismatch { .. }
                    | HnswError::BadMagic
                    | HnswError::Corrupt(_))
            ),
            "damage at {at}: {:?}",
            r.err()
        );
    }
    let short = BudgetedHnsw::import(
        &mut &bytes[..bytes.len() - 3],
        1 << 30,
        MemoryRows::new(DIMS * 4),
    );
    assert!(matches!(short, Err(HnswError::Truncated { .. })));
    let mut long = bytes.clone();
    long.push(0);
    let extra = BudgetedHnsw::import(&mut &long[..], 1 << 30, MemoryRows::new(DIMS * 4));
    assert!(matches!(extra, Err(HnswError::Corrupt(_))));
    // A budget too small is refused (as soon as the snapshot is in).
    let small = BudgetedHnsw::import(&mut &bytes[..], 1000, MemoryRows::new(DIMS * 4));
    assert!(matches!(small, Err(HnswError::BudgetTooSmall { .. })));
}

/// Deletes, searches and batches never take the bytes held past the budget: after many deletes,
/// at a budget equal to the minimum, the index stays within it (the id map's allocation is
/// counted, not its capacity, which drops as removals leave markers and rises again as inserts
/// reuse them).
#[test]
fn at_the_minimum_budget_deletes_searches_and_batches_stay_within_it() {
    let mut b = budgeted(Metric::Cosine, 1 << 30, 1000);
    let q = clustered(12, 30, DIMS, 12, 0.4);
    for id in (1..2000u64).step_by(2).take(400) {
        b.delete(id).unwrap();
    }
    b.set_budget(b.minimum_bytes()).unwrap();
    let budget = b.budget();
    for i in 0..40u64 {
        let more = clustered(20 + i, 10, DIMS, 12, 0.4);
        let ids: Vec<u64> = (100_000 + i * 100..).take(10).collect();
        // In while the arrays' slack holds it, refused after.
        match b.insert_batch(&ids, &more) {
            Ok(()) | Err(HnswError::BudgetTooSmall { .. }) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(
            b.memory_bytes() <= budget,
            "after batch {i}: {} > {budget}",
            b.memory_bytes()
        );
        let qv = &q[(i as usize % 30) * DIMS..(i as usize % 30 + 1) * DIMS];
        b.search(qv, 5, 40, Filter::None).unwrap();
        assert!(b.memory_bytes() <= budget, "after a search");
    }
}

/// Random operations against the budget's invariant: batches (some too big), deletes, searches,
/// budget changes near the minimum and reopenings; `memory_bytes() <= budget()` after each.
#[test]
fn random_operations_keep_memory_within_the_budget() {
    for seed in 0..6u64 {
        let mut rng = Rng(seed * 31 + 5);
        let dims = 5;
        let mut p = HnswParams::new(dims, Metric::Cosine).with_m(4 + rng.below(6));
        p.storage = [Storage::Q4, Storage::I8, Storage::F32][rng.below(3)];
        p.ef_construction = 16;
        let precision = if rng.below(2) == 0 {
            RowPrecision::F32
        } else {
            RowPrecision::F16
        };
        let rows = MemoryRows::new(precision.row_bytes(dims));
        let mut b = BudgetedHnsw::new(p, precision, 1 << 20, rows).unwrap();
        let mut next_id = 0u64;
        let mut live: Vec<u64> = Vec::new();
        for step in 0..300 {
            match rng.below(10) {
                0..=2 => {
                    let n = 1 + rng.below(30);
                    let data = clustered(seed * 1000 + step, n, dims, 4, 0.4);
                    let ids: Vec<u64> = (next_id..next_id + n as u64).collect();
                    next_id += n as u64;
                    match b.insert_batch(&ids, &data) {
                        Ok(()) => live.extend(&ids),
                        Err(HnswError::BudgetTooSmall { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                3 | 4 if !live.is_empty() => {
                    let id = live.swap_remove(rng.below(live.len()));
                    b.delete(id).unwrap();
                }
                5 | 6 if !live.is_empty() => {
                    let q = clustered(seed * 1000 + 500 + step, 1, dims, 4, 0.4);
                    let k = 1 + rng.below(live.len().min(10));
                    b.search(&q, k, 16, Filter::None).unwrap();
                }
                7 => {
                    let min = b.minimum_bytes();
                    b.set_budget(min + rng.below(400) as u64).unwrap();
                }
                8 => {
                    let rows = b.rows().clone();
                    let index = Hnsw::from_bytes(&b.index().to_bytes()).unwrap();
                    let budget = b.budget();
                    b = BudgetedHnsw::from_index(index, precision, budget.max(1 << 16), rows)
                        .unwrap();
                    if rng.below(2) == 0 {
                        let min = b.minimum_bytes();
                        b.set_budget(min).unwrap();
                    }
                }
                _ => {}
            }
            assert!(
                b.memory_bytes() <= b.budget(),
                "seed {seed} step {step}: {} > {} (minimum {})",
                b.memory_bytes(),
                b.budget(),
                b.minimum_bytes()
            );
        }
    }
}

/// A search split around an asynchronous store never answers with an id deleted in between.
#[test]
fn an_id_deleted_between_plan_and_finish_is_not_an_answer() {
    let mut b = budgeted(Metric::Cosine, 1 << 30, 500);
    let q = clustered(3, 1, DIMS, 12, 0.4); // the first base vector: id 1 is its own nearest
    let plan = b.plan(&q, 5, 40, Filter::None).unwrap();
    let mut rows = Vec::new();
    MemoryRows::read(&mut b.rows().clone(), plan.missing(), &mut rows).unwrap();
    let want = bits(&b.search(&q, 5, 40, Filter::None).unwrap());
    assert_eq!(want[0].0, 1);
    b.delete(1).unwrap();
    let got = b.finish(plan, &rows).unwrap();
    assert!(got.iter().all(|h| h.id != 1));
    // The rest in the same order (the re-rank depth fills the fifth place).
    assert_eq!(bits(&got)[..4], want[1..]);
}

/// Replays `log` on `b` as the browser's open does: rows read back from the store.
fn replay_all(b: &mut BudgetedHnsw<MemoryRows>, log: &[BudgetedOp]) -> Result<usize, HnswError> {
    let mut applied = 0;
    for op in log {
        match b.replay(op)? {
            Replay::Skip => {}
            Replay::Rows { first, n } => {
                let BudgetedOp::Batch { ids, .. } = op else {
                    unreachable!()
                };
                let slots: Vec<u32> = (first..first + n).collect();
                let mut rows = Vec::new();
                b.rows_mut().read(&slots, &mut rows).unwrap();
                b.replay_batch(first, ids, &rows)?;
                applied += 1;
            }
            Replay::Delete(id) => {
                b.delete(id)?;
                applied += 1;
            }
        }
    }
    Ok(applied)
}

#[test]
fn a_logged_history_replays_onto_any_earlier_save_to_the_same_bytes() {
    // Under cosine too: a row is the normalized vector, taken as is on replay.
    for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
        replay_to_the_same_bytes(metric);
    }
}

fn replay_to_the_same_bytes(metric: Metric) {
    let n = 900;
    let data = clustered(5, n, DIMS, 8, 0.4);
    let rb = DIMS * 4;
    let mut a = BudgetedHnsw::new(
        params(metric, false),
        RowPrecision::F32,
        1 << 30,
        MemoryRows::new(rb),
    )
    .unwrap();
    let mut log = Vec::new();
    let mut saves = vec![a.index().to_bytes()];
    for (i, chunk) in data.chunks(DIMS * 300).enumerate() {
        let ids: Vec<u64> = (0..300).map(|j| (i * 300 + j) as u64 * 7).collect();
        let first = a.index().len_slots() as u32;
        a.insert_batch(&ids, chunk).unwrap();
        log.push(BudgetedOp::Batch { first, ids });
        for id in [i as u64 * 2100 + 7, i as u64 * 2100 + 70] {
            let slot = a.slot_of(id).unwrap();
            a.delete(id).unwrap();
            log.push(BudgetedOp::Delete { id, slot });
        }
        saves.push(a.index().to_bytes());
    }
    // An id deleted and added again: the old delete must not hit the new one on replay.
    let again = 7u64;
    let first = a.index().len_slots() as u32;
    a.insert_batch(&[again], &data[..DIMS]).unwrap();
    log.push(BudgetedOp::Batch {
        first,
        ids: vec![again],
    });
    let want = a.index().to_bytes();
    let mut all_rows = Vec::new();
    let slots: Vec<u32> = (0..a.index().len_slots() as u32).collect();
    a.rows_mut().read(&slots, &mut all_rows).unwrap();

    for (si, saved) in saves.iter().enumerate() {
        // The store holds every row (written before each batch's record); the codes and links
        // are those of save `si`, and the whole log is replayed from its start.
        let mut rows = MemoryRows::new(rb);
        rows.append(0, &all_rows).unwrap();
        let mut b = BudgetedHnsw::from_index(
            Hnsw::from_bytes(saved).unwrap(),
            RowPrecision::F32,
            1 << 30,
            rows,
        )
        .unwrap();
        replay_all(&mut b, &log).unwrap();
        assert_eq!(
            b.index().to_bytes(),
            want,
            "{metric:?}: replayed onto save {si}"
        );
        assert!(b.slot_of(again).is_some());
        // Replaying once more changes nothing.
        assert_eq!(replay_all(&mut b, &log).unwrap(), 0);
    }

    // Records round-trip; a torn or unknown record is Corrupt; a batch past the next slot
    // (a record missing) is Corrupt.
    for op in &log {
        let mut bytes = Vec::new();
        op.encode(&mut bytes);
        assert_eq!(&BudgetedOp::decode(&bytes).unwrap(), op);
        for cut in [0, 1, bytes.len() - 1] {
            assert!(matches!(
                BudgetedOp::decode(&bytes[..cut]),
                Err(HnswError::Corrupt(_))
            ));
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(BudgetedOp::decode(&long).is_err());
    }
    assert!(BudgetedOp::decode(&[3, 0, 0]).is_err());
    let fresh = BudgetedHnsw::new(
        params(metric, false),
        RowPrecision::F32,
        1 << 30,
        MemoryRows::new(rb),
    )
    .unwrap();
    let gap = BudgetedOp::Batch {
        first: 5,
        ids: vec![1],
    };
    assert!(matches!(fresh.replay(&gap), Err(HnswError::Corrupt(_))));
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_parallel_build_gives_the_same_bytes_on_any_thread_count_and_keeps_the_budget() {
    use std::num::NonZeroUsize;
    let n = 2500;
    let data = clustered(13, n, DIMS, 12, 0.4);
    let ids: Vec<u64> = (0..n as u64).collect();
    let build = |threads: usize, budget: u64| {
        let mut b = BudgetedHnsw::new(
            params(Metric::Cosine, false),
            RowPrecision::F16,
            budget,
            MemoryRows::new(DIMS * 2),
        )
        .unwrap();
        let r =
            b.insert_batch_parallel(&ids, &data, NonZeroUsize::new(threads).unwrap(), |_, _| {});
        (b, r)
    };
    let (one, r1) = build(1, 1 << 30);
    let (three, r3) = build(3, 1 << 30);
    r1.unwrap();
    r3.unwrap();
    assert_eq!(one.index().to_bytes(), three.index().to_bytes());
    assert_eq!(one.len(), n);
    // Rows went to the store in slot order: every vector finds itself.
    let mut three = three;
    for i in (0..n).step_by(101) {
        let hits = three
            .search(&data[i * DIMS..(i + 1) * DIMS], 1, 32, Filter::None)
            .unwrap();
        assert_eq!(hits[0].id, i as u64);
    }
    // A budget the batch outgrows: refused whole, with the bytes it needs; nothing stays.
    let need = one.minimum_bytes();
    let (tight, r) = build(2, need / 2);
    match r {
        Err(HnswError::BudgetTooSmall { minimum, .. }) => assert!(minimum >= need / 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(tight.len(), 0);
    assert!(tight.memory_bytes() <= need / 2);
}
