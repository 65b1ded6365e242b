//! Scenario format (being written).
