//! Giving memory back after large replies. One accessibility tree of a 1,000-element page
//! is ~2.3 MB of JSON and ~50 MB while it is parsed; glibc keeps the freed heap, so a
//! node that took one snapshot would idle at ~120 MB instead of ~10 MB. After the routes
//! that move large payloads the node asks the allocator to return free pages
//! (`malloc_trim`), shortly after the reply has been sent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Delay before trimming, so the reply is serialised and sent first.
const TRIM_DELAY: Duration = Duration::from_millis(200);

static SCHEDULED: AtomicBool = AtomicBool::new(false);

/// Schedules one trim (calls in the meantime share it).
pub fn release_soon() {
    if SCHEDULED.swap(true, Ordering::AcqRel) {
        return;
    }
    tokio::spawn(async {
        tokio::time::sleep(TRIM_DELAY).await;
        SCHEDULED.store(false, Ordering::Release);
        let _ = tokio::task::spawn_blocking(trim).await;
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers
    // from us and is safe to call from any thread.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
