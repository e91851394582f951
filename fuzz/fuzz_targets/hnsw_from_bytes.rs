//! `Hnsw::from_bytes` on arbitrary bytes: it must return `Ok` or `Err`, never panic, never
//! allocate what the bytes do not hold. Whatever loads must round-trip to the same bytes and
//! answer a search without panicking.
#![no_main]

use elex_hnsw::Hnsw;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(idx) = Hnsw::from_bytes(data) {
        // Fuzz builds accept any checksum, so compare all but the checksum field.
        let back = idx.to_bytes();
        assert_eq!(back.len(), data.len());
        assert_eq!(back[..88], data[..88], "a loaded snapshot must write back the same header");
        assert_eq!(back[96..], data[96..], "a loaded snapshot must write back the same body");
        let q = vec![0.5f32; idx.dims()];
        if !idx.is_empty() {
            let _ = idx.search(&q, 1);
        }
    }
});
