#!/usr/bin/env python3
"""CloudSync benchmark harness (python3 standard library only).

Usually started by bench/run.sh, which builds the release binary first:

    python3 bench/run.py --bin target/release/cloudsync [--out bench/out/results.json]

Every figure is observed from outside the cloudsync process: wall time of whole commands
(time.perf_counter around the child), peak RSS of the child (/usr/bin/time -f %M, else
its rusage) or /proc/PID/status VmHWM for the daemon, and change-to-done latency by
polling the remote folder from this process.
See bench/README.md for what is measured and the targets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

# --- settings -------------------------------------------------------------------------

CONN = "bench"
W1_FOLDERS = 100
W1_FILE_SIZE = 4096
INTERNAL = (".cloudsync-root", ".cloudsync-trash")
TEMP_PREFIX = ".cloudsync-tmp-"
STAMP_VERSION = 1

TARGET_W1_RATIO = 4.0  # initial sync of W1 within 4x of cp -r + sync
TARGET_NOOP_S = 0.3  # no-op re-sync of W1
TARGET_LATENCY_S = 1.0  # change-to-done median under `cloudsync run`

LAT_POLL_S = 0.005  # how often the remote path is checked
LAT_TIMEOUT_S = 30.0  # a change not done by then counts as a failure
READY_TIMEOUT_S = 180.0  # daemon start until its first round is done
STOP_TIMEOUT_S = 15.0  # SIGTERM until exit


def env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        v = int(raw)
    except ValueError:
        sys.exit(f"bench: {name}={raw!r} is not an integer")
    if v < minimum:
        sys.exit(f"bench: {name} must be at least {minimum}")
    return v


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- helpers --------------------------------------------------------------------------


def flush() -> float:
    """Runs `sync`; returns its wall time."""
    t0 = time.perf_counter()
    subprocess.run(["sync"], check=True)
    return time.perf_counter() - t0


def rmtree(p: Path) -> None:
    if p.exists():
        shutil.rmtree(p)


def summary(samples: list[float]) -> dict:
    s = [x for x in samples if x is not None]
    if not s:
        return {"n": 0, "median": None, "min": None, "max": None, "samples": samples}
    out = {
        "n": len(s),
        "median": statistics.median(s),
        "min": min(s),
        "max": max(s),
        "samples": samples,
    }
    if len(s) >= 10:
        q = statistics.quantiles(s, n=10)
        out["p90"] = q[-1]
    return out


def gnu_time() -> str | None:
    """/usr/bin/time when it is GNU time (-f %M prints the peak RSS in KiB)."""
    t = "/usr/bin/time"
    if not os.access(t, os.X_OK):
        return None
    r = subprocess.run([t, "-f", "%M", "-o", os.devnull, "true"], capture_output=True)
    return t if r.returncode == 0 else None


GNU_TIME = gnu_time()


def run_cs(binary: str, cfg: Path, args: list[str], logfile: Path) -> dict:
    """Runs one cloudsync command; wall time, exit code and peak RSS (KiB) of that child.

    Peak RSS comes from /usr/bin/time -f %M when available. Without it, from the child's
    rusage (os.wait4); Linux carries the forking process's RSS high-water mark into the
    child across exec, so that figure is at least this Python process's RSS."""
    cmd = [binary, "--config-dir", str(cfg), *args]
    rss_file = logfile.with_suffix(".rss")
    if GNU_TIME:
        cmd = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *cmd]
    with open(logfile, "ab") as lf:
        lf.write(f"$ cloudsync --config-dir {cfg} {' '.join(args)}\n".encode())
        lf.flush()
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=lf, stderr=lf, stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    rss = ru.ru_maxrss
    if GNU_TIME:
        try:
            rss = int(rss_file.read_text().split()[-1])
        except (OSError, ValueError, IndexError):
            rss = None
    return {"wall": wall, "rc": p.returncode, "maxrss_kib": rss}


def must(res: dict, what: str, logfile: Path) -> dict:
    if res["rc"] != 0:
        tail = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
        raise RuntimeError(f"{what} exited {res['rc']}; log {logfile}:\n{tail}")
    return res


def last_line(logfile: Path) -> str:
    lines = [x for x in logfile.read_text(errors="replace").splitlines() if x.strip()]
    return lines[-1] if lines else ""


def copy_into(src: Path, dst: Path) -> None:
    """Copies the contents of src into the existing folder dst (setup; untimed)."""
    subprocess.run(["cp", "-r", f"{src}/.", str(dst)], check=True)


def is_internal(name: str) -> bool:
    return name in INTERNAL or name.startswith(TEMP_PREFIX)


def verify_tree(src: Path, dst: Path) -> int:
    """Checks dst holds exactly src's files with the same bytes (internal names aside)."""
    want: dict[str, int] = {}
    for root, dirs, files in os.walk(src):
        for f in files:
            p = Path(root, f)
            want[str(p.relative_to(src))] = p.stat().st_size
    have: set[str] = set()
    for root, dirs, files in os.walk(dst):
        dirs[:] = [d for d in dirs if not is_internal(d)]
        for f in files:
            if is_internal(f):
                continue
            have.add(str(Path(root, f).relative_to(dst)))
    missing = sorted(set(want) - have)
    extra = sorted(have - set(want))
    if missing or extra:
        raise RuntimeError(f"verify {dst}: {len(missing)} missing (e.g. {missing[:3]}), "
                           f"{len(extra)} unexpected (e.g. {extra[:3]})")
    for rel in want:
        a, b = src / rel, dst / rel
        if b.stat().st_size != want[rel]:
            raise RuntimeError(f"verify {dst}: {rel} has the wrong size")
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                x, y = fa.read(1 << 20), fb.read(1 << 20)
                if x != y:
                    raise RuntimeError(f"verify {dst}: {rel} differs")
                if not x:
                    break
    return len(want)


def du_bytes(p: Path) -> int:
    total = 0
    for root, dirs, files in os.walk(p):
        for f in files:
            total += os.lstat(os.path.join(root, f)).st_blocks * 512
        total += 4096 * len(dirs)
    return total


# --- workloads ------------------------------------------------------------------------


def make_workloads(base: Path, seed: int, files: int, big_mb: int) -> tuple[Path, Path]:
    src = base / "src"
    w1, w2 = src / "w1", src / "w2"
    stamp_path = src / "stamp.json"
    stamp = {"version": STAMP_VERSION, "seed": seed, "files": files, "file_size": W1_FILE_SIZE,
             "folders": W1_FOLDERS, "big_mb": big_mb}
    try:
        if json.loads(stamp_path.read_text()) == stamp and (w2 / "big.bin").stat().st_size == big_mb << 20:
            log(f"reusing workloads in {src} (seed {seed})")
            return w1, w2
    except (OSError, ValueError):
        pass
    rmtree(src)
    log(f"generating W1 ({files} x {W1_FILE_SIZE} B in {W1_FOLDERS} folders) and "
        f"W2 ({big_mb} MiB) with seed {seed} in {src}")
    rng = random.Random(seed)
    for d in range(W1_FOLDERS):
        (w1 / f"dir_{d:03d}").mkdir(parents=True)
    for i in range(files):
        p = w1 / f"dir_{i % W1_FOLDERS:03d}" / f"file_{i // W1_FOLDERS:05d}.bin"
        p.write_bytes(rng.randbytes(W1_FILE_SIZE))
    w2.mkdir(parents=True)
    rng2 = random.Random(seed + 1)
    with open(w2 / "big.bin", "wb") as f:
        for _ in range(big_mb):
            f.write(rng2.randbytes(1 << 20))
    flush()
    stamp_path.write_text(json.dumps(stamp))
    return w1, w2


def check_space(base: Path, files: int, big_mb: int, runs: int) -> dict:
    base.mkdir(parents=True, exist_ok=True)
    big = big_mb << 20
    w1 = files * W1_FILE_SIZE + W1_FOLDERS * 4096
    have_src = (base / "src" / "stamp.json").exists()
    # sources (unless already there) + every run's W1 copies (kept until the end, see
    # main) + the worst W2 step (remote copy + local copy) + a margin
    need = (0 if have_src else big + w1) + runs * (5 * w1 + (16 << 20)) + 2 * big + (512 << 20)
    free = shutil.disk_usage(base).free
    info = {"free_bytes": free, "needed_bytes": need}
    if free < need:
        sys.exit(f"bench: {base} has {free >> 20} MiB free, needs about {need >> 20} MiB; "
                 f"set BENCH_DIR elsewhere or shrink BENCH_BIG_MB")
    return info


# --- measurements ---------------------------------------------------------------------


def baseline(src: Path, dst: Path, keep: bool) -> dict:
    """`cp -r SRC DST && sync`, timed from here (cp and sync parts recorded apart)."""
    flush()
    t0 = time.perf_counter()
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True)
    t1 = time.perf_counter()
    subprocess.run(["sync"], check=True)
    t2 = time.perf_counter()
    if not keep:
        rmtree(dst)
    return {"wall": t2 - t0, "cp": t1 - t0, "sync": t2 - t1}


def initial_sync(binary: str, src: Path, d: Path, direction: str) -> tuple[dict, Path, Path, Path]:
    """Initial sync with the data on one side: `pull` = in the remote folder, `push` = in the
    local folder (added empty, filled before the timed sync). Returns the figures and the
    folders (still there)."""
    rmtree(d)
    d.mkdir(parents=True)
    local, remote, cfg, logfile = d / "local", d / "remote", d / "config", d / "cloudsync.log"
    local.mkdir()
    if direction == "pull":
        subprocess.run(["cp", "-r", str(src), str(remote)], check=True)
    else:
        remote.mkdir()
    must(run_cs(binary, cfg, ["connection", "add", "local", "--name", CONN, "--local", str(local),
                              "--remote", str(remote)], logfile), "connection add", logfile)
    if direction == "push":
        copy_into(src, local)
    flush()
    res = must(run_cs(binary, cfg, ["sync", "--once"], logfile), "sync --once", logfile)
    res["engine_says"] = last_line(logfile)
    res["flush_after"] = flush()
    res["files"] = verify_tree(src, local if direction == "pull" else remote)
    return res, local, remote, cfg


def noop_sync(binary: str, cfg: Path, logfile: Path) -> dict:
    res = must(run_cs(binary, cfg, ["sync", "--once"], logfile), "no-op sync --once", logfile)
    res["engine_says"] = last_line(logfile)
    return res


def status(binary: str, cfg: Path) -> dict | None:
    r = subprocess.run([binary, "--config-dir", str(cfg), "status", "--json"],
                       capture_output=True, timeout=30)
    if r.returncode != 0:
        return None
    try:
        rows = json.loads(r.stdout)
    except ValueError:
        return None
    return next((c for c in rows if c.get("name") == CONN), None)


def proc_status(pid: int) -> dict:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0])  # KiB
    except OSError:
        pass
    return out


def latency_test(binary: str, d: Path, local: Path, remote: Path, cfg: Path, n: int,
                 gap_s: float, run_no: int) -> dict:
    """Starts `cloudsync run`, waits for its first round, then times n local writes until
    the file is in the remote folder with the right content; stops it with SIGTERM."""
    logfile = d / "daemon.log"
    out: dict = {"samples": [], "timeouts": 0}
    start_ms = time.time() * 1000
    t_start = time.perf_counter()
    lf = open(logfile, "ab")
    p = subprocess.Popen([binary, "--config-dir", str(cfg), "run"], stdout=lf, stderr=lf,
                         stdin=subprocess.DEVNULL)
    try:
        sock = cfg / "control.sock"
        ready = None
        seen_idle = None
        while time.perf_counter() - t_start < READY_TIMEOUT_S:
            if p.poll() is not None:
                raise RuntimeError(f"daemon exited {p.returncode} while starting; see {logfile}")
            if sock.exists():
                st = status(binary, cfg)
                if st and st.get("state") == "idle" and st.get("last_sync"):
                    seen_idle = seen_idle or time.perf_counter()
                    if st["last_sync"] >= start_ms:
                        ready = "first round done (last_sync after start)"
                        break
                    if time.perf_counter() - seen_idle > 30:
                        ready = "idle (no new last_sync within 30 s)"
                        break
            time.sleep(0.05)
        if ready is None:
            raise RuntimeError(f"daemon not ready after {READY_TIMEOUT_S} s; see {logfile}")
        out["ready"] = ready
        out["start_to_ready_s"] = time.perf_counter() - t_start
        log(f"  daemon ready in {out['start_to_ready_s']:.2f} s ({ready})")
        time.sleep(0.5)
        token = f"{run_no}-{os.getpid()}-{random.SystemRandom().getrandbits(64):016x}"
        for i in range(n):
            folder = f"dir_{(i * 37) % W1_FOLDERS:03d}"
            name = f"latency-{token}-{i:03d}.txt"
            content = f"CloudSync latency probe {token} #{i} at {time.time_ns()}\n".encode()
            target = remote / folder / name
            t0 = time.perf_counter()
            with open(local / folder / name, "wb") as f:
                f.write(content)
            lat = None
            while True:
                try:
                    with open(target, "rb") as f:
                        if f.read() == content:
                            lat = time.perf_counter() - t0
                            break
                except OSError:
                    pass
                if time.perf_counter() - t0 > LAT_TIMEOUT_S:
                    out["timeouts"] += 1
                    break
                time.sleep(LAT_POLL_S)
            out["samples"].append(lat)
            time.sleep(gap_s)
        ps = proc_status(p.pid)
        out["vmhwm_kib"] = ps.get("VmHWM")
        out["vmrss_kib_end"] = ps.get("VmRSS")
        t0 = time.perf_counter()
        p.send_signal(signal.SIGTERM)
        try:
            out["exit_code"] = p.wait(timeout=STOP_TIMEOUT_S)
            out["stop_s"] = time.perf_counter() - t0
        except subprocess.TimeoutExpired:
            out["exit_code"] = None
            out["stop_s"] = None
        out["socket_removed"] = not sock.exists()
        out["clean_exit"] = out["exit_code"] == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        lf.close()
    return out


# --- report ---------------------------------------------------------------------------


def fmt_s(v):
    return "-" if v is None else (f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s")


def fmt_mib(v):
    return "-" if v is None else f"{v / 1024:.1f} MiB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="the cloudsync release binary")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "out" / "results.json"))
    a = ap.parse_args()
    binary = str(Path(a.bin).resolve())
    if not os.access(binary, os.X_OK):
        sys.exit(f"bench: {binary} is not executable")

    runs = env_int("BENCH_RUNS", 5)
    big_mb = env_int("BENCH_BIG_MB", 1024)
    files = env_int("BENCH_FILES", 10000, minimum=W1_FOLDERS)
    lat_n = env_int("BENCH_LAT_N", 20)
    seed = env_int("BENCH_SEED", 20261124, minimum=0)
    gap_s = env_int("BENCH_LAT_GAP_MS", 300, minimum=0) / 1000
    base = Path(os.environ.get("BENCH_DIR") or "/tmp/cloudsync-bench").resolve()

    repo = Path(__file__).resolve().parent.parent

    def git(*args):
        r = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    space = check_space(base, files, big_mb, runs)
    fs = subprocess.run(["df", "-T", str(base)], capture_output=True, text=True).stdout.splitlines()
    meta = {
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "commit": git("rev-parse", "--short", "HEAD"),
        "worktree_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "worktree_modified": [x.strip() for x in (git("status", "--porcelain", "--untracked-files=no") or "").splitlines()],
        "binary": binary,
        "host": platform.node(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "bench_dir": str(base),
        "filesystem": fs[-1].split()[1] if len(fs) > 1 else None,
        "runs": runs, "w1_files": files, "w1_file_size": W1_FILE_SIZE, "w1_folders": W1_FOLDERS,
        "w2_mib": big_mb, "latency_samples_per_run": lat_n, "latency_gap_s": gap_s,
        "seed": seed, "space": space, "loadavg_start": os.getloadavg(),
        "rss_method": ("/usr/bin/time -f %M" if GNU_TIME else "os.wait4 ru_maxrss (upper bound)")
                      + " for one-shot commands; /proc/PID/status VmHWM for the daemon",
    }
    log(f"CloudSync bench: commit {meta['commit']}, {runs} runs, W1 {files} files, "
        f"W2 {big_mb} MiB, in {base}")
    w1, w2 = make_workloads(base, seed, files, big_mb)
    # Read the sources once so every run starts with them in the page cache.
    for root, _, fs_ in os.walk(base / "src"):
        for f in fs_:
            with open(os.path.join(root, f), "rb") as fh:
                while fh.read(1 << 20):
                    pass

    keys = ["base_w1", "base_w2", "w1_pull", "w1_push", "w2_pull", "w2_push", "noop_w1"]
    raw: dict[str, list] = {k: [] for k in keys}
    lat_runs: list[dict] = []
    loads = []
    runs_dir = base / "runs"
    rmtree(runs_dir)
    try:
        for r in range(runs):
            rd = runs_dir / f"run{r + 1}"
            rd.mkdir(parents=True)
            loads.append(os.getloadavg())
            log(f"run {r + 1}/{runs} (load {loads[-1][0]:.2f})")
            # W1 copies stay until the very end: on ext4, creating files soon after
            # deleting many is much slower (the inode allocator skips recently deleted
            # inodes), which would distort whichever step follows a deletion.
            raw["base_w1"].append(baseline(w1, rd / "base-w1", keep=True))
            res, local, remote, cfg = initial_sync(binary, w1, rd / "w1-pull", "pull")
            raw["w1_pull"].append(res)
            noop = noop_sync(binary, cfg, rd / "w1-pull" / "cloudsync.log")
            raw["noop_w1"].append(noop)
            log(f"  W1: cp -r + sync {fmt_s(raw['base_w1'][-1]['wall'])}, "
                f"cloudsync remote -> local {fmt_s(res['wall'])} ({res['engine_says']}), "
                f"no-op {fmt_s(noop['wall'])}")
            lat = latency_test(binary, rd / "w1-pull", local, remote, cfg, lat_n, gap_s, r + 1)
            lat_runs.append(lat)
            ok = [x for x in lat["samples"] if x is not None]
            log(f"  latency median {fmt_s(statistics.median(ok) if ok else None)}, "
                f"{lat['timeouts']} timeouts, daemon exit {lat['exit_code']}")
            res, *_ = initial_sync(binary, w1, rd / "w1-push", "push")
            raw["w1_push"].append(res)
            log(f"  W1: cloudsync local -> remote {fmt_s(res['wall'])}")

            raw["base_w2"].append(baseline(w2, rd / "base-w2", keep=False))
            res2, *_ = initial_sync(binary, w2, rd / "w2-pull", "pull")
            raw["w2_pull"].append(res2)
            rmtree(rd / "w2-pull")
            res3, *_ = initial_sync(binary, w2, rd / "w2-push", "push")
            raw["w2_push"].append(res3)
            rmtree(rd / "w2-push")
            log(f"  W2: cp -r + sync {fmt_s(raw['base_w2'][-1]['wall'])}, cloudsync remote -> "
                f"local {fmt_s(res2['wall'])}, local -> remote {fmt_s(res3['wall'])}")
    finally:
        if runs_dir.exists():
            log(f"removing {runs_dir}")
            rmtree(runs_dir)

    S = {k: summary([x["wall"] for x in raw[k]]) for k in keys}
    flushes = {k: summary([x["flush_after"] for x in raw[k]]) for k in ["w1_pull", "w1_push", "w2_pull", "w2_push"]}
    rss = {k: summary([x["maxrss_kib"] for x in raw[k]]) for k in ["w1_pull", "w1_push", "w2_pull", "w2_push", "noop_w1"]}
    all_lat = [x for lr in lat_runs for x in lr["samples"]]
    lat_sum = summary(all_lat)
    lat_run_medians = summary([statistics.median([x for x in lr["samples"] if x is not None])
                               for lr in lat_runs if any(x is not None for x in lr["samples"])])
    daemon_rss = summary([lr.get("vmhwm_kib") for lr in lat_runs])
    timeouts = sum(lr["timeouts"] for lr in lat_runs)
    clean_exits = all(lr["clean_exit"] for lr in lat_runs)

    def ratio(a, b):
        return S[a]["median"] / S[b]["median"] if S[b]["median"] else None

    ratios = {
        "w1_pull": ratio("w1_pull", "base_w1"), "w1_push": ratio("w1_push", "base_w1"),
        "w2_pull": ratio("w2_pull", "base_w2"), "w2_push": ratio("w2_push", "base_w2"),
    }
    # the same ratio within each run (baseline and cloudsync measured minutes apart at most)
    paired = {k: summary([a["wall"] / b["wall"] for a, b in zip(raw[k], raw["base_" + k[:2]])])
              for k in ["w1_pull", "w1_push", "w2_pull", "w2_push"]}
    checks = [
        ("W1 initial sync (remote -> empty local) within 4x of cp -r + sync",
         ratios["w1_pull"], f"<= {TARGET_W1_RATIO:.0f}x", ratios["w1_pull"] is not None and ratios["w1_pull"] <= TARGET_W1_RATIO),
        ("W1 initial sync (local -> empty remote) within 4x of cp -r + sync",
         ratios["w1_push"], f"<= {TARGET_W1_RATIO:.0f}x", ratios["w1_push"] is not None and ratios["w1_push"] <= TARGET_W1_RATIO),
        ("no-op re-sync of W1 < 0.3 s", S["noop_w1"]["median"], f"< {TARGET_NOOP_S} s",
         S["noop_w1"]["median"] is not None and S["noop_w1"]["median"] < TARGET_NOOP_S),
        ("change-to-done median < 1 s (cloudsync run)", lat_sum["median"], f"< {TARGET_LATENCY_S:.0f} s",
         lat_sum["median"] is not None and lat_sum["median"] < TARGET_LATENCY_S and timeouts == 0),
        ("daemon exits cleanly on SIGTERM", None, "exit 0", clean_exits),
    ]
    info_checks = [
        ("W2 initial sync (remote -> empty local), same 4x bar", ratios["w2_pull"],
         ratios["w2_pull"] is not None and ratios["w2_pull"] <= TARGET_W1_RATIO),
        ("W2 initial sync (local -> empty remote), same 4x bar", ratios["w2_push"],
         ratios["w2_push"] is not None and ratios["w2_push"] <= TARGET_W1_RATIO),
    ]
    meta["loadavg_per_run"] = loads
    meta["loadavg_end"] = os.getloadavg()

    # table
    W = 58
    lines = []
    lines.append(f"CloudSync benchmark - commit {meta['commit']}{' (dirty)' if meta['worktree_dirty'] else ''}, "
                 f"{meta['date_utc']} UTC, {meta['cpus']} CPUs, {meta['filesystem']} at {base}")
    lines.append(f"W1 = {files} x {W1_FILE_SIZE // 1024} KiB in {W1_FOLDERS} folders; W2 = 1 x {big_mb} MiB; "
                 f"{runs} runs; latency: {lat_n} changes per run; load avg 1-min per run: "
                 + ", ".join(f"{x[0]:.2f}" for x in loads))
    lines.append("")
    lines.append(f"{'measurement':<{W}} {'median':>10} {'min':>10} {'max':>10}")
    lines.append("-" * (W + 33))

    def row(label, s, f=fmt_s):
        lines.append(f"{label:<{W}} {f(s['median']):>10} {f(s['min']):>10} {f(s['max']):>10}")

    row("1. baseline cp -r + sync, W1", S["base_w1"])
    row("1. baseline cp -r + sync, W2", S["base_w2"])
    row("2. cloudsync sync --once, W1 remote -> empty local", S["w1_pull"])
    row("2. cloudsync sync --once, W1 local -> empty remote", S["w1_push"])
    row("3. cloudsync sync --once, W2 remote -> empty local", S["w2_pull"])
    row("3. cloudsync sync --once, W2 local -> empty remote", S["w2_push"])
    row("4. no-op re-sync, W1", S["noop_w1"])
    row(f"5. change-to-done latency ({lat_sum['n']} samples)", lat_sum)
    row("5. change-to-done latency, per-run medians", lat_run_medians)
    row("6. peak RSS, sync --once W1 remote -> local", rss["w1_pull"], fmt_mib)
    row("6. peak RSS, sync --once W1 local -> remote", rss["w1_push"], fmt_mib)
    row("6. peak RSS, sync --once W2 remote -> local", rss["w2_pull"], fmt_mib)
    row("6. peak RSS, no-op re-sync W1", rss["noop_w1"], fmt_mib)
    row("6. peak RSS (VmHWM), daemon during latency test", daemon_rss, fmt_mib)
    lines.append("")
    lines.append("not part of the ratios (context):")
    row("   `sync` right after cloudsync, W1 remote -> local", flushes["w1_pull"])
    row("   `sync` right after cloudsync, W2 remote -> local", flushes["w2_pull"])
    row("   cp -r alone (without sync), W1", summary([x["cp"] for x in raw["base_w1"]]))
    row("   cp -r alone (without sync), W2", summary([x["cp"] for x in raw["base_w2"]]))
    row("   daemon start to first round done", summary([lr["start_to_ready_s"] for lr in lat_runs]))
    row("   daemon SIGTERM to exit", summary([lr["stop_s"] for lr in lat_runs]))
    if "p90" in lat_sum:
        lines.append(f"   change-to-done p90: {fmt_s(lat_sum['p90'])}; timeouts (> {LAT_TIMEOUT_S:.0f} s): {timeouts}")
    lines.append("")
    lines.append("ratios cloudsync / (cp -r + sync): of the medians; and per run (median, min, max)")
    for k, label in [("w1_pull", "W1 remote -> local"), ("w1_push", "W1 local -> remote"),
                     ("w2_pull", "W2 remote -> local"), ("w2_push", "W2 local -> remote")]:
        v, p = ratios[k], paired[k]
        lines.append(f"   {label:<22} {'-' if v is None else f'{v:.2f}x':>7}    per run "
                     f"{p['median']:.2f}x ({p['min']:.2f}x - {p['max']:.2f}x)")
    lines.append("")
    lines.append("targets:")
    for label, value, target, ok in checks:
        shown = "" if value is None else (f"{value:.2f}x" if "4x" in label else fmt_s(value))
        lines.append(f"   {'PASS' if ok else 'FAIL'}  {label:<66} {shown:>9}  (target {target})")
    for label, value, ok in info_checks:
        shown = "-" if value is None else f"{value:.2f}x"
        lines.append(f"   {'pass' if ok else 'fail'}  {label:<66} {shown:>9}  (informational)")
    report = "\n".join(lines)
    print(report)

    results = {
        "meta": meta,
        "summary_seconds": S,
        "flush_after_cloudsync_seconds": flushes,
        "peak_rss_kib": {**rss, "daemon_vmhwm": daemon_rss},
        "latency_seconds": {**lat_sum, "per_run_medians": lat_run_medians, "timeouts": timeouts},
        "ratios": ratios,
        "ratios_per_run": paired,
        "targets": [{"check": c[0], "value": c[1], "target": c[2], "pass": c[3]} for c in checks],
        "informational": [{"check": c[0], "value": c[1], "pass": c[2]} for c in info_checks],
        "raw": raw,
        "latency_runs": lat_runs,
        "report": report,
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
