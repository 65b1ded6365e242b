//! CloudSync's engine: everything with side effects, around the pure core.
//!
//! - [`store`]: the SQLite database (three trees per connection, activity, conflicts,
//!   skipped items, journal);
//! - [`scan`] and [`watch`]: observing the local side; [`remote::Remote`]: the trait
//!   backends implement;
//! - [`sync`]: one round of observe, plan, guard, execute; [`executor`]: running plans
//!   without losing data;
//! - [`engine::Engine`]: the API the CLI, the daemon and the app use;
//! - [`sessions`]: resumable upload sessions kept in the journal across restarts;
//! - [`service`]: the daemon (one engine per config dir, control socket, watchers, polls);
//! - [`events`]: the typed event stream.
//!
//! Everything that touches the world is injected ([`localfs::LocalFs`], [`remote::Remote`],
//! [`clock::Clock`]), so the whole engine runs under a deterministic simulation.

pub mod bandwidth;
pub mod clock;
pub mod control;
pub mod engine;
pub mod error;
pub mod events;
pub mod executor;
pub mod feed;
pub mod hash;
pub mod live;
pub mod localfs;
pub mod os_keyring;
pub mod paths;
pub mod remote;
pub mod scan;
pub mod secrets;
pub mod service;
pub mod sessions;
pub mod store;
pub mod sync;
pub mod trash;

pub use engine::Engine;
pub use error::EngineError;
pub use events::{Event, EventBus};
pub use remote::{Remote, RemoteError, RemoteFactory};
