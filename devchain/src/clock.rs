//! The one place the node reads the wall clock (block time is derived from it).

use std::time::{SystemTime, UNIX_EPOCH};

use causeway_core::UnixMillis;

/// Milliseconds since the Unix epoch; 0 if the clock is set before 1970.
pub fn now_ms() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as UnixMillis)
}
