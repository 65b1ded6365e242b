//! The pure domain of CloudSync: no I/O, no async runtime.
//!
//! Terms used across the crate:
//! - a **connection** pairs a local folder (the *sync root*) with a remote folder;
//! - a **side** is `Local` or `Remote`;
//! - the three **trees** are what the local disk has ([`tree::Tree`] for `Local`), what the
//!   remote has (the same type for `Remote`), and what both sides last agreed on
//!   ([`tree::SyncedTree`], the merge base);
//! - a **key** is the normalised (NFC) relative path that pairs entries of the three trees;
//! - the **planner** ([`planner::plan`]) turns the three trees into a [`plan::Plan`]: batches
//!   of [`plan::Op`]s whose operations commute, so an executor may run a batch in any order;
//! - **rules** ([`rules`]) say which paths are never synced and why, as data the UI can show.

pub mod capabilities;
pub mod names;
pub mod path;
pub mod plan;
pub mod planner;
pub mod rules;
pub mod schedule;
pub mod settings;
pub mod tree;
pub mod units;

pub use capabilities::Capabilities;
pub use path::{PathError, RelPath};
pub use plan::{Batch, Op, Plan};
pub use settings::{ConflictPolicy, ConnectionSettings, Mode};
pub use tree::{Kind, Node, Side, SyncedNode, SyncedTree, Tree};
