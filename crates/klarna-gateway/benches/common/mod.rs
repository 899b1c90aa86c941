//! What the gateway's latency benches share: percentiles of alternating
//! samples and one way of printing them.

// Each bench uses its own part of this module.
#![allow(dead_code)]

use std::time::Duration;

/// The median and p99 of `samples`, sorted in place.
pub fn median_and_p99(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99))
}

/// Prints both sides of `calls` alternating calls and their ratios.
pub fn report(calls: usize, adapter: &str, direct: &mut [Duration], through: &mut [Duration]) {
    let (d50, d99) = median_and_p99(direct);
    let (t50, t99) = median_and_p99(through);
    println!("{calls} alternating calls of get_capture against one sandbox");
    println!("direct client:  median {d50:?}, p99 {d99:?}");
    println!(
        "through {adapter}:{:pad$}median {t50:?}, p99 {t99:?}",
        "",
        pad = 6 - adapter.len().min(5)
    );
    println!(
        "ratio ({adapter} / direct): median {:.2}, p99 {:.2}; added median {:?}, p99 {:?}",
        t50.as_secs_f64() / d50.as_secs_f64(),
        t99.as_secs_f64() / d99.as_secs_f64(),
        t50.saturating_sub(d50),
        t99.saturating_sub(d99),
    );
}
