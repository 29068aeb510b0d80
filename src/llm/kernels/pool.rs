//! A tiny persistent thread pool for the forward pass. A decode step runs ~200 small parallel
//! ops of ~20 µs each, so spawning threads (or rayon's scheduling) per op costs more than the
//! op; here the workers spin briefly on an epoch counter, then sleep on a condvar, and the
//! calling thread takes tasks too. One job runs at a time (a mutex), so models on different
//! threads share the pool safely.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

type Task<'a> = dyn Fn(usize) + Sync + 'a;

/// `state` packs (epoch: 32 bits, task count: 16 bits, next task: 16 bits), so a worker claims a
/// task of a given job with one compare-and-swap and can never take a task of a later job.
const IDX_BITS: u32 = 16;
const MAX_TASKS: usize = (1 << IDX_BITS) - 1;

fn pack(epoch: u64, n: usize, idx: usize) -> u64 {
    (epoch << 32) | ((n as u64) << IDX_BITS) | idx as u64
}

fn unpack(v: u64) -> (u64, usize, usize) {
    let mask = (1u64 << IDX_BITS) - 1;
    (
        v >> 32,
        ((v >> IDX_BITS) & mask) as usize,
        (v & mask) as usize,
    )
}

struct Shared {
    state: AtomicU64,
    /// The current job. Written by the caller only between jobs; read by a worker only after
    /// it has claimed a task of the current job, which keeps the job from finishing.
    job: UnsafeCell<Option<*const Task<'static>>>,
    /// Tasks of the current job finished.
    done: AtomicUsize,
    stop: AtomicBool,
    sleep_lock: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is only accessed under the claim protocol described above.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

pub struct Pool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    run_lock: parking_lot::Mutex<u64>,
}

/// How long an idle worker spins before sleeping: long enough to bridge the gap between the
/// ops of one forward pass, short enough not to burn a shared core between requests.
const SPIN: Duration = Duration::from_micros(300);

impl Pool {
    /// A pool that runs jobs on `threads` threads in all (the caller plus `threads - 1`).
    pub fn new(threads: usize) -> Pool {
        let shared = Arc::new(Shared {
            state: AtomicU64::new(0),
            job: UnsafeCell::new(None),
            done: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            sleep_lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let workers = (1..threads.max(1))
            .map(|i| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("clerk-llm-{i}"))
                    .spawn(move || worker(&shared))
                    .expect("spawning a pool thread")
            })
            .collect();
        Pool {
            shared,
            workers,
            run_lock: parking_lot::Mutex::new(0),
        }
    }

    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `f(0) .. f(n_tasks - 1)` across the pool and returns when all are done. Workers
    /// that are not running (a busy machine) are not waited for: the caller takes their tasks.
    pub fn run(&self, n_tasks: usize, f: &(dyn Fn(usize) + Sync)) {
        if n_tasks <= 1 || self.workers.is_empty() {
            (0..n_tasks).for_each(f);
            return;
        }
        if n_tasks > MAX_TASKS {
            let chunks = n_tasks.div_ceil(MAX_TASKS);
            for c in 0..chunks {
                let base = c * MAX_TASKS;
                let n = MAX_TASKS.min(n_tasks - base);
                self.run(n, &|i| f(base + i));
            }
            return;
        }
        let mut epoch = self.run_lock.lock();
        *epoch = (*epoch + 1) & 0xffff_ffff;
        let s = &*self.shared;
        // SAFETY: no task of the previous job is running (it finished), so no worker reads
        // `job` now; the pointer is cleared before this function returns.
        unsafe {
            *s.job.get() = Some(
                std::mem::transmute::<*const Task<'_>, *const Task<'static>>(f as *const Task<'_>),
            );
        }
        s.done.store(0, Ordering::Relaxed);
        s.state.store(pack(*epoch, n_tasks, 0), Ordering::Release);
        {
            let _l = s.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        while let Some(i) = claim(s, *epoch) {
            f(i);
            s.done.fetch_add(1, Ordering::Release);
        }
        let mut spins = 0u32;
        while s.done.load(Ordering::Acquire) != n_tasks {
            spins += 1;
            if spins.is_multiple_of(128) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        // SAFETY: every task has finished; a late worker's claim fails before it reads `job`.
        unsafe { *s.job.get() = None };
    }
}

/// Claims the next task of job `epoch`, if any is left.
fn claim(s: &Shared, epoch: u64) -> Option<usize> {
    let mut v = s.state.load(Ordering::Acquire);
    loop {
        let (e, n, idx) = unpack(v);
        if e != epoch || idx >= n {
            return None;
        }
        match s
            .state
            .compare_exchange_weak(v, v + 1, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return Some(idx),
            Err(cur) => v = cur,
        }
    }
}

fn worker(s: &Shared) {
    let mut seen = 0u64;
    loop {
        let start = Instant::now();
        let mut spins = 0u32;
        let epoch = loop {
            if s.stop.load(Ordering::Relaxed) {
                return;
            }
            let (e, n, idx) = unpack(s.state.load(Ordering::Acquire));
            if e != seen && idx < n {
                break e;
            }
            spins += 1;
            if spins.is_multiple_of(64) {
                if start.elapsed() > SPIN {
                    let l = s.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
                    let (e, n, idx) = unpack(s.state.load(Ordering::Acquire));
                    if (e == seen || idx >= n) && !s.stop.load(Ordering::Relaxed) {
                        let _l = s
                            .wake
                            .wait_timeout(l, Duration::from_millis(100))
                            .unwrap_or_else(|e| e.into_inner());
                    }
                } else {
                    std::thread::yield_now();
                }
                continue;
            }
            std::hint::spin_loop();
        };
        seen = epoch;
        while let Some(i) = claim(s, epoch) {
            // SAFETY: holding an unfinished task of this job keeps its closure alive.
            if let Some(job) = unsafe { *s.job.get() } {
                unsafe { (*job)(i) };
            }
            s.done.fetch_add(1, Ordering::Release);
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        {
            let _l = self
                .shared
                .sleep_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// The process-wide pool: one thread per available core (at most 16), or `CLERK_THREADS`.
pub fn global() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let n = std::env::var("CLERK_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
                    .min(16)
            });
        Pool::new(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_every_task_once() {
        let pool = Pool::new(3);
        for round in 0..200 {
            let n = round % 17;
            let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            pool.run(n, &|i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
        }
    }
}

/// The output buffer of a parallel kernel, shared with the pool's tasks.
#[derive(Clone, Copy)]
pub(crate) struct OutPtr(pub(crate) *mut f32);
// SAFETY: every kernel that shares one hands each task a disjoint part of the output, and
// waits for all tasks before the buffer is touched again.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// Through a method, so closures capture the `Sync` wrapper rather than the raw pointer.
    pub(crate) fn get(&self) -> *mut f32 {
        self.0
    }
}
