//! Time to tokenize and index the passages of a docs-50k-like set, natively, and the work
//! block-max WAND saves on its queries (postings scored against a full scan).
//!
//! `cargo run --release -p elex-text --example build_time -- DATA_DIR`

use std::time::Instant;

use elex_text::{TextIndex, TextOptions, Tokenizer, TokenizerOptions};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/docs-50k".into());
    let base = std::fs::read_to_string(format!("{dir}/base.txt")).expect("base.txt");
    let queries = std::fs::read_to_string(format!("{dir}/query.txt")).expect("query.txt");
    let docs: Vec<&str> = base.lines().collect();
    let t = Instant::now();
    let tok = Tokenizer::new(TokenizerOptions::default());
    let mut n = 0usize;
    for d in &docs {
        tok.for_each_term(d, |_| n += 1);
    }
    let tokenize = t.elapsed();
    let t = Instant::now();
    let mut ix = TextIndex::new(TextOptions::default()).expect("options");
    let ids: Vec<u64> = (0..docs.len() as u64).collect();
    ix.add_batch(&ids, &docs).expect("batch");
    let build = t.elapsed();
    println!(
        "{} passages, {n} terms: tokenize {:.0} ms, tokenize + index {:.0} ms, {} distinct terms, {:.1} MB",
        docs.len(),
        tokenize.as_secs_f64() * 1e3,
        build.as_secs_f64() * 1e3,
        ix.term_count(),
        ix.memory_bytes() as f64 / 1048576.0
    );
    let t = Instant::now();
    let bytes = ix.to_bytes();
    let write = t.elapsed();
    let t = Instant::now();
    let back = TextIndex::from_bytes(&bytes).expect("snapshot");
    println!(
        "snapshot {:.1} MB: to_bytes {:.0} ms, from_bytes {:.0} ms",
        bytes.len() as f64 / 1048576.0,
        write.as_secs_f64() * 1e3,
        t.elapsed().as_secs_f64() * 1e3
    );
    drop(back);
    let long: Vec<String> = queries.lines().map(str::to_owned).collect();
    let words = |n: usize| -> Vec<String> {
        long.iter()
            .map(|q| q.split_whitespace().take(n).collect::<Vec<_>>().join(" "))
            .collect()
    };
    for (name, set) in [
        ("3-word", words(3)),
        ("5-word", words(5)),
        ("8-word", words(8)),
        ("whole-passage", long.clone()),
    ] {
        for k in [10, 100] {
            // Interleaved per query (WAND, then the full scan), so machine noise hits both alike.
            let (mut scored, mut postings) = (0u64, 0u64);
            let (mut wand, mut full) = (0f64, 0f64);
            for q in &set {
                let t = Instant::now();
                let (hits, s) = ix.search_wand(q, k, None).expect("search");
                wand += t.elapsed().as_secs_f64();
                let t = Instant::now();
                let all = ix.search_exhaustive(q, k, None).expect("search");
                full += t.elapsed().as_secs_f64();
                assert_eq!(hits, all);
                scored += s.scored;
                postings += s.postings;
            }
            println!(
                "top-{k}, {} {name} queries: block-max WAND scored {:.1}% of the postings a full scan scores; {:.3} ms vs {:.3} ms per query ({:.2}x)",
                set.len(),
                100.0 * scored as f64 / postings as f64,
                wand * 1e3 / set.len() as f64,
                full * 1e3 / set.len() as f64,
                full / wand
            );
        }
    }
}
