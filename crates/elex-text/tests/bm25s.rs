//! elex's BM25 against PyPI `bm25s` (method "lucene", k1 = 1.2, b = 0.75) on the same terms: the
//! first 5,000 passages and 200 queries of docs-50k. `tests/data/bm25s-top10.json` is bm25s's
//! output, written by `scripts/bm25s-check.sh` (which installs bm25s, regenerates it and runs
//! this test). Every score of bm25s's top 10 must match elex's within 1e-5 (relative), and the
//! lists must hold the same documents in the same order except where scores tie within that.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufRead, BufReader};

use elex_text::{TextIndex, TextOptions};

fn lines(path: &str, n: usize) -> Option<Vec<String>> {
    let f = std::fs::File::open(path).ok()?;
    Some(
        BufReader::new(f)
            .lines()
            .take(n)
            .map(|l| l.expect("read"))
            .collect(),
    )
}

#[test]
fn scores_match_bm25s() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/docs-50k");
    let (Some(docs), Some(queries)) = (
        lines(&format!("{dir}/base.txt"), 5000),
        lines(&format!("{dir}/query.txt"), 200),
    ) else {
        panic!("docs-50k is missing at {dir}: the test data set is part of the workspace");
    };
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("data/bm25s-top10.json")).expect("fixture is JSON");
    assert_eq!(fixture["docs"], 5000);
    let mut ix = TextIndex::new(TextOptions::default()).unwrap();
    let ids: Vec<u64> = (0..docs.len() as u64).collect();
    ix.add_batch(&ids, &docs).unwrap();
    let mut compared = 0;
    for (q, want) in queries.iter().zip(fixture["top10"].as_array().unwrap()) {
        let want: Vec<(u64, f64)> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_u64().unwrap(), p[1].as_f64().unwrap()))
            .collect();
        let got = ix.search(q, 10, None).unwrap();
        assert_eq!(got.len(), want.len(), "query {q:?}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let tol = 1e-5 * w.1.abs().max(1.0);
            assert!(
                (f64::from(g.score) - w.1).abs() <= tol,
                "query {q:?} rank {i}: elex {g:?}, bm25s {w:?}"
            );
            if g.id != w.0 {
                // Only a tie may reorder: bm25s's score for elex's document is the same.
                let s = ix.scores(q, &[w.0])[0].unwrap();
                assert!(
                    (f64::from(s) - f64::from(g.score)).abs() <= tol,
                    "query {q:?} rank {i}"
                );
            }
            compared += 1;
        }
    }
    assert!(compared > 1500, "only {compared} results compared");
}
