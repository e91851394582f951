//! A memory hint for an index's big flat arrays (vectors, level-0 links): a search reads rows
//! at random, and with 4 KiB pages nearly every row it reads misses the TLB once its arrays
//! outgrow what the TLB maps (a few MiB), so each read starts with a page walk; prefetches wait
//! on those walks too. On Linux, where transparent huge pages are usually enabled only on
//! request (`madvise`), the arrays ask for them. A hint only: contents never change, and where
//! the kernel has no huge pages (or another OS) nothing happens.

/// Smallest buffer worth a hint: two huge pages (a smaller one holds at most one aligned page).
#[cfg(all(target_os = "linux", not(feature = "wasm-like-memory")))]
const HUGE_PAGE: usize = 2 << 20;

/// Asks the OS to back `v`'s buffer, its whole capacity, with huge pages from now on: the
/// 2 MiB-aligned pages inside it that are touched after this call (and, in time, the ones
/// already touched). Call it after reserving room, before filling it.
#[allow(clippy::ptr_arg)] // the capacity, not only the length, is the buffer
pub fn advise_huge_pages<T>(v: &Vec<T>) {
    // The feature `wasm-like-memory` leaves the pages as a wasm engine's memory has them
    // (4 KiB), to measure a native build under that constraint (`scripts/native-like-wasm.py`).
    #[cfg(all(target_os = "linux", not(feature = "wasm-like-memory")))]
    {
        let bytes = v.capacity().saturating_mul(std::mem::size_of::<T>());
        if bytes < 2 * HUGE_PAGE {
            return;
        }
        let p = v.as_ptr() as usize;
        let start = p.next_multiple_of(HUGE_PAGE);
        let end = (p + bytes) / HUGE_PAGE * HUGE_PAGE;
        if end > start {
            // SAFETY: [start, end) lies inside `v`'s allocation (its capacity), which this
            // process owns, and is page-aligned. MADV_HUGEPAGE only changes how the kernel backs
            // those pages: no byte of them changes, and no other memory is affected. An error
            // (a kernel without transparent huge pages) leaves everything as it was; it is
            // ignored.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(any(not(target_os = "linux"), feature = "wasm-like-memory"))]
    let _ = v;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hinted_buffer_keeps_its_contents_and_grows_as_before() {
        let mut v: Vec<u32> = (0..1000).collect();
        v.reserve_exact(3 << 20);
        advise_huge_pages(&v);
        v.extend(1000..(3 << 20));
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32));
        let small = vec![1u8; 10];
        advise_huge_pages(&small);
        assert_eq!(small, [1u8; 10]);
        advise_huge_pages(&Vec::<u64>::new());
    }

    /// Where the kernel hands out transparent huge pages on request, a hinted buffer gets them:
    /// `/proc/self/smaps` counts huge pages in the mappings that hold it. x86_64 only: the
    /// aarch64 tests run under qemu-user, which drops `madvise` (a hint, so it may).
    #[cfg(all(
        target_os = "linux",
        target_arch = "x86_64",
        not(feature = "wasm-like-memory")
    ))]
    #[test]
    fn a_hinted_buffer_is_backed_by_huge_pages_where_the_kernel_offers_them() {
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if !(mode.contains("[madvise]") || mode.contains("[always]")) {
            eprintln!(
                "transparent huge pages are off here ({}): nothing to check",
                mode.trim()
            );
            return;
        }
        let mut v: Vec<u64> = Vec::with_capacity(4 << 20); // 32 MiB
        advise_huge_pages(&v);
        v.extend(0..4 << 20);
        let (start, end) = (v.as_ptr() as usize, v.as_ptr() as usize + v.capacity() * 8);
        // The hint splits the buffer's mapping at the huge-page boundaries: add up every
        // mapping that overlaps the buffer.
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let (mut huge_kb, mut inside) = (0, false);
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((a, b)) = range.split_once('-')
                && let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                inside = a < end && start < b;
                continue;
            }
            if inside && let Some(kb) = line.strip_prefix("AnonHugePages:") {
                huge_kb += kb
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<usize>()
                    .unwrap_or(0);
            }
        }
        assert_eq!(v[12345], 12345);
        assert!(
            huge_kb >= 2048,
            "{huge_kb} kB of huge pages under the buffer"
        );
    }
}
