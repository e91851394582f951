//! The text index's op log: adds, batches and deletes encoded, decoded and replayed onto a
//! snapshot give an index that answers every query exactly as the one that made them (same ids,
//! bit-identical scores); a record that would not apply whole changes nothing; damaged payloads
//! are errors, never panics.
#![cfg(not(target_arch = "wasm32"))]

use elex_text::{TextIndex, TextLog, TextOp, TextOptions, decode_text_ops};

const WORDS: [&str; 12] = [
    "alpha", "beta", "gamma", "delta", "KeyError", "fox", "dog", "the", "of", "runs", "é", "日本",
];

fn mix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn text(s: &mut u64) -> String {
    (0..1 + mix(s) % 8)
        .map(|_| WORDS[(mix(s) % WORDS.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

fn play(ix: &mut TextIndex, seed: u64, records: usize, next: &mut u64) -> Vec<(u32, Vec<u8>)> {
    let mut s = seed;
    let mut out = Vec::new();
    for _ in 0..records {
        let mut log = TextLog::default();
        for _ in 0..1 + mix(&mut s) % 3 {
            let live: Vec<u64> = (0..*next).filter(|&i| ix.contains(i)).collect();
            match mix(&mut s) % 4 {
                0 => {
                    let t = text(&mut s);
                    ix.add(*next, &t).unwrap();
                    log.add(*next, &t);
                    *next += 1;
                }
                1 => {
                    let n = mix(&mut s) % 6;
                    let ids: Vec<u64> = (*next..*next + n).collect();
                    let texts: Vec<String> = ids.iter().map(|_| text(&mut s)).collect();
                    ix.add_batch(&ids, &texts).unwrap();
                    log.batch(&ids, &texts);
                    *next += n;
                }
                _ if !live.is_empty() => {
                    let id = live[(mix(&mut s) % live.len() as u64) as usize];
                    ix.delete(id).unwrap();
                    log.delete(id);
                }
                _ => {}
            }
        }
        out.push(log.take());
    }
    out
}

fn answers(ix: &TextIndex) -> Vec<(String, Vec<(u64, u32)>)> {
    WORDS
        .iter()
        .map(|w| {
            let hits = ix.search(w, 1000, None).unwrap();
            (
                w.to_string(),
                hits.iter().map(|h| (h.id, h.score.to_bits())).collect(),
            )
        })
        .collect()
}

#[test]
fn a_replayed_log_answers_exactly_as_the_writer() {
    for seed in 0..8 {
        let mut live = TextIndex::new(TextOptions::default()).unwrap();
        let mut next = 0;
        play(&mut live, seed + 50, 5, &mut next);
        let checkpoint = live.to_bytes();
        let records = play(&mut live, seed, 40, &mut next);
        let mut replayed = TextIndex::from_bytes(&checkpoint).unwrap();
        for (count, payload) in &records {
            replayed
                .apply_ops(&decode_text_ops(payload, *count).unwrap())
                .unwrap();
        }
        assert_eq!(replayed.len(), live.len(), "seed {seed}");
        assert_eq!(answers(&replayed), answers(&live), "seed {seed}");
        // A copy is independent.
        let copy = live.try_clone().unwrap();
        assert_eq!(answers(&copy), answers(&live));
        assert_eq!(copy.to_bytes(), live.to_bytes());
    }
}

#[test]
fn a_record_that_would_not_apply_whole_changes_nothing() {
    let mut ix = TextIndex::new(TextOptions::default()).unwrap();
    ix.add_batch(&[1, 2, 3], &["a b", "b c", "c d"]).unwrap();
    let before = ix.to_bytes();
    let add = |id: u64| TextOp::Add {
        id,
        text: "x".into(),
    };
    for ops in [
        vec![add(9), add(9)],
        vec![TextOp::Delete { id: 1 }, TextOp::Delete { id: 1 }],
        vec![
            add(9),
            TextOp::Batch {
                ids: vec![10, 2],
                texts: vec!["y".into(), "z".into()],
            },
        ],
        vec![TextOp::Batch {
            ids: vec![10],
            texts: vec![],
        }],
        vec![add(u64::MAX)],
    ] {
        assert!(ix.apply_ops(&ops).is_err(), "{ops:?}");
        assert_eq!(ix.to_bytes(), before);
    }
    ix.apply_ops(&[TextOp::Delete { id: 1 }, add(1)]).unwrap();
    assert!(ix.contains(1));
}

#[test]
fn damaged_payloads_are_errors_never_panics() {
    let mut ix = TextIndex::new(TextOptions::default()).unwrap();
    let mut next = 0;
    for (count, payload) in play(&mut ix, 3, 10, &mut next)
        .iter()
        .filter(|(_, p)| p.len() < 400)
    {
        for len in 0..payload.len() {
            assert!(decode_text_ops(&payload[..len], *count).is_err());
        }
        for bit in 0..payload.len() * 8 {
            let mut p = payload.clone();
            p[bit / 8] ^= 1 << (bit % 8);
            let _ = decode_text_ops(&p, *count);
        }
        assert!(decode_text_ops(payload, count + 1).is_err());
    }
    let mut p = vec![2u8];
    p.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(decode_text_ops(&p, 1).is_err());
}
