//! Writes the terms elex's default tokenizer makes of the first passages and queries of a
//! docs-50k-like set, as JSON `{"docs": [[term, ...], ...], "queries": [...]}`, for
//! `scripts/bm25s-reference.py` to score with PyPI `bm25s` on exactly the same terms.
//!
//! `cargo run -p elex-text --example bm25s_tokens -- DATA_DIR DOCS QUERIES > tokens.json`

use std::io::{BufRead, BufReader};

use elex_text::{Tokenizer, TokenizerOptions};

fn lines(path: &str, n: usize) -> Vec<String> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    BufReader::new(f)
        .lines()
        .take(n)
        .map(|l| l.expect("read"))
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, docs, queries] = args.as_slice() else {
        eprintln!("usage: bm25s_tokens DATA_DIR DOCS QUERIES");
        std::process::exit(2);
    };
    let n: usize = docs.parse().expect("DOCS: a number");
    let q: usize = queries.parse().expect("QUERIES: a number");
    let t = Tokenizer::new(TokenizerOptions::default());
    let terms = |v: Vec<String>| -> Vec<Vec<String>> { v.iter().map(|s| t.terms(s)).collect() };
    let out = serde_json::json!({
        "docs": terms(lines(&format!("{dir}/base.txt"), n)),
        "queries": terms(lines(&format!("{dir}/query.txt"), q)),
    });
    println!("{out}");
}
