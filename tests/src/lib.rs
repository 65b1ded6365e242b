//! Test support for CloudSync's integration tests.
//!
//! - [`sim`]: the deterministic simulation (in-memory filesystem with crash semantics,
//!   in-memory remote, seeded workloads);
//! - [`scenario`]: the scenario format (act on local/remote, sync, expect trees).

pub mod scenario;
pub mod sim;
