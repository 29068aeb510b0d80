//! Weight memory. A decode step reads every weight once (~100 MB for the default model, three
//! times the L3 cache), so it runs at memory bandwidth; on 4 KiB pages the hardware prefetchers
//! stop at every page boundary and a TLB miss comes every few rows. A model's weights therefore
//! live in one allocation, 2 MiB-aligned and, on Linux, advised for transparent huge pages
//! (`madvise(MADV_HUGEPAGE)`, which also works where THP is set to `madvise` only). Where the
//! kernel declines, it is an ordinary allocation and nothing else changes.

use std::alloc::{alloc, dealloc, Layout};
use std::ops::{Deref, Range};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const HUGE_PAGE: usize = 2 << 20;
/// Each matrix starts on a cache line.
const ALIGN: usize = 64;

/// One allocation holding a model's matrices, filled once at load and read-only after.
pub struct WeightArena {
    ptr: *mut u8,
    layout: Option<Layout>,
    used: AtomicUsize,
}

// SAFETY: the bytes of a range are written once, by `store`, before the `WeightBytes` that
// hands them out exists; afterwards they are only read.
unsafe impl Send for WeightArena {}
unsafe impl Sync for WeightArena {}

impl WeightArena {
    /// Room for matrices of `bytes` in all (plus alignment: see `room_for`). Memory is only
    /// backed as it is written, so an estimate on the high side costs address space only.
    /// An arena the allocator refuses (a size no machine has) is empty: every `store` then
    /// declines and the matrices keep their own vectors, which fail as they always did.
    pub fn new(bytes: usize) -> Arc<WeightArena> {
        let size = bytes.checked_next_multiple_of(HUGE_PAGE).unwrap_or(0);
        let mut layout = Layout::from_size_align(size, HUGE_PAGE)
            .ok()
            .filter(|_| size > 0);
        let mut ptr = match layout {
            // SAFETY: the layout has a non-zero size.
            Some(l) => unsafe { alloc(l) },
            None => std::ptr::null_mut(),
        };
        if ptr.is_null() {
            layout = None;
            ptr = std::ptr::NonNull::dangling().as_ptr();
        }
        let size = layout.map_or(0, |l| l.size());
        #[cfg(target_os = "linux")]
        if size > 0 {
            // SAFETY: the range is this allocation, not yet touched. A refusal (THP disabled)
            // leaves ordinary pages, which is fine.
            unsafe { libc::madvise(ptr.cast(), size, libc::MADV_HUGEPAGE) };
        }
        Arc::new(WeightArena {
            ptr,
            layout,
            used: AtomicUsize::new(0),
        })
    }

    /// The arena size to ask for so matrices of `sizes` bytes fit.
    pub fn room_for(sizes: impl IntoIterator<Item = usize>) -> usize {
        sizes.into_iter().fold(0usize, |sum, s| {
            sum.saturating_add(s.checked_next_multiple_of(ALIGN).unwrap_or(usize::MAX))
        })
    }

    fn capacity(&self) -> usize {
        self.layout.map_or(0, |l| l.size())
    }

    /// Copies `bytes` into the arena; `None` when it is full (the caller keeps its own copy).
    pub fn store(self: &Arc<Self>, bytes: &[u8]) -> Option<WeightBytes> {
        let len = bytes.len().next_multiple_of(ALIGN);
        let start = self.used.fetch_add(len, Ordering::Relaxed);
        if start.saturating_add(len) > self.capacity() {
            self.used.fetch_sub(len, Ordering::Relaxed);
            return None;
        }
        // SAFETY: `start..start + len` is inside the allocation and was reserved by this call
        // alone; nobody reads it until the `WeightBytes` below exists.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(start), bytes.len());
        }
        Some(WeightBytes(Store::Arena {
            arena: self.clone(),
            range: start..start + bytes.len(),
        }))
    }
}

impl Drop for WeightArena {
    fn drop(&mut self) {
        if let Some(l) = self.layout {
            // SAFETY: allocated in `new` with this layout.
            unsafe { dealloc(self.ptr, l) };
        }
    }
}

/// A matrix's bytes: its own vector while it is being built, a range of the model's arena once
/// loaded.
#[derive(Clone)]
pub struct WeightBytes(Store);

#[derive(Clone)]
enum Store {
    Heap(Vec<u8>),
    Arena {
        arena: Arc<WeightArena>,
        range: Range<usize>,
    },
}

impl From<Vec<u8>> for WeightBytes {
    fn from(v: Vec<u8>) -> Self {
        WeightBytes(Store::Heap(v))
    }
}

impl Deref for WeightBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Store::Heap(v) => v,
            // SAFETY: the range was filled by `store` and is never written again.
            Store::Arena { arena, range } => unsafe {
                std::slice::from_raw_parts(arena.ptr.add(range.start), range.len())
            },
        }
    }
}

impl std::fmt::Debug for WeightBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = match self.0 {
            Store::Heap(_) => "heap",
            Store::Arena { .. } => "arena",
        };
        write!(f, "{} bytes ({place})", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_until_full_and_reads_back() {
        let a = WeightArena::new(WeightArena::room_for([100, 30]));
        let x = a.store(&[7u8; 100]).unwrap();
        let y = a.store(&(0..30).collect::<Vec<u8>>()).unwrap();
        assert_eq!(&*x, &[7u8; 100][..]);
        assert_eq!(y[29], 29);
        assert_eq!(x.as_ptr() as usize % ALIGN, 0);
        assert_eq!(y.as_ptr() as usize % ALIGN, 0);
        // Rounded up to a huge page, so more fits; past that, a refusal.
        assert!(a.store(&vec![0u8; HUGE_PAGE]).is_none());
        drop(a);
        assert_eq!(x.len(), 100, "matrices keep the arena alive");
        let empty = WeightArena::new(0);
        assert!(empty.store(&[1]).is_none());
        assert!(empty.store(&[]).is_some());
        // A size no allocator grants leaves an empty arena, not an abort.
        let refused = WeightArena::new(WeightArena::room_for([usize::MAX / 2, usize::MAX / 2]));
        assert!(refused.store(&[1]).is_none());
    }
}
