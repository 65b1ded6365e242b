#!/usr/bin/env bash
# CloudSync benchmark entry point: builds the release CLI and runs bench/run.py with it.
# Results go to stdout and bench/out/results.json. Knobs (environment):
#   BENCH_DIR       scratch folder for workloads and runs (default /tmp/cloudsync-bench)
#   BENCH_RUNS      runs per measurement, median reported (default 5, minimum 1)
#   BENCH_BIG_MB    size of the W2 file in MiB (default 1024)
#   BENCH_FILES     number of W1 files (default 10000, spread over 100 folders)
#   BENCH_LAT_N     change-to-done samples per run under `cloudsync run` (default 20)
#   BENCH_SEED      workload seed (default 20261124)
#   BENCH_NO_BUILD  set to 1 to skip the cargo build and use the existing release binary
# Usage: bench/run.sh            local backend vs cp -r + sync (bench/run.py)
#        bench/run.sh remote     CloudSync vs rclone on rclone serve webdav and moto_server
#                                (bench/remote.py; its knobs are in bench/README.md)
#        bench/run.sh cloud      CloudSync against the emulated Dropbox, Drive and Baidu
#                                (bench/cloud.py; its knobs are in its docstring)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  for c in "$HOME/.cargo/bin/cargo" /usr/local/cargo/bin/cargo; do
    if [ -x "$c" ]; then export PATH="$(dirname "$c"):$PATH"; fi
  done
fi
command -v python3 >/dev/null 2>&1 || { echo "bench: python3 is required" >&2; exit 1; }

target_dir=$(cargo metadata --format-version 1 --no-deps --locked \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release/cloudsync"

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  echo "bench: cargo build --release -p cloudsync-cli -p cloudsync-emulator --locked" >&2
  cargo build --release -p cloudsync-cli -p cloudsync-emulator --locked
fi
[ -x "$bin" ] || { echo "bench: no binary at $bin" >&2; exit 1; }

if [ "${1:-}" = cloud ]; then
  shift
  exec python3 bench/cloud.py --bin "$bin" --emulator "$target_dir/release/cloudsync-emulator" \
    --out bench/out/cloud.json "$@"
fi
if [ "${1:-}" = remote ]; then
  shift
  if ! command -v rclone >/dev/null 2>&1 || ! command -v moto_server >/dev/null 2>&1; then
    echo "bench: rclone or moto_server missing; running scripts/ensure-deps.sh" >&2
    scripts/ensure-deps.sh
  fi
  exec python3 bench/remote.py --bin "$bin" --out bench/out/remote.json "$@"
fi
exec python3 bench/run.py --bin "$bin" --out bench/out/results.json "$@"
