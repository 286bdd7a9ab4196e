//! Benchmarks live in benches/; this is what they share.

use std::time::Duration;

/// Interleaved rounds of both sides of a ratio.
pub const RATIO_ROUNDS: u32 = 5;

/// The fastest of [`RATIO_ROUNDS`] interleaved rounds of each side: on a shared two-core
/// machine other processes' CPU and disk load slow some rounds, and the minimum is the
/// least disturbed figure for both.
pub fn best_of_interleaved(
    mut ours: impl FnMut() -> Duration,
    mut limit: impl FnMut() -> Duration,
) -> (Duration, Duration) {
    (0..RATIO_ROUNDS).fold((Duration::MAX, Duration::MAX), |(a, b), _| {
        (a.min(ours()), b.min(limit()))
    })
}

/// The fastest of [`RATIO_ROUNDS`] rounds of one side.
pub fn best_of(mut round: impl FnMut() -> Duration) -> Duration {
    (0..RATIO_ROUNDS)
        .map(|_| round())
        .min()
        .unwrap_or(Duration::MAX)
}
