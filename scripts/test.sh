#!/usr/bin/env bash
# Runs every CloudSync test: formatting, lints, unit and property tests, scenarios,
# process tests, and the deterministic simulation (with its self-check that a broken
# planner is caught). Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
source scripts/ensure-deps.sh

step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "unit, property, scenario and process tests"
# The process tests run the real `cloudsync` binary, which `cargo test` does not build.
cargo build --locked -p cloudsync-cli
cargo test --locked --workspace

step "deterministic simulation (release)"
cargo test --locked --release -p cloudsync-tests --test simulation -- --nocapture

step "the simulation catches a planner that lets a delete beat an edit"
bash scripts/test-break-feature.sh

echo
echo "all tests passed in $(( $(date +%s) - start )) s"
