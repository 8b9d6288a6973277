//! The SFU's per-message work (HeaderView parse and its accessors) allocates nothing.
//! A counting global allocator observes every allocation made on this test's thread.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::{Chunk, HeaderView, Headers, Sealer};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts calls.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn header_view_parse_does_not_allocate() {
    let g = GlobalEncodingId::derive(1, 2, 3, 4);
    let mut h = Headers::new(g, 99);
    h.active_level = Some(70);
    h.salt = Some([1; 12]);
    h.capture_time = Some(5);
    h.reference_frame = Some(true);
    h.layer_id = Some(2);
    h.chunk = Some(Chunk { index: 0, count: 2 });
    let mut msg = Vec::new();
    Sealer::new(
        MessageKey::derive(Algorithm::Aes128Gcm, b"s", 1, 2, g),
        [1; 12],
    )
    .seal(&h, &[0u8; 1000], &mut msg)
    .unwrap();

    let before = allocations();
    let mut checksum = 0u64;
    for _ in 0..1000 {
        let view = HeaderView::parse(std::hint::black_box(&msg)).unwrap();
        checksum = checksum
            .wrapping_add(view.global_encoding_id().0)
            .wrapping_add(view.global_message_id().0)
            .wrapping_add(u64::from(view.active_level().unwrap_or(0)))
            .wrapping_add(view.layer_id().unwrap_or(0))
            .wrapping_add(u64::from(view.is_reference_frame()))
            .wrapping_add(view.sealed_payload().len() as u64);
    }
    assert_eq!(allocations() - before, 0, "HeaderView allocated");
    assert_ne!(checksum, 0);
}
