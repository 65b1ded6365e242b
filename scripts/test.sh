#!/usr/bin/env bash
# Runs every CloudSync test: formatting, lints, unit and property tests, scenarios,
# process tests, the desktop app's front-end tests (Vitest, headless Chromium), the real
# app under Xvfb (WebDriver end to end, tray over D-Bus), and the deterministic
# simulation (with its self-check that a broken planner is caught). Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
source scripts/ensure-deps.sh

step() { printf '\n== %s\n' "$*"; }

step "front end: build (the app embeds ui/dist)"
(cd ui && npm run --silent build)

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "unit, property, scenario and process tests"
# The process tests run the real `cloudsync` binary, which `cargo test` does not build.
cargo build --locked --workspace --bins
cargo test --locked --workspace

step "front end: unit tests and UI tests in headless Chromium (IPC mocked)"
(cd ui && npm test --silent && UI_TEST_NO_BUILD=1 npm run --silent test:ui)

step "the desktop app under Xvfb: tray over D-Bus, end to end through WebDriver"
bash scripts/test-app.sh

step "deterministic simulation (release)"
cargo test --locked --release -p cloudsync-tests --test simulation -- --nocapture

step "the simulation catches a planner that lets a delete beat an edit"
bash scripts/test-break-feature.sh

echo
echo "all tests passed in $(( $(date +%s) - start )) s"
