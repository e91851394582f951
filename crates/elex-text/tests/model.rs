//! The index against a plain model: random adds, deletes, rollbacks and snapshots, and after
//! each step the pruned search equals the exhaustive one bit for bit, both equal BM25
//! recomputed from scratch in f64 over the live documents, and a fresh index of the live
//! documents returns the same lists.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;

use elex_text::{TextHit, TextIndex, TextOptions, TokenizerOptions};

const WORDS: &[&str] = &[
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon",
];

fn plain() -> TextOptions {
    TextOptions {
        tokenizer: TokenizerOptions {
            stem: false,
            stop_words: false,
        },
        ..TextOptions::default()
    }
}

/// A skewed word choice, so that some terms are in most documents and some in few.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(0usize..400, 0..40).prop_map(|v| {
        v.iter()
            .map(|&x| WORDS[(x * x) / 8000])
            .collect::<Vec<_>>()
            .join(" ")
    })
}

#[derive(Debug, Clone)]
enum Op {
    Add(Vec<String>),
    Delete(usize),
    RolledBack(Vec<String>),
    Reload,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(text(), 1..60).prop_map(Op::Add),
        2 => any::<usize>().prop_map(Op::Delete),
        1 => prop::collection::vec(text(), 1..5).prop_map(Op::RolledBack),
        1 => Just(Op::Reload),
    ]
}

/// BM25 in f64 from the live documents' words.
fn reference(docs: &[(u64, String)], query: &str) -> Vec<(u64, f64)> {
    let tok: Vec<Vec<&str>> = docs
        .iter()
        .map(|(_, t)| t.split(' ').filter(|w| !w.is_empty()).collect())
        .collect();
    let n = docs.len() as f64;
    let avg = tok.iter().map(|t| t.len()).sum::<usize>() as f64 / n.max(1.0);
    let mut out = Vec::new();
    for (i, (id, _)) in docs.iter().enumerate() {
        let mut s = 0.0;
        let mut any = false;
        for q in query.split(' ').filter(|w| !w.is_empty()) {
            let tf = tok[i].iter().filter(|w| *w == &q).count() as f64;
            if tf == 0.0 {
                continue;
            }
            any = true;
            let df = tok.iter().filter(|t| t.contains(&q)).count() as f64;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            s += idf * tf / (tf + 1.2 * (0.25 + 0.75 * tok[i].len() as f64 / avg));
        }
        if any {
            out.push((*id, s));
        }
    }
    out
}

fn check(ix: &TextIndex, docs: &[(u64, String)], query: &str, k: usize) {
    let wand = ix.search_wand(query, k, None).unwrap().0;
    let full = ix.search_exhaustive(query, k, None).unwrap();
    assert_eq!(wand, full, "query {query:?} k {k}");
    assert_eq!(ix.search(query, k, None).unwrap(), full);
    let mut want = reference(docs, query);
    want.sort_by(|a, b| b.1.total_cmp(&a.1));
    assert_eq!(wand.len(), want.len().min(k));
    // Scores agree to 1e-5; the k-th score is the reference's k-th (ids may swap on near-ties).
    for (h, w) in wand.iter().zip(&want) {
        assert!(
            (f64::from(h.score) - w.1).abs() <= 1e-5 * w.1.max(1.0),
            "{h:?} vs {w:?}"
        );
    }
    for h in &wand {
        let exact = want
            .iter()
            .find(|w| w.0 == h.id)
            .expect("a hit the reference lacks")
            .1;
        assert!((f64::from(h.score) - exact).abs() <= 1e-5 * exact.max(1.0));
    }
    // A fresh index of the live documents, added in the same order, returns the same list.
    let mut fresh = TextIndex::new(plain()).unwrap();
    let ids: Vec<u64> = docs.iter().map(|d| d.0).collect();
    let texts: Vec<&str> = docs.iter().map(|d| d.1.as_str()).collect();
    fresh.add_batch(&ids, &texts).unwrap();
    assert_eq!(fresh.search(query, k, None).unwrap(), wand);
    // Filters: the same as searching everything and keeping the allowed ids.
    let allow: Vec<u64> = ids.iter().copied().filter(|id| id % 3 != 0).collect();
    let filtered = ix.search_wand(query, k, Some(&allow)).unwrap().0;
    assert_eq!(ix.search(query, k, Some(&allow)).unwrap(), filtered);
    let all = ix.search_exhaustive(query, usize::MAX >> 1, None).unwrap();
    let expect: Vec<TextHit> = all.into_iter().filter(|h| h.id % 3 != 0).take(k).collect();
    assert_eq!(filtered, expect);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn pruned_search_is_exact_through_changes(
        ops in prop::collection::vec(op(), 1..12),
        queries in prop::collection::vec(text(), 1..6),
        k in 1usize..12,
    ) {
        let mut ix = TextIndex::new(plain()).unwrap();
        let mut docs: Vec<(u64, String)> = Vec::new();
        let mut next = 0u64;
        for op in ops {
            match op {
                Op::Add(texts) => {
                    let ids: Vec<u64> = (next..next + texts.len() as u64).collect();
                    next += texts.len() as u64;
                    ix.add_batch(&ids, &texts).unwrap();
                    docs.extend(ids.into_iter().zip(texts));
                }
                Op::Delete(i) if !docs.is_empty() => {
                    let (id, _) = docs.remove(i % docs.len());
                    ix.delete(id).unwrap();
                    prop_assert!(ix.delete(id).is_err());
                }
                Op::Delete(_) => {}
                Op::RolledBack(texts) => {
                    let before = ix.to_bytes();
                    let ids: Vec<u64> = (next..next + texts.len() as u64).collect();
                    let mut b = ix.begin_batch(ids, texts).unwrap();
                    let mut n = 0;
                    ix.step_batch(&mut b, || { n += 1; n == 2 });
                    ix.rollback_batch(b);
                    prop_assert_eq!(ix.to_bytes(), before);
                }
                Op::Reload => {
                    let bytes = ix.to_bytes();
                    ix = TextIndex::from_bytes(&bytes).unwrap();
                    prop_assert_eq!(ix.to_bytes(), bytes);
                }
            }
            prop_assert_eq!(ix.len(), docs.len());
            for q in &queries {
                check(&ix, &docs, q, k);
            }
        }
    }
}

#[test]
fn pruning_skips_work_on_a_large_skewed_collection() {
    // 20,000 documents over a Zipf-like vocabulary: a query mixing a common and a rare term
    // must score far fewer postings than the common term's list holds.
    let mut ix = TextIndex::new(plain()).unwrap();
    let mut state = 12345u64;
    let mut rnd = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let vocab: Vec<String> = (0..5000).map(|i| format!("w{i}")).collect();
    let texts: Vec<String> = (0..20_000)
        .map(|_| {
            (0..30)
                .map(|_| {
                    let r = (rnd() % 1_000_000) as f64 / 1_000_000.0;
                    vocab[((r * r * r) * 5000.0) as usize].as_str()
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let ids: Vec<u64> = (0..texts.len() as u64).collect();
    ix.add_batch(&ids, &texts).unwrap();
    for q in 0..200u64 {
        let query: Vec<String> = (0..1 + q % 5)
            .map(|j| format!("w{}", (q * 7919 + j * 104_729) % (10 + q * 25)))
            .collect();
        let query = query.join(" ");
        for k in [1, 10, 100] {
            assert_eq!(
                ix.search_wand(&query, k, None).unwrap().0,
                ix.search_exhaustive(&query, k, None).unwrap(),
                "{query} k {k}"
            );
        }
    }
    let (hits, stats) = ix.search_with_stats("w0 w1 w2 w3000", 10, None).unwrap();
    assert_eq!(
        hits,
        ix.search_exhaustive("w0 w1 w2 w3000", 10, None).unwrap()
    );
    eprintln!("scored {} of {}", stats.scored, stats.postings);
    assert!(
        stats.scored * 2 < stats.postings,
        "scored {} of {} postings",
        stats.scored,
        stats.postings
    );
}
