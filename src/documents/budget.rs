//! How long an upload's parsing may take, and whether anyone still waits for it.
//!
//! Every parser is linear in its input, but "linear" on a 20 MB file is still seconds of a
//! shared CPU, and a parser library can hide a slow path nobody has found yet. So each parse
//! runs against a [`Budget`]: a deadline, and a [`Cancel`] flag the HTTP layer raises when the
//! client goes away. Parsers call [`Budget::check`] in their loops (every row, block, event or
//! chunk); past the deadline the file is refused with [`DocumentError::TooSlow`], and since
//! nothing is stored before every file has parsed, nothing changes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::DocumentError;

/// Raised when the work is no longer wanted (the uploading client disconnected).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The deadline of one upload's parsing.
#[derive(Debug, Clone)]
pub struct Budget {
    started: Instant,
    limit: Duration,
    cancel: Cancel,
}

impl Budget {
    /// `limit` from now, never cancelled.
    pub fn new(limit: Duration) -> Budget {
        Budget::with_cancel(limit, Cancel::new())
    }

    pub fn with_cancel(limit: Duration, cancel: Cancel) -> Budget {
        Budget {
            started: Instant::now(),
            limit,
            cancel,
        }
    }

    /// Err once the deadline has passed or the work was cancelled; `file` names the file the
    /// error is about.
    pub fn check(&self, file: &str) -> Result<(), DocumentError> {
        if self.cancel.is_cancelled() {
            return Err(DocumentError::Cancelled {
                file: file.to_string(),
            });
        }
        if self.started.elapsed() > self.limit {
            return Err(DocumentError::TooSlow {
                file: file.to_string(),
                limit_ms: self.limit.as_millis() as u64,
            });
        }
        Ok(())
    }

    /// [`Budget::check`] every `every`-th call of a loop counter: an `Instant::now()` per
    /// CSV cell would cost more than the cell.
    pub fn check_every(&self, file: &str, i: usize, every: usize) -> Result<(), DocumentError> {
        if i.is_multiple_of(every.max(1)) {
            self.check(file)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_deadline_and_when_cancelled() {
        let budget = Budget::new(Duration::from_secs(60));
        assert!(budget.check("a.md").is_ok());
        let late = Budget::new(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        assert!(matches!(
            late.check("a.md"),
            Err(DocumentError::TooSlow { .. })
        ));
        let cancel = Cancel::new();
        let budget = Budget::with_cancel(Duration::from_secs(60), cancel.clone());
        cancel.cancel();
        assert!(matches!(
            budget.check("a.md"),
            Err(DocumentError::Cancelled { .. })
        ));
    }
}
