//! Deterministic simulation support (being written).
