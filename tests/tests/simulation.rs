//! The deterministic simulation over many seeds (see `cloudsync_tests::sim`).
//!
//! - `SIM_SEED=n`: run only seed `n` (printing its coverage; with `SIM_LOG=1` also every
//!   step and engine action);
//! - `SIM_SEEDS=n`: run `n` seeds (default 1,000), starting at `SIM_START` (default 0);
//! - `SIM_SECS=s`: time budget (default 120 s): no new seed starts after it, and the run
//!   fails if fewer than `SIM_SEEDS` seeds ran by then (use `--release`).
//!
//! A failing seed is printed with its violation and the steps before it.

use std::time::{Duration, Instant};

use cloudsync_tests::sim::{run_seed, run_seed_with_log, Coverage, SeedPlan};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Failing seeds shown before the run stops.
const MAX_FAILURES: usize = 3;

fn print_coverage(seeds: u64, crash_seeds: u64, elapsed: Duration, cov: &Coverage) {
    println!(
        "simulation: {seeds} seeds ({crash_seeds} with power cuts) in {:.1} s",
        elapsed.as_secs_f64()
    );
    for (what, n) in cov {
        println!("  {what:<40} {n}");
    }
}

fn run_one(seed: u64) -> Result<Coverage, String> {
    match std::panic::catch_unwind(|| run_seed(seed)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!(
                "seed {seed} panicked: {msg}\n--- rerun: SIM_SEED={seed} cargo test -p cloudsync-tests --release --test simulation -- --nocapture"
            ))
        }
    }
}

#[test]
fn simulation() {
    if let Some(seed) = env_u64("SIM_SEED") {
        let start = Instant::now();
        if std::env::var_os("SIM_LOG").is_some() {
            for line in run_seed_with_log(seed).1 {
                println!("{line}");
            }
        }
        match run_one(seed) {
            Ok(cov) => print_coverage(
                1,
                u64::from(SeedPlan::of(seed).crashes),
                start.elapsed(),
                &cov,
            ),
            Err(msg) => panic!("simulation failed at seed {seed}:\n{msg}"),
        }
        return;
    }
    let wanted = env_u64("SIM_SEEDS").unwrap_or(1_000);
    let first = env_u64("SIM_START").unwrap_or(0);
    let budget = Duration::from_secs(env_u64("SIM_SECS").unwrap_or(120));
    let start = Instant::now();
    let mut total = Coverage::new();
    let mut failures: Vec<String> = Vec::new();
    let mut ran = 0u64;
    let mut crash_seeds = 0u64;
    for seed in first..first + wanted {
        if start.elapsed() > budget {
            break;
        }
        ran += 1;
        crash_seeds += u64::from(SeedPlan::of(seed).crashes);
        match run_one(seed) {
            Ok(cov) => {
                for (k, v) in cov {
                    *total.entry(k).or_default() += v;
                }
            }
            Err(msg) => {
                eprintln!("\n=== seed {seed} failed ===\n{msg}\n");
                failures.push(format!("seed {seed}: {}", msg.lines().next().unwrap_or("")));
                if failures.len() >= MAX_FAILURES {
                    break;
                }
            }
        }
    }
    print_coverage(ran, crash_seeds, start.elapsed(), &total);
    assert!(
        failures.is_empty(),
        "simulation failed on {} seed(s) (rerun one with SIM_SEED=n):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        ran >= wanted,
        "only {ran} of {wanted} seeds ran within {} s; run the simulation with --release",
        budget.as_secs()
    );
}
