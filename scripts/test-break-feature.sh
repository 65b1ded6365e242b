#!/usr/bin/env bash
# Proves the deterministic simulation can fail: with the `break-edit-beats-delete` feature
# the planner lets a delete beat an edit, and the simulation must report an invariant
# violation. Exits 0 only when that run FAILS with a violation; non-zero when it passes,
# or fails for another reason (a build error, a panic without a violation).
#
# Usage: scripts/test-break-feature.sh   (SIM_SEEDS, default 200: seeds to try)
set -uo pipefail
cd "$(dirname "$0")/.."

seeds="${SIM_SEEDS:-200}"
violation="INVARIANT VIOLATED"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

echo "running the simulation with the planner broken (edit loses to delete), $seeds seeds"
SIM_SEEDS="$seeds" cargo test --release -p cloudsync-tests --features break-edit-beats-delete \
    --test simulation -- --nocapture >"$log" 2>&1
status=$?

if [ "$status" -eq 0 ]; then
    tail -n 60 "$log"
    echo
    echo "FAIL: the simulation passed with a planner that lets a delete beat an edit;" \
        "it does not catch lost edits"
    exit 1
fi

if ! grep -q "$violation" "$log"; then
    tail -n 60 "$log"
    echo
    echo "FAIL: the simulation failed (exit $status) but without an invariant violation;" \
        "see the output above (build error or panic?)"
    exit 1
fi

echo "the simulation failed as it must; violations reported:"
grep -o "$violation: [^(]*(seed [0-9]*)" "$log" | sort | uniq | head -n 10
if grep -q "$violation: an edit lost to a delete" "$log"; then
    echo "OK: the broken planner was caught (an edit lost to a delete)"
else
    echo "OK: the broken planner was caught (by another invariant)"
fi
exit 0
