#!/usr/bin/env python3
"""CloudSync against the emulated Dropbox, Google Drive and Baidu (python3 standard
library only).

Usually started by `bench/run.sh cloud`, which builds the release binaries first:

    python3 bench/cloud.py --bin target/release/cloudsync \
        --emulator target/release/cloudsync-emulator [--out bench/out/cloud.json]

Per provider and run, on a fresh emulator (state in memory):
- upload: W-a (10,000 x 4 KiB in 100 folders) or W-c (one 1 GiB file) copied into an empty
  synced folder, then `cloudsync sync --once` (wall time, files/s, MB/s, peak RSS);
- download: a second config dir and empty folder connected to the same account, then
  `sync --once` until the same tree is on its disk;
- latency (after W-a; on Baidu after W-c, see `latency_workload`): the second machine runs
  `cloudsync run`. Dropbox: a new file is
  uploaded straight to the emulator (as another device would), and the clock runs from
  Dropbox's answer until the file is on the second machine's disk (longpoll wakes it).
  Drive and Baidu have no push channel and are polled (Drive every second here, Baidu every
  8 s: its listall allows about 10 calls a minute). Baidu: the file is uploaded straight to
  the emulator too (precreate, superfile2, create). Drive: the first machine syncs the file
  up and the clock runs from the start of that sync (an upper bound). Sampling starts once
  the daemon is idle after its first round.

Knobs (environment): BENCH_DIR (default /tmp/cloudsync-bench-cloud), BENCH_RUNS (3),
BENCH_PROVIDERS (dropbox,gdrive,baidu), BENCH_WORKLOADS (a,c), BENCH_FILES (10000),
BENCH_BIG_MB (1024), BENCH_LAT_N (10), BENCH_SEED (20261124), BENCH_KEEP (0: run folders
are removed; W-a's only at the end, so no run creates files right after mass deletes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import env_int, fmt_s, log, rmtree, summary  # noqa: E402
from remote import (  # noqa: E402
    check_converged, cs_status, env_str, flush, make_workloads, run_cmd, tree_sizes, warm,
)

CONN = "bench"
TOKEN = "bench-token"
POLL_SECS = {"dropbox": 60, "gdrive": 1, "baidu": 8}
LAT_TIMEOUT_S = 120.0
READY_TIMEOUT_S = 240.0
RUNNING: list[subprocess.Popen] = []


def stop(p: subprocess.Popen, timeout: float = 10.0) -> None:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in RUNNING:
        RUNNING.remove(p)


def start_emulator(binary: str, provider: str, logfile: Path) -> tuple[subprocess.Popen, str]:
    lf = open(logfile, "ab")
    p = subprocess.Popen([binary, provider, "--addr", "127.0.0.1:0", "--accept-token", TOKEN],
                         stdout=subprocess.PIPE, stderr=lf, stdin=subprocess.DEVNULL)
    RUNNING.append(p)
    line = p.stdout.readline().decode().strip() if p.stdout else ""
    if not line.startswith("http://"):
        stop(p)
        raise RuntimeError(f"the {provider} emulator printed {line!r} instead of its URL")
    return p, line


def cs(binary: str, cfg: Path, args: list[str], logfile: Path, timeout: float) -> dict:
    return run_cmd([binary, "--config-dir", str(cfg), *args], logfile, timeout,
                   env={"BENCH_TOKEN": TOKEN, "CLOUDSYNC_BAIDU_APP_NAME": "CloudSyncBench"})


def connect(binary: str, provider: str, url: str, cfg: Path, local: Path, logfile: Path) -> None:
    args = ["connection", "add", provider, "--name", CONN, "--local", str(local),
            "--app-key", "bench-app", "--api-base", url, "--token-env", "BENCH_TOKEN",
            "--poll-interval", str(POLL_SECS[provider])]
    r = cs(binary, cfg, args, logfile, 120)
    if r["rc"] != 0:
        raise RuntimeError(f"connection add {provider} exited {r['rc']}; see {logfile}")


def one_run(args, provider: str, w: str, wl: dict, want: dict, base: Path, seq: int) -> dict:
    d = base / "runs" / f"{seq:03d}-{provider}-{w}"
    rmtree(d)
    d.mkdir(parents=True)
    logfile = d / "cloudsync.log"
    emu, url = start_emulator(args.emulator, provider, d / "emulator.log")
    out: dict = {"dir": str(d)}
    try:
        a_cfg, a_local = d / "a-config", d / "a-local"
        a_local.mkdir()
        connect(args.bin, provider, url, a_cfg, a_local, logfile)
        subprocess.run(["cp", "-r", f"{wl[w]}/.", str(a_local)], check=True)
        flush()
        warm(a_local)
        up = cs(args.bin, a_cfg, ["sync", "--once", CONN], logfile, args.timeout)
        out["upload"] = up
        if up["rc"] != 0:
            raise RuntimeError(f"upload sync exited {up['rc']}; see {logfile}")

        b_cfg, b_local = d / "b-config", d / "b-local"
        b_local.mkdir()
        connect(args.bin, provider, url, b_cfg, b_local, logfile)
        flush()
        down = cs(args.bin, b_cfg, ["sync", "--once", CONN], logfile, args.timeout)
        out["download"] = down
        if down["rc"] != 0:
            raise RuntimeError(f"download sync exited {down['rc']}; see {logfile}")
        out["converged"] = check_converged(want[w], tree_sizes(b_local), f"{provider} W-{w} download")

        if args.lat_n > 0 and w == latency_workload(provider):
            out["latency"] = latency(args, provider, url, a_cfg, a_local, b_cfg, b_local, logfile)
    finally:
        stop(emu)
        # W-a's 20,000 small files stay until the end: creating files right after many
        # were deleted is much slower on this ext4 (see bench/README.md), which would
        # slow every run after the first.
        if not args.keep and w != "a":
            rmtree(d)
    return out


def latency_workload(provider: str) -> str:
    """The workload after which change-to-local latency is measured: W-a, except on Baidu.
    Baidu has no change feed: every poll is a full `listall`, 1,000 entries a call, under a
    quota of about 10 calls a minute, so with W-a's 10,000 files one poll costs 10 calls
    and can run about once a minute. Its latency is measured on the one-file tree of W-c."""
    return "c" if provider == "baidu" else "a"


def dropbox_upload(url: str, path: str, data: bytes) -> None:
    """One files/upload to the Dropbox emulator, as another client would."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    arg = json.dumps({"path": path, "mode": "add", "autorename": False})
    conn.request("POST", "/2/files/upload", body=data, headers={
        "Authorization": f"Bearer {TOKEN}", "Dropbox-API-Arg": arg,
        "Content-Type": "application/octet-stream"})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    if r.status != 200:
        raise RuntimeError(f"Dropbox emulator upload: HTTP {r.status} {body[:200]!r}")


def baidu_upload(url: str, path: str, data: bytes) -> None:
    """precreate -> superfile2 -> create on the Baidu emulator, as another client would."""
    import hashlib
    from urllib.parse import urlencode

    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def call(method: str, query: dict, body: bytes, ctype: str) -> dict:
        conn.request(method, f"{query.pop('_path')}?{urlencode(query)}", body=body,
                     headers={"Content-Type": ctype, "User-Agent": "pan.baidu.com"})
        r = conn.getresponse()
        answer = json.loads(r.read() or b"{}")
        if r.status != 200 or answer.get("errno", 0) != 0 or answer.get("error_code", 0) != 0:
            raise RuntimeError(f"Baidu emulator {query}: HTTP {r.status} {answer}")
        return answer

    form = "application/x-www-form-urlencoded"
    blocks = json.dumps([hashlib.md5(data).hexdigest()])
    fields = {"path": path, "size": str(len(data)), "isdir": "0", "rtype": "0",
              "block_list": blocks}
    pre = call("POST", {"_path": "/rest/2.0/xpan/file", "method": "precreate",
                        "access_token": TOKEN},
               urlencode({**fields, "autoinit": "1"}).encode(), form)
    call("POST", {"_path": "/rest/2.0/pcs/superfile2", "method": "upload", "type": "tmpfile",
                  "path": path, "uploadid": pre["uploadid"], "partseq": "0",
                  "access_token": TOKEN}, data, "application/octet-stream")
    call("POST", {"_path": "/rest/2.0/xpan/file", "method": "create", "access_token": TOKEN},
         urlencode({**fields, "uploadid": pre["uploadid"]}).encode(), form)
    conn.close()


def latency(args, provider: str, url: str, a_cfg: Path, a_local: Path, b_cfg: Path,
            b_local: Path, logfile: Path) -> dict:
    daemon_log = open(logfile.with_name("daemon.log"), "ab")
    start_ms = time.time() * 1000
    daemon = subprocess.Popen([args.bin, "--config-dir", str(b_cfg), "run"], stdout=daemon_log,
                              stderr=daemon_log, stdin=subprocess.DEVNULL)
    RUNNING.append(daemon)
    samples = []
    try:
        # Wait out the daemon's first round (for Baidu it may wait for listall quota
        # the download just used), so no sample includes it.
        ready_by = time.perf_counter() + READY_TIMEOUT_S
        while True:
            if daemon.poll() is not None:
                raise RuntimeError(f"daemon exited {daemon.returncode}; see its log")
            st = cs_status(args.bin, b_cfg) if (b_cfg / "control.sock").exists() else None
            if st and st.get("state") == "idle" and (st.get("last_sync") or 0) >= start_ms:
                break
            if time.perf_counter() > ready_by:
                raise RuntimeError(f"daemon not idle after {READY_TIMEOUT_S} s")
            time.sleep(0.1)
        time.sleep(0.5)
        for i in range(args.lat_n):
            name = f"latency-{i:03d}.txt"
            if provider == "dropbox":
                # Straight to the emulator, like another device: the clock starts when
                # Dropbox has the file.
                dropbox_upload(url, f"/CloudSync/{name}", os.urandom(64))
                t0 = time.perf_counter()
            elif provider == "baidu":
                # Likewise; no push channel, so the daemon finds it on its next listall
                # (every POLL_SECS["baidu"] s, within the account's listall quota).
                baidu_upload(url, f"/apps/CloudSyncBench/{name}", os.urandom(64))
                t0 = time.perf_counter()
            else:
                # No push channel to time against: the clock starts when the uploading
                # sync starts, so the figure includes that upload (an upper bound).
                (a_local / name).write_bytes(os.urandom(64))
                t0 = time.perf_counter()
                r = cs(args.bin, a_cfg, ["sync", "--once", CONN], logfile, 120)
                if r["rc"] != 0:
                    raise RuntimeError(f"latency upload exited {r['rc']}")
            while not (b_local / name).exists():
                if time.perf_counter() - t0 > LAT_TIMEOUT_S:
                    raise RuntimeError(f"{name} did not reach the second machine in {LAT_TIMEOUT_S} s")
                time.sleep(0.005)
            samples.append(time.perf_counter() - t0)
            time.sleep(0.2)
    finally:
        stop(daemon)
    return summary(samples)


def rate(files: int, nbytes: int, wall: float) -> str:
    return f"{files / wall:8.0f} files/s {nbytes / wall / 1e6:7.1f} MB/s"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--emulator", required=True)
    ap.add_argument("--out")
    ap.add_argument("--timeout", type=float, default=1800.0)
    args = ap.parse_args()
    args.runs = env_int("BENCH_RUNS", 3)
    args.lat_n = env_int("BENCH_LAT_N", 10, minimum=0)
    args.keep = os.environ.get("BENCH_KEEP", "0") == "1"
    providers = env_str("BENCH_PROVIDERS", "dropbox,gdrive,baidu").split(",")
    workloads = env_str("BENCH_WORKLOADS", "a,c").split(",")
    base = Path(env_str("BENCH_DIR", "/tmp/cloudsync-bench-cloud"))
    seed = env_int("BENCH_SEED", 20261124)
    wl = make_workloads(base, seed, env_int("BENCH_FILES", 10000), 1, env_int("BENCH_BIG_MB", 1024))
    want = {w: tree_sizes(wl[w]) for w in workloads}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    results: dict = {"when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                     "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
                     "runs": args.runs, "providers": {}}
    seq = 0
    try:
        for provider in providers:
            per: dict = {}
            for w in workloads:
                runs = []
                for r in range(args.runs):
                    seq += 1
                    log(f"{provider} W-{w} run {r + 1}/{args.runs}")
                    runs.append(one_run(args, provider, w, wl, want, base, seq))
                files, nbytes = len(want[w]), sum(want[w].values())
                up = summary([x["upload"]["wall"] for x in runs])
                down = summary([x["download"]["wall"] for x in runs])
                per[w] = {
                    "files": files, "bytes": nbytes, "upload_s": up, "download_s": down,
                    "upload_rss_kib": max(x["upload"]["maxrss_kib"] or 0 for x in runs),
                    "download_rss_kib": max(x["download"]["maxrss_kib"] or 0 for x in runs),
                    "latency_s": [x["latency"] for x in runs if "latency" in x],
                }
                log(f"  {provider} W-{w}: upload {fmt_s(up['median'])} "
                    f"({rate(files, nbytes, up['median'])}), download {fmt_s(down['median'])} "
                    f"({rate(files, nbytes, down['median'])})")
                for lat in per[w]["latency_s"]:
                    log(f"  {provider} change-to-local latency: median {fmt_s(lat['median'])}, "
                        f"max {fmt_s(lat['max'])}")
            results["providers"][provider] = per
    finally:
        for p in list(RUNNING):
            stop(p)
        if not args.keep:
            rmtree(base / "runs")
    text = json.dumps(results, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
