use super::*;

fn pages_of(snapshot: &[u8], m: &Manifest) -> Vec<Vec<u8>> {
    (0..m.pages)
        .map(|i| {
            let r = m.page_range(i);
            page(
                m.kind,
                m.generation,
                i,
                m.pages,
                &snapshot[r.start as usize..r.end as usize],
            )
        })
        .collect()
}

#[test]
fn pages_join_back_into_the_snapshot() {
    for len in [0usize, 1, 99, 100, 101, 1000] {
        let snapshot: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let m = Manifest::new(Kind::Hnsw, 7, len as u64, 100, 3);
        assert_eq!(m.pages as usize, len.div_ceil(100).max(1));
        let pages = pages_of(&snapshot, &m);
        let mut joined = Vec::new();
        for (i, p) in pages.iter().enumerate() {
            joined.extend_from_slice(read_page(p, Kind::Hnsw, 7, i as u32, m.pages).unwrap());
        }
        assert_eq!(joined, snapshot);
        let back = Manifest::from_bytes(&m.to_bytes(), Kind::Hnsw).unwrap();
        assert_eq!(back, m);
    }
}

#[test]
fn every_bit_flip_and_truncation_of_a_page_is_named() {
    let p = page(Kind::Hnsw, 2, 1, 3, b"some payload bytes");
    for bit in 0..p.len() * 8 {
        let mut q = p.clone();
        q[bit / 8] ^= 1 << (bit % 8);
        let e = read_page(&q, Kind::Hnsw, 2, 1, 3).unwrap_err();
        assert!(
            e.to_string()
                .contains("page 1 of 3 of checkpoint generation 2"),
            "{e}"
        );
    }
    for len in 0..p.len() {
        assert!(read_page(&p[..len], Kind::Hnsw, 2, 1, 3).is_err(), "{len}");
    }
    // Intact but misplaced: another generation, index, count or kind.
    assert!(read_page(&p, Kind::Hnsw, 3, 1, 3).is_err());
    assert!(read_page(&p, Kind::Hnsw, 2, 0, 3).is_err());
    assert!(read_page(&p, Kind::Hnsw, 2, 1, 4).is_err());
    assert!(read_page(&p, Kind::Text, 2, 1, 3).is_err());
}

#[test]
fn every_bit_flip_of_a_manifest_or_record_is_an_error() {
    let m = Manifest::new(Kind::Learner, 5, 12345, 1000, 9).to_bytes();
    for bit in 0..m.len() * 8 {
        let mut q = m.clone();
        q[bit / 8] ^= 1 << (bit % 8);
        assert!(Manifest::from_bytes(&q, Kind::Learner).is_err(), "{bit}");
    }
    let r = log_record(Kind::Learner, 4, 2, b"ops");
    assert_eq!(
        read_log_record(&r, Kind::Learner, 4).unwrap(),
        Record {
            seq: 4,
            ops: 2,
            payload: b"ops"
        }
    );
    for bit in 0..r.len() * 8 {
        let mut q = r.clone();
        q[bit / 8] ^= 1 << (bit % 8);
        assert!(read_log_record(&q, Kind::Learner, 4).is_err(), "{bit}");
    }
    assert!(read_log_record(&r, Kind::Learner, 5).is_err());
}

#[test]
fn a_newer_version_is_a_version_error() {
    let mut r = log_record(Kind::Hnsw, 0, 1, b"x");
    r[8] = 2;
    assert!(matches!(
        read_log_record(&r, Kind::Hnsw, 0),
        Err(StoreError::Version { found: 2, .. })
    ));
}

#[test]
fn a_manifest_whose_numbers_disagree_is_refused() {
    let mut m = Manifest::new(Kind::Hnsw, 1, 1000, 100, 0);
    m.pages = 3;
    assert!(Manifest::from_bytes(&m.to_bytes(), Kind::Hnsw).is_err());
    m.pages = 10;
    m.page_bytes = 0;
    assert!(Manifest::from_bytes(&m.to_bytes(), Kind::Hnsw).is_err());
}

fn log(range: std::ops::Range<u64>) -> Vec<(u64, Vec<u8>)> {
    range
        .map(|s| (s, log_record(Kind::Hnsw, s, 1, &s.to_le_bytes())))
        .collect()
}

fn scan(
    records: &[(u64, Vec<u8>)],
    start: u64,
    recover: bool,
) -> (Vec<u64>, Result<LogEnd, StoreError>) {
    let mut s = LogScan::new(Kind::Hnsw, start);
    let mut replayed = Vec::new();
    for (k, b) in records {
        if let Some(r) = s.next(*k, b) {
            assert_eq!(r.payload, &r.seq.to_le_bytes());
            replayed.push(r.seq);
        }
    }
    (replayed, s.finish(recover))
}

#[test]
fn a_whole_log_replays_from_its_start() {
    // Records 0..3 are left over from before the checkpoint at 3: skipped.
    let (replayed, end) = scan(&log(0..8), 3, false);
    assert_eq!(replayed, vec![3, 4, 5, 6, 7]);
    assert_eq!(
        end.unwrap(),
        LogEnd {
            next_seq: 8,
            replayed: 5,
            lost: 0,
            first_lost: None
        }
    );
    let (replayed, end) = scan(&[], 3, false);
    assert!(replayed.is_empty());
    assert_eq!(end.unwrap().next_seq, 3);
}

#[test]
fn a_damaged_record_loses_it_and_everything_after() {
    let mut records = log(0..10);
    let last = records[5].1.len() - 1;
    records[5].1[last] ^= 1;
    let (replayed, end) = scan(&records, 2, false);
    assert_eq!(replayed, vec![2, 3, 4]);
    let e = end.unwrap_err();
    assert_eq!(
        e,
        StoreError::LogLost {
            first_lost: 5,
            lost: 5,
            reason: "log record 5 is damaged: checksum mismatch".into()
        }
    );
    assert!(
        e.to_string().contains("log record 5 cannot be replayed"),
        "{e}"
    );
    let (_, end) = scan(&records, 2, true);
    assert_eq!(
        end.unwrap(),
        LogEnd {
            next_seq: 5,
            replayed: 3,
            lost: 5,
            first_lost: Some(5)
        }
    );
}

#[test]
fn a_gap_in_the_log_is_a_loss() {
    let mut records = log(0..6);
    records.remove(3);
    let (replayed, end) = scan(&records, 0, true);
    assert_eq!(replayed, vec![0, 1, 2]);
    let end = end.unwrap();
    assert_eq!((end.next_seq, end.lost, end.first_lost), (3, 2, Some(3)));
}

#[test]
fn a_rejected_record_ends_the_log_there() {
    let records = log(0..5);
    let mut s = LogScan::new(Kind::Hnsw, 0);
    for (k, b) in &records {
        if let Some(r) = s.next(*k, b)
            && r.seq == 2
        {
            s.reject(2, "its operations were refused");
        }
    }
    let e = s.finish(false).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::LogLost {
                first_lost: 2,
                lost: 3,
                ..
            }
        ),
        "{e}"
    );
}

#[cfg(not(target_arch = "wasm32"))]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever is damaged or missing, the scan replays exactly the longest intact,
        /// consecutive prefix from `log_start`, and says how many stored records it dropped.
        #[test]
        fn the_scan_keeps_the_longest_intact_prefix(
            n in 0u64..30,
            start in 0u64..5,
            damage in proptest::collection::vec((0u64..30, 0u8..3), 0..4),
        ) {
            let mut records = log(0..n);
            let mut bad = std::collections::BTreeSet::new();
            let mut gone = std::collections::BTreeSet::new();
            for (at, how) in damage {
                if at >= n { continue; }
                match how {
                    0 => { gone.insert(at); }
                    1 => {
                        let r = &mut records[at as usize].1;
                        if let Some(b) = r.get_mut(RECORD_HEADER) {
                            *b = b.wrapping_add(1);
                        }
                        bad.insert(at);
                    }
                    _ => {
                        let r = &mut records[at as usize].1;
                        r.truncate(RECORD_HEADER - 1);
                        bad.insert(at);
                    }
                }
            }
            bad.retain(|b| !gone.contains(b));
            let stored: Vec<_> = records.into_iter().filter(|(k, _)| !gone.contains(k)).collect();
            // A missing record is a loss when a later one is stored; missing at the tail, it
            // is indistinguishable from one never written (never acknowledged).
            let last_stored = stored.last().map(|(k, _)| *k);
            let first_broken = (start..n).find(|s| {
                bad.contains(s) || (gone.contains(s) && last_stored.is_some_and(|l| l > *s))
            });
            let n = if first_broken.is_none() { last_stored.map_or(0, |l| l + 1) } else { n };
            let (replayed, end) = scan(&stored, start, true);
            let end = end.unwrap();
            let good_end = first_broken.unwrap_or(n.max(start));
            prop_assert_eq!(replayed, (start..good_end).collect::<Vec<_>>());
            prop_assert_eq!(end.next_seq, good_end);
            let dropped = stored.iter().filter(|(k, _)| *k >= good_end).count() as u64;
            prop_assert_eq!(end.lost, dropped);
            prop_assert_eq!(end.first_lost, first_broken);
            let (_, strict) = scan(&stored, start, false);
            prop_assert_eq!(strict.is_err(), first_broken.is_some());
        }
    }
}
