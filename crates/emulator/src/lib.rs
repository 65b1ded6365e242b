//! Local servers that speak the wire protocols of the cloud providers we cannot reach from
//! tests: Dropbox API v2, Google Drive API v3 and Baidu Netdisk xpan, OAuth pages included.
//!
//! Each provider module owns its endpoints, its in-memory (or `--data`) state and the way it
//! words errors. What all three share lives here:
//! - [`server`]: starting one emulator on a port, the control endpoints, the fault layer;
//! - [`faults`]: the switchable faults (429, write contention, 5xx, resets, truncation,
//!   slowness) and counters;
//! - [`oauth`]: authorization codes with PKCE, device codes, access and refresh tokens.
//!
//! All of a provider's hosts are served on one port, so a client pointed at the emulator's
//! base URL reaches every endpoint it knows under its documented path.

pub mod baidu;
pub mod dropbox;
pub mod faults;
pub mod gdrive;
pub mod oauth;
pub mod server;

pub use server::{spawn, Emulator, Options, Provider};
