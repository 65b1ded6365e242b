//! Deterministic simulation of the whole engine.
//!
//! - [`fs`]: [`SimFs`], an in-memory filesystem with a durable and a current state, power
//!   cuts and torn writes;
//! - [`remote`]: [`SimRemote`], an in-memory cloud that survives the engine's crashes, and
//!   the [`SimFactory`] that hands it to the engine;
//! - [`workload`]: [`run_seed`], one seeded run (random user actions on both sides, syncs,
//!   crashes and restarts) followed by the invariants.
//!
//! Everything runs on one thread with paused tokio time and a manual clock, so a seed
//! replays the same run (`SIM_SEED=n`).

pub mod fs;
pub mod remote;
pub mod workload;

pub use fs::{Content, Power, SimFs};
pub use remote::{SimClient, SimFactory, SimRemote};
pub use workload::{
    run_seed, run_seed_with_log, Coverage, SeedPlan, CONNECTION, HOST, LOCAL_ROOT, VIOLATION,
};
