//! elex-text under arbitrary input: the first byte picks the mode. Mode 0 loads the rest as a
//! snapshot (an error or a consistent index, never a panic; a loaded one round-trips). Otherwise
//! the bytes are split at 0xFF into operations over arbitrary (lossy UTF-8) text: add, delete,
//! rolled-back batch and search; the pruned search must equal the exhaustive one.
#![no_main]

use elex_text::{TextIndex, TextOptions, TokenizerOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode == 0 {
        if let Ok(ix) = TextIndex::from_bytes(rest) {
            let b = ix.to_bytes();
            assert_eq!(TextIndex::from_bytes(&b).expect("its own snapshot loads").to_bytes(), b);
        }
        return;
    }
    let options = TextOptions {
        tokenizer: TokenizerOptions {
            stem: mode & 1 == 1,
            stop_words: mode & 2 == 2,
        },
        ..TextOptions::default()
    };
    let mut ix = TextIndex::new(options).expect("valid options");
    let mut next = 0u64;
    for part in rest.split(|&b| b == 0xFF) {
        let Some((&op, body)) = part.split_first() else {
            continue;
        };
        let text = String::from_utf8_lossy(body);
        match op % 4 {
            0 => {
                ix.add(next, &text).expect("fresh id");
                next += 1;
            }
            1 if next > 0 => {
                let _ = ix.delete(u64::from(op) % next);
            }
            2 => {
                let before = ix.to_bytes();
                let mut b = ix
                    .begin_batch(vec![next, next + 1], vec![text.to_string(), text.to_string()])
                    .expect("fresh ids");
                ix.step_batch(&mut b, || true);
                ix.rollback_batch(b);
                assert_eq!(ix.to_bytes(), before);
            }
            _ => {
                let k = 1 + usize::from(op) % 20;
                let (pruned, _) = ix.search_wand(&text, k, None).expect("k >= 1");
                assert_eq!(pruned, ix.search_exhaustive(&text, k, None).expect("k >= 1"));
            }
        }
    }
});
