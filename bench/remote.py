#!/usr/bin/env python3
"""CloudSync vs rclone against the same `rclone serve webdav` and `moto_server` (python3
standard library only).

Usually started by `bench/run.sh remote`, which builds the release binary first:

    python3 bench/remote.py --bin target/release/cloudsync [--out bench/out/remote.json]

Every figure is taken from outside: wall time of whole commands, peak RSS of the child
(/usr/bin/time -f %M, else os.wait4 rusage, as in run.py), and for the daemon the time
until a local change shows up in the served folder on disk. See bench/README.md
("CloudSync vs rclone") for the method, the knobs and the targets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import GNU_TIME, env_int, fmt_mib, fmt_s, log, rmtree, summary  # noqa: E402

CONN = "bench"
FOLDERS = 100
SMALL = 4096
INTERNAL = (".cloudsync-root", ".cloudsync-trash")
TEMP_PREFIX = ".cloudsync-tmp-"
DAV_USER, DAV_PASS = "bench", "bench-pass-1"
S3_KEY, S3_SECRET = "benchkey", "benchsecret"
RCLONE_FLAGS = ["--transfers", "16", "--checkers", "16"]

TARGET_WA_UPLOAD_S = 10.0
TARGET_WC_VS_CURL = 1.25
TARGET_NOOP_S = 0.5
TARGET_NOOP_VS_RCLONE = 0.5  # at least 2x faster
TARGET_LATENCY_S = 1.0

SERVER_START_TIMEOUT = 30.0
READY_TIMEOUT_S = 300.0
LAT_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0

RUNNING: list[subprocess.Popen] = []  # servers and daemons to stop on the way out


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(p: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 10.0) -> int | None:
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in RUNNING:
        RUNNING.remove(p)
    return p.returncode


def stop_all() -> None:
    for p in list(RUNNING):
        stop(p, timeout=5)


def on_signal(signum, _frame):
    raise SystemExit(f"bench: stopped by signal {signum}")


# --- servers --------------------------------------------------------------------------


class Server:
    def __init__(self, kind: str, root: Path | None, logfile: Path, verbose: bool = False):
        self.kind, self.root = kind, root
        last = None
        for _ in range(3):
            self.port = free_port()
            if kind == "webdav":
                cmd = ["rclone", "serve", "webdav", str(root), "--addr", f"127.0.0.1:{self.port}",
                       "--user", DAV_USER, "--pass", DAV_PASS, "--config", "/dev/null"]
                if DAV_DIR_CACHE:
                    # The tests use 0s; rclone's default (5m) is kept here: with 0s every
                    # PUT re-reads its folder, and 1,000 PUTs into one folder take 9 s, not 1.5 s.
                    cmd += ["--dir-cache-time", DAV_DIR_CACHE]
                if verbose:
                    cmd += ["-vv", "--log-file", str(logfile)]
                env = None
            else:
                cmd = ["moto_server", "-H", "127.0.0.1", "-p", str(self.port)]
                env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "inf"}
            lf = open(logfile, "ab")
            self.proc = subprocess.Popen(cmd, stdout=lf, stderr=lf, stdin=subprocess.DEVNULL, env=env)
            lf.close()
            RUNNING.append(self.proc)
            if self._wait_http():
                return
            last = self.proc.poll()
            stop(self.proc)
        raise RuntimeError(f"{kind} server did not come up (exit {last}); see {logfile}")

    def _wait_http(self) -> bool:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/")
                c.getresponse().read()
                c.close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> float | None:
        """User + system CPU seconds the server process has used so far."""
        try:
            f = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def stop(self) -> None:
        stop(self.proc)


def auth_header() -> dict:
    import base64
    tok = base64.b64encode(f"{DAV_USER}:{DAV_PASS}".encode()).decode()
    return {"Authorization": f"Basic {tok}"}


def http_req(port: int, method: str, path: str, body=None, headers=None) -> int:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def make_bucket(srv: Server, bucket: str) -> None:
    st = http_req(srv.port, "PUT", f"/{bucket}")
    if st not in (200, 409):
        raise RuntimeError(f"creating bucket {bucket}: HTTP {st}")


# --- commands -------------------------------------------------------------------------


def run_cmd(cmd: list[str], logfile: Path, timeout: float, env: dict | None = None) -> dict:
    """Runs one command; wall time, exit code and peak RSS (KiB), killed after timeout."""
    rss_file = logfile.with_suffix(f".rss{random.getrandbits(32):08x}")
    full = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *cmd] if GNU_TIME else cmd
    with open(logfile, "ab") as lf:
        lf.write(f"$ {' '.join(cmd)}\n".encode())
        lf.flush()
        t0 = time.perf_counter()
        p = subprocess.Popen(full, stdout=lf, stderr=lf, stdin=subprocess.DEVNULL,
                             env=child_env(env), start_new_session=True)
        timed_out = []

        def kill():
            timed_out.append(True)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        lf.write(f"# exit {p.returncode} after {wall:.3f} s\n".encode())
    rss = ru.ru_maxrss
    if GNU_TIME:
        try:
            rss = int(rss_file.read_text().split()[-1])
        except (OSError, ValueError, IndexError):
            rss = None
        rss_file.unlink(missing_ok=True)
    # user + system CPU of the child and its children (wait4 rusage, exact in both cases)
    cpu = ru.ru_utime + ru.ru_stime
    return {"wall": wall, "rc": p.returncode, "maxrss_kib": rss, "cpu_s": cpu, "timed_out": bool(timed_out)}


def child_env(extra: dict | None) -> dict:
    """os.environ plus extra; a None value removes the variable."""
    e = {**os.environ, **(extra or {})}
    return {k: v for k, v in e.items() if v is not None}


def flush() -> None:
    subprocess.run(["sync"], check=True)


def cs(binary: str, cfg: Path, args: list[str], logfile: Path, timeout: float, env=None) -> dict:
    return run_cmd([binary, "--config-dir", str(cfg), *args], logfile, timeout,
                   env={"BENCH_DAV_PASS": DAV_PASS, "AWS_ACCESS_KEY_ID": S3_KEY,
                        "BENCH_S3_SECRET": S3_SECRET, **(env or {})})


def with_server_cpu(srv: Server, fn) -> dict:
    """Runs fn() and adds the server's CPU seconds spent meanwhile as server_cpu_s."""
    c0 = srv.cpu()
    res = fn()
    c1 = srv.cpu()
    res["server_cpu_s"] = c1 - c0 if c0 is not None and c1 is not None else None
    return res


def rclone_env(backend: str, srv: Server) -> dict:
    if backend == "webdav":
        return {"RCLONE_WEBDAV_URL": srv.url, "RCLONE_WEBDAV_USER": DAV_USER,
                "RCLONE_WEBDAV_PASS": OBSCURED_PASS, "RCLONE_WEBDAV_VENDOR": "other"}
    return {"RCLONE_S3_PROVIDER": "Other", "RCLONE_S3_ENDPOINT": srv.url,
            "RCLONE_S3_ACCESS_KEY_ID": S3_KEY, "RCLONE_S3_SECRET_ACCESS_KEY": S3_SECRET,
            "RCLONE_S3_REGION": "us-east-1", "RCLONE_S3_FORCE_PATH_STYLE": "true",
            # rclone 1.60 cannot combine a CA bundle from the environment with its own
            # transport (LoadCustomCABundleError); the endpoint is plain http anyway.
            "AWS_CA_BUNDLE": None}


def rclone_target(backend: str, bucket: str) -> str:
    return ":webdav:" if backend == "webdav" else f":s3:{bucket}"


def rclone(args: list[str], backend: str, srv: Server, logfile: Path, timeout: float) -> dict:
    return run_cmd(["rclone", "--config", "/dev/null", *args], logfile, timeout,
                   env=rclone_env(backend, srv))


# --- workloads ------------------------------------------------------------------------


def is_internal(name: str) -> bool:
    return name in INTERNAL or name.startswith(TEMP_PREFIX)


def tree_sizes(root: Path) -> dict[str, int]:
    out = {}
    for r, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not is_internal(d)]
        for f in files:
            if not is_internal(f):
                p = Path(r, f)
                out[str(p.relative_to(root))] = p.stat().st_size
    return out


def make_workloads(base: Path, seed: int, n_a: int, n_b: int, c_mb: int) -> dict[str, Path]:
    src = base / "src"
    stamp = {"v": 1, "seed": seed, "a": n_a, "b": n_b, "c_mb": c_mb}
    paths = {"a": src / "wa", "b": src / "wb", "c": src / "wc"}
    try:
        if json.loads((src / "stamp.json").read_text()) == stamp:
            log(f"reusing workloads in {src} (seed {seed})")
            return paths
    except (OSError, ValueError):
        pass
    rmtree(src)
    log(f"generating W-a ({n_a} x 4 KiB in {FOLDERS} folders), W-b ({n_b} x 1 MiB), "
        f"W-c (1 x {c_mb} MiB), seed {seed}, in {src}")
    rng = random.Random(seed)
    for d in range(FOLDERS):
        (paths["a"] / f"dir_{d:03d}").mkdir(parents=True)
    for i in range(n_a):
        (paths["a"] / f"dir_{i % FOLDERS:03d}" / f"file_{i // FOLDERS:05d}.bin").write_bytes(rng.randbytes(SMALL))
    rng = random.Random(seed + 1)
    paths["b"].mkdir(parents=True)
    for i in range(n_b):
        (paths["b"] / f"file_{i:04d}.bin").write_bytes(rng.randbytes(1 << 20))
    rng = random.Random(seed + 2)
    paths["c"].mkdir(parents=True)
    with open(paths["c"] / "big.bin", "wb") as f:
        for _ in range(c_mb):
            f.write(rng.randbytes(1 << 20))
    flush()
    (src / "stamp.json").write_text(json.dumps(stamp))
    return paths


def warm(p: Path) -> None:
    for r, _, files in os.walk(p):
        for f in files:
            with open(os.path.join(r, f), "rb") as fh:
                while fh.read(1 << 20):
                    pass


# --- remote contents ------------------------------------------------------------------


def remote_sizes(backend: str, srv: Server, bucket: str, logfile: Path) -> dict[str, int]:
    if backend == "webdav":
        return tree_sizes(srv.root)
    r = subprocess.run(["rclone", "--config", "/dev/null", "lsjson", "-R", "--files-only",
                        rclone_target(backend, bucket)], capture_output=True, timeout=600,
                       env=child_env(rclone_env(backend, srv)))
    if r.returncode != 0:
        with open(logfile, "ab") as lf:
            lf.write(r.stderr)
        raise RuntimeError(f"rclone lsjson failed; see {logfile}")
    out = {}
    for e in json.loads(r.stdout):
        parts = e["Path"].split("/")
        if any(is_internal(x) for x in parts):
            continue
        out[e["Path"]] = e["Size"]
    return out


def check_converged(want: dict[str, int], have: dict[str, int], what: str) -> dict:
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    wrong = sorted(k for k in set(want) & set(have) if want[k] != have[k])
    res = {"files": len(have), "bytes": sum(have.values()), "missing": len(missing),
           "extra": len(extra), "wrong_size": len(wrong)}
    if missing or extra or wrong:
        raise RuntimeError(f"{what}: not converged: {len(missing)} missing (e.g. {missing[:3]}), "
                           f"{len(extra)} extra (e.g. {extra[:3]}), {len(wrong)} wrong size")
    return res


# --- one measurement ------------------------------------------------------------------


class Ctx:
    def __init__(self, binary, base, wl, want, timeout):
        self.binary, self.base, self.wl, self.want, self.timeout = binary, base, wl, want, timeout
        self.seq = 0

    def dir(self, tag: str) -> Path:
        self.seq += 1
        d = self.base / "runs" / f"{self.seq:03d}-{tag}"
        d.mkdir(parents=True)
        return d


def start_remote(backend: str, d: Path, verbose=False) -> tuple[Server, str]:
    bucket = ""
    if backend == "webdav":
        (d / "served").mkdir()
        srv = Server("webdav", d / "served", d / "server.log", verbose)
    else:
        srv = Server("s3", None, d / "server.log")
        bucket = f"bench-{random.getrandbits(32):08x}"
        make_bucket(srv, bucket)
    return srv, bucket


def cs_add(ctx: Ctx, backend: str, srv: Server, bucket: str, cfg: Path, local: Path, logfile: Path) -> None:
    if backend == "webdav":
        args = ["connection", "add", "webdav", "--name", CONN, "--local", str(local),
                "--url", srv.url, "--user", DAV_USER, "--password-env", "BENCH_DAV_PASS"]
    else:
        args = ["connection", "add", "s3", "--name", CONN, "--local", str(local),
                "--endpoint", srv.url, "--bucket", bucket, "--access-key-env", "AWS_ACCESS_KEY_ID",
                "--secret-key-env", "BENCH_S3_SECRET"]
    r = cs(ctx.binary, cfg, args, logfile, 120)
    if r["rc"] != 0:
        raise RuntimeError(f"connection add exited {r['rc']}; see {logfile}")


def cs_status(binary: str, cfg: Path) -> dict | None:
    r = subprocess.run([binary, "--config-dir", str(cfg), "status", "--json"], capture_output=True, timeout=60)
    try:
        rows = json.loads(r.stdout)
        return next((c for c in rows if c.get("name") == CONN), None)
    except ValueError:
        return None


def last_line(p: Path) -> str:
    lines = [x for x in p.read_text(errors="replace").splitlines() if x.strip() and not x.startswith("#")]
    return lines[-1] if lines else ""


def measure_cloudsync(ctx: Ctx, backend: str, w: str, noop: bool, keep: bool) -> dict:
    d = ctx.dir(f"cs-{backend}-{w}")
    logfile = d / "cloudsync.log"
    local, cfg = d / "local", d / "config"
    local.mkdir()
    srv, bucket = start_remote(backend, d)
    out: dict = {"dir": str(d)}
    try:
        cs_add(ctx, backend, srv, bucket, cfg, local, logfile)
        subprocess.run(["cp", "-r", f"{ctx.wl[w]}/.", str(local)], check=True)
        flush()
        up = with_server_cpu(srv, lambda: cs(ctx.binary, cfg, ["sync", "--once", CONN], logfile, ctx.timeout))
        up["engine_says"] = last_line(logfile)
        out["upload"] = up
        if up["rc"] != 0:
            raise RuntimeError(f"cloudsync sync --once exited {up['rc']}"
                               f"{' (timeout)' if up['timed_out'] else ''}; see {logfile}")
        out["status"] = st = cs_status(ctx.binary, cfg)
        out["converged"] = check_converged(ctx.want[w], remote_sizes(backend, srv, bucket, logfile),
                                           f"cloudsync {backend} W-{w}")
        if st and st.get("state") not in ("idle", None):
            log(f"  note: status after sync is {st.get('state')!r}")
        if noop:
            n = with_server_cpu(srv, lambda: cs(ctx.binary, cfg, ["sync", "--once", CONN], logfile, ctx.timeout))
            n["engine_says"] = last_line(logfile)
            out["noop"] = n
            if n["rc"] != 0:
                raise RuntimeError(f"no-op sync exited {n['rc']}; see {logfile}")
    finally:
        srv.stop()
        if not keep:
            rmtree(d)
    return out


def measure_rclone(ctx: Ctx, backend: str, w: str, noop: bool, keep: bool, extra_noops: int = 0) -> dict:
    d = ctx.dir(f"rc-{backend}-{w}")
    logfile = d / "rclone.log"
    srv, bucket = start_remote(backend, d)
    out: dict = {"dir": str(d)}
    target = rclone_target(backend, bucket)
    try:
        flush()
        up = with_server_cpu(srv, lambda: rclone(["copy", str(ctx.wl[w]), target, *RCLONE_FLAGS], backend, srv,
                                                 logfile, ctx.timeout))
        out["upload"] = up
        if up["rc"] != 0:
            raise RuntimeError(f"rclone copy exited {up['rc']}"
                               f"{' (timeout)' if up['timed_out'] else ''}; see {logfile}")
        out["converged"] = check_converged(ctx.want[w], remote_sizes(backend, srv, bucket, logfile),
                                           f"rclone {backend} W-{w}")
        if noop:
            out["noops"] = []
            for _ in range(1 + extra_noops):
                n = with_server_cpu(srv, lambda: rclone(["sync", str(ctx.wl[w]), target, *RCLONE_FLAGS], backend,
                                                        srv, logfile, ctx.timeout))
                out["noops"].append(n)
                if n["rc"] != 0:
                    raise RuntimeError(f"rclone no-op sync exited {n['rc']}; see {logfile}")
    finally:
        srv.stop()
        if not keep:
            rmtree(d)
    return out


# --- raw limits -----------------------------------------------------------------------


def measure_curl(ctx: Ctx, backend: str) -> dict:
    """`curl -T` of W-c to a new server: the reference for CloudSync's W-c upload, measured
    in the same run (seconds apart) so that load drift on a shared machine cancels out."""
    d = ctx.dir(f"curl-{backend}")
    srv, bucket = start_remote(backend, d)
    try:
        flush()
        url = f"{srv.url}/big.bin" if backend == "webdav" else f"{srv.url}/{bucket}/big.bin"
        cmd = ["curl", "-sS", "-f", "-o", "/dev/null", "-T", str(ctx.wl["c"] / "big.bin"), url]
        if backend == "webdav":
            cmd[1:1] = ["-u", f"{DAV_USER}:{DAV_PASS}"]
        res = with_server_cpu(srv, lambda: run_cmd(cmd, d / "curl.log", ctx.timeout))
        if res["rc"] != 0:
            raise RuntimeError(f"curl -T exited {res['rc']}; see {d / 'curl.log'}")
        return {"upload": res}
    finally:
        srv.stop()
        rmtree(d)


def raw_limits(ctx: Ctx, backend: str, runs: int, puts: int) -> dict:
    d = ctx.dir(f"raw-{backend}")
    srv, bucket = start_remote(backend, d)
    big = ctx.wl["c"] / "big.bin"
    out: dict = {"curl_T": [], "seq_puts": []}
    prefix = "" if backend == "webdav" else f"/{bucket}"
    try:
        for r in range(runs):
            flush()
            path = f"{prefix}/curl-{r}.bin"
            cmd = ["curl", "-sS", "-f", "-o", "/dev/null", "-T", str(big), f"{srv.url}{path}"]
            if backend == "webdav":
                cmd[1:1] = ["-u", f"{DAV_USER}:{DAV_PASS}"]
            res = with_server_cpu(srv, lambda: run_cmd(cmd, d / "curl.log", ctx.timeout))
            if res["rc"] != 0:
                raise RuntimeError(f"curl -T exited {res['rc']}; see {d / 'curl.log'}")
            out["curl_T"].append(res)
            if backend == "webdav":
                (srv.root / f"curl-{r}.bin").unlink(missing_ok=True)
            else:
                http_req(srv.port, "DELETE", path)
        hdr = auth_header() if backend == "webdav" else {}
        rng = random.Random(7)
        bodies = [rng.randbytes(SMALL) for _ in range(puts)]
        for r in range(runs):
            folder = f"{prefix}/puts-{r}"
            if backend == "webdav":
                st = http_req(srv.port, "MKCOL", folder + "/", headers=hdr)
                if st not in (201, 405):
                    raise RuntimeError(f"MKCOL: HTTP {st}")
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
            t0 = time.perf_counter()
            for i in range(puts):
                c.request("PUT", f"{folder}/f{i:05d}.bin", body=bodies[i],
                          headers={**hdr, "Content-Type": "application/octet-stream"})
                resp = c.getresponse()
                resp.read()
                if resp.status not in (200, 201, 204):
                    raise RuntimeError(f"PUT #{i}: HTTP {resp.status}")
            wall = time.perf_counter() - t0
            c.close()
            out["seq_puts"].append({"wall": wall, "n": puts})
    finally:
        srv.stop()
        rmtree(d)
    return out


# --- change-to-server latency ---------------------------------------------------------


def latency(ctx: Ctx, n: int, gap_s: float) -> dict:
    d = ctx.dir("lat-webdav")
    logfile = d / "cloudsync.log"
    local, cfg = d / "local", d / "config"
    local.mkdir()
    srv, bucket = start_remote("webdav", d)
    out: dict = {"samples": [], "timeouts": 0}
    daemon = None
    try:
        cs_add(ctx, "webdav", srv, bucket, cfg, local, logfile)
        subprocess.run(["cp", "-r", f"{ctx.wl['a']}/.", str(local)], check=True)
        r = cs(ctx.binary, cfg, ["sync", "--once", CONN], logfile, ctx.timeout)
        if r["rc"] != 0:
            raise RuntimeError(f"sync --once before the latency test exited {r['rc']}; see {logfile}")
        start_ms = time.time() * 1000
        t_start = time.perf_counter()
        lf = open(d / "daemon.log", "ab")
        daemon = subprocess.Popen([ctx.binary, "--config-dir", str(cfg), "run"], stdout=lf, stderr=lf,
                                  stdin=subprocess.DEVNULL, env={**os.environ, "BENCH_DAV_PASS": DAV_PASS})
        lf.close()
        RUNNING.append(daemon)
        ready = False
        while time.perf_counter() - t_start < READY_TIMEOUT_S:
            if daemon.poll() is not None:
                raise RuntimeError(f"daemon exited {daemon.returncode}; see {d / 'daemon.log'}")
            if (cfg / "control.sock").exists():
                st = cs_status(ctx.binary, cfg)
                if st and st.get("state") == "idle" and (st.get("last_sync") or 0) >= start_ms:
                    ready = True
                    break
            time.sleep(0.05)
        if not ready:
            raise RuntimeError(f"daemon not idle after {READY_TIMEOUT_S} s")
        out["start_to_ready_s"] = time.perf_counter() - t_start
        log(f"  daemon ready in {out['start_to_ready_s']:.2f} s")
        time.sleep(1.0)
        rel = Path("dir_042") / sorted(os.listdir(local / "dir_042"))[0]
        served = srv.root / rel
        rng = random.SystemRandom()
        for i in range(n):
            content = f"latency probe {i} {time.time_ns()} ".encode()
            content += rng.randbytes(SMALL - len(content))
            t0 = time.perf_counter()
            with open(local / rel, "wb") as f:
                f.write(content)
            lat = None
            while True:
                try:
                    with open(served, "rb") as f:
                        if f.read() == content:
                            lat = time.perf_counter() - t0
                            break
                except OSError:
                    pass
                if time.perf_counter() - t0 > LAT_TIMEOUT_S:
                    out["timeouts"] += 1
                    break
                time.sleep(0.001)
            out["samples"].append(lat)
            log(f"  change #{i + 1}: {fmt_s(lat)}")
            time.sleep(gap_s)
        try:
            hwm = [x for x in Path(f"/proc/{daemon.pid}/status").read_text().splitlines() if x.startswith("VmHWM")]
            out["vmhwm_kib"] = int(hwm[0].split()[1]) if hwm else None
        except OSError:
            out["vmhwm_kib"] = None
        out["daemon_exit"] = stop(daemon, timeout=STOP_TIMEOUT_S)
    finally:
        if daemon is not None and daemon.poll() is None:
            stop(daemon)
        srv.stop()
    return out


# --- report ---------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="the cloudsync release binary")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "out" / "remote.json"))
    a = ap.parse_args()
    binary = str(Path(a.bin).resolve())
    if not os.access(binary, os.X_OK):
        sys.exit(f"bench: {binary} is not executable")
    for prog, probe in (("rclone", ["rclone", "version"]), ("moto_server", ["moto_server", "--help"]),
                        ("curl", ["curl", "--version"])):
        try:
            subprocess.run(probe, capture_output=True, timeout=60, check=True)
        except (OSError, subprocess.SubprocessError):
            sys.exit(f"bench: `{prog}` is missing or broken: run scripts/ensure-deps.sh first")

    global DAV_DIR_CACHE, OBSCURED_PASS
    quick = os.environ.get("BENCH_QUICK", "0") == "1"
    runs = env_int("BENCH_RUNS", 1 if quick else 5)
    slow_runs = env_int("BENCH_RCLONE_SLOW_RUNS", 1)
    n_a = env_int("BENCH_FILES", 1000 if quick else 10000, minimum=FOLDERS)
    n_b = env_int("BENCH_WB_FILES", 20 if quick else 200)
    c_mb = env_int("BENCH_BIG_MB", 64 if quick else 1024)
    lat_n = env_int("BENCH_LAT_N", 5 if quick else 11, minimum=0)
    puts = env_int("BENCH_PUTS", 1000)
    seed = env_int("BENCH_SEED", 20261125, minimum=0)
    timeout = env_int("BENCH_CMD_TIMEOUT", 1800)
    gap_s = env_int("BENCH_LAT_GAP_MS", 500, minimum=0) / 1000
    backends = [b for b in env_str("BENCH_BACKENDS", "webdav,s3").split(",") if b]
    workloads = [w for w in env_str("BENCH_WORKLOADS", "a,b,c").split(",") if w]
    tools = [t for t in env_str("BENCH_TOOLS", "cloudsync,rclone").split(",") if t]
    DAV_DIR_CACHE = os.environ.get("BENCH_DAV_DIR_CACHE", "").strip()
    base = Path(env_str("BENCH_DIR", "/tmp/cloudsync-bench-remote")).resolve()
    OBSCURED_PASS = subprocess.run(["rclone", "obscure", DAV_PASS], capture_output=True, text=True,
                                   check=True).stdout.strip()
    repo = Path(__file__).resolve().parent.parent

    def git(*args):
        r = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    base.mkdir(parents=True, exist_ok=True)
    need = 2 * (n_a * SMALL + n_b * (1 << 20) + (c_mb << 20)) + runs * 4 * n_a * (SMALL + 512) + (c_mb << 21) + (1 << 30)
    if shutil.disk_usage(base).free < need:
        sys.exit(f"bench: {base} needs about {need >> 20} MiB free")
    signal.signal(signal.SIGTERM, on_signal)

    meta = {
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "commit": git("rev-parse", "--short", "HEAD"),
        "worktree_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "binary": binary, "host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
        "rclone": subprocess.run(["rclone", "version"], capture_output=True, text=True).stdout.splitlines()[0],
        "runs": runs, "rclone_slow_runs": slow_runs, "quick": quick, "wa_files": n_a, "wb_files": n_b,
        "wc_mib": c_mb, "latency_changes": lat_n, "seed": seed, "dav_dir_cache_time": DAV_DIR_CACHE or "rclone default",
        "backends": backends, "workloads": workloads, "tools": tools, "loadavg_start": os.getloadavg(),
        "rss_method": "/usr/bin/time -f %M" if GNU_TIME else "os.wait4 ru_maxrss (upper bound)",
    }
    log(f"CloudSync vs rclone: commit {meta['commit']}, {runs} runs (rclone W-a WebDAV upload: "
        f"{slow_runs}), W-a {n_a} files, W-b {n_b} x 1 MiB, W-c {c_mb} MiB, in {base}")
    wl = make_workloads(base, seed, n_a, n_b, c_mb)
    want = {w: tree_sizes(p) for w, p in wl.items()}
    for p in wl.values():
        warm(p)
    ctx = Ctx(binary, base, wl, want, timeout)
    rmtree(base / "runs")

    results: dict = {}
    raw: dict = {}
    loads = []
    t_all = time.perf_counter()
    try:
        for b in backends:
            raw[f"raw_{b}"] = raw_limits(ctx, b, runs, puts)
            rl = raw[f"raw_{b}"]
            log(f"{b}: curl -T W-c {fmt_s(statistics.median(x['wall'] for x in rl['curl_T']))}, "
                f"{puts} sequential PUTs {fmt_s(statistics.median(x['wall'] for x in rl['seq_puts']))}")
            for w in workloads:
                rc_runs = slow_runs if (b == "webdav" and w == "a") else runs
                key = f"{b}_{w}"
                raw[key] = {"cloudsync": [], "rclone": [], "curl": []}
                for r in range(runs):
                    loads.append(os.getloadavg()[0])
                    keep = w == "a"  # keep W-a trees: ext4 creates files slowly right after mass deletes
                    if "cloudsync" in tools:
                        try:
                            m = measure_cloudsync(ctx, b, w, noop=(w == "a"), keep=keep)
                        except Exception as e:  # noqa: BLE001 - recorded, the rest goes on
                            log(f"  ERROR {e}")
                            m = {"error": str(e)}
                        raw[key]["cloudsync"].append(m)
                        log(f"{b} W-{w} run {r + 1}/{runs} (load {loads[-1]:.2f}): cloudsync upload "
                            f"{fmt_s(m.get('upload', {}).get('wall'))}"
                            + (f", no-op {fmt_s(m['noop']['wall'])}" if "noop" in m else "")
                            + (f" [{m['upload'].get('engine_says', '')}]" if "upload" in m else ""))
                    if "rclone" in tools and r < rc_runs:
                        extra = (runs - rc_runs) if (w == "a" and r == rc_runs - 1) else 0
                        try:
                            m = measure_rclone(ctx, b, w, noop=(w == "a"), keep=keep, extra_noops=extra)
                        except Exception as e:  # noqa: BLE001
                            log(f"  ERROR {e}")
                            m = {"error": str(e)}
                        raw[key]["rclone"].append(m)
                        log(f"{b} W-{w} run {r + 1}/{runs}: rclone copy {fmt_s(m.get('upload', {}).get('wall'))}"
                            + (f", no-op sync {', '.join(fmt_s(x['wall']) for x in m['noops'])}" if "noops" in m else ""))
                    if w == "c":
                        try:
                            m = measure_curl(ctx, b)
                        except Exception as e:  # noqa: BLE001
                            log(f"  ERROR {e}")
                            m = {"error": str(e)}
                        raw[key]["curl"].append(m)
                        log(f"{b} W-{w} run {r + 1}/{runs}: curl -T {fmt_s(m.get('upload', {}).get('wall'))}")
        if "webdav" in backends and "a" in workloads and "cloudsync" in tools and lat_n > 0:
            log(f"latency: cloudsync run on WebDAV with W-a, {lat_n} changes of one file")
            try:
                raw["latency"] = latency(ctx, lat_n, gap_s)
            except Exception as e:  # noqa: BLE001
                log(f"  ERROR {e}")
                raw["latency"] = {"error": str(e), "samples": [], "timeouts": 0}
    finally:
        stop_all()
        if (base / "runs").exists():
            log(f"removing {base / 'runs'}")
            rmtree(base / "runs")
    meta["total_s"] = time.perf_counter() - t_all
    meta["loadavg_per_measurement"] = loads
    meta["loadavg_end"] = os.getloadavg()

    # --- summaries
    def walls(ms, phase):
        out = []
        for m in ms:
            if phase == "upload":
                v = m.get("upload")
                out.append(v["wall"] if v and v["rc"] == 0 else None)
            elif phase == "noop":
                if "noop" in m:
                    out.append(m["noop"]["wall"] if m["noop"]["rc"] == 0 else None)
                for n in m.get("noops", []):
                    out.append(n["wall"] if n["rc"] == 0 else None)
        return [x for x in out if x is not None], len(out) - len([x for x in out if x is not None]) + sum(1 for m in ms if "error" in m)

    def rsss(ms, phase, field="maxrss_kib"):
        out = []
        for m in ms:
            if phase == "upload" and m.get("upload"):
                out.append(m["upload"].get(field))
            elif phase == "noop":
                if "noop" in m:
                    out.append(m["noop"].get(field))
                out += [n.get(field) for n in m.get("noops", [])]
        return [x for x in out if x is not None]

    wl_files = {w: len(want[w]) for w in wl}
    wl_bytes = {w: sum(want[w].values()) for w in wl}
    rows = []
    for b in backends:
        for w in workloads:
            key = f"{b}_{w}"
            for phase in (["upload", "noop"] if w == "a" else ["upload"]):
                row = {"backend": b, "workload": w, "phase": phase}
                for tool in tools:
                    ws, errs = walls(raw[key][tool], phase)
                    s = summary(ws)
                    rs = summary(rsss(raw[key][tool], phase))
                    row[tool] = {"wall": s, "errors": errs, "rss_kib": rs,
                             "cpu_s": summary(rsss(raw[key][tool], phase, "cpu_s")),
                             "server_cpu_s": summary(rsss(raw[key][tool], phase, "server_cpu_s")),
                                 "files_per_s": wl_files[w] / s["median"] if s["median"] else None,
                                 "mb_per_s": wl_bytes[w] / 1e6 / s["median"] if s["median"] and phase == "upload" else None}
                if w == "c" and raw[key].get("curl"):
                    cw = [m["upload"]["wall"] if "upload" in m and m["upload"]["rc"] == 0 else None
                          for m in raw[key]["curl"]]
                    row["curl"] = summary([x for x in cw if x is not None])
                    row["curl_server_cpu_s"] = summary([m["upload"].get("server_cpu_s") for m in raw[key]["curl"]
                                                        if "upload" in m and m["upload"].get("server_cpu_s") is not None])
                    csw = [m["upload"]["wall"] if "upload" in m and m["upload"]["rc"] == 0 else None
                           for m in raw[key].get("cloudsync", [])]
                    row["curl_paired"] = summary([a / b_ for a, b_ in zip(csw, cw) if a and b_])
                cm = row.get("cloudsync", {}).get("wall", {}).get("median")
                rm = row.get("rclone", {}).get("wall", {}).get("median")
                row["ratio"] = cm / rm if cm and rm else None
                rows.append(row)
    rawsum = {}
    for b in backends:
        rl = raw[f"raw_{b}"]
        ct = summary([x["wall"] for x in rl["curl_T"]])
        sp = summary([x["wall"] for x in rl["seq_puts"]])
        rawsum[b] = {"curl_T": ct, "curl_T_server_cpu_s": summary([x.get("server_cpu_s") for x in rl["curl_T"]
                                                                     if x.get("server_cpu_s") is not None]), "curl_T_mb_per_s": wl_bytes["c"] / 1e6 / ct["median"] if ct["median"] else None,
                     "seq_puts": sp, "puts": puts, "puts_per_s": puts / sp["median"] if sp["median"] else None}
    lat = raw.get("latency")
    lat_sum = summary([x for x in lat["samples"] if x is not None]) if lat else None

    def find(b, w, phase):
        return next((r for r in rows if (r["backend"], r["workload"], r["phase"]) == (b, w, phase)), None)

    checks = []
    r = find("webdav", "a", "upload")
    if r and "cloudsync" in r:
        v = r["cloudsync"]["wall"]["median"]
        checks.append(("W-a initial upload to WebDAV <= 10 s", fmt_s(v), v is not None and v <= TARGET_WA_UPLOAD_S))
    for b in backends:
        r = find(b, "c", "upload")
        if r and "cloudsync" in r and r.get("curl_paired", {}).get("n"):
            v, c, pr = r["cloudsync"]["wall"]["median"], r["curl"]["median"], r["curl_paired"]
            q = v / c if v and c else None
            checks.append((f"W-c upload to {b} within 1.25x of curl -T ({fmt_s(v)} vs {fmt_s(c)}; "
                           f"per run {pr['median']:.2f}x, {pr['min']:.2f}x-{pr['max']:.2f}x)",
                           "-" if q is None else f"{q:.2f}x", q is not None and q <= TARGET_WC_VS_CURL, b != "webdav"))
    r = find("webdav", "a", "noop")
    if r and "cloudsync" in r:
        v = r["cloudsync"]["wall"]["median"]
        checks.append(("no-op re-sync of W-a on WebDAV <= 0.5 s", fmt_s(v), v is not None and v <= TARGET_NOOP_S))
    for b in backends:
        r = find(b, "a", "noop")
        if r and r.get("ratio") is not None:
            checks.append((f"no-op re-sync of W-a on {b} >= 2x faster than rclone sync "
                           f"({fmt_s(r['cloudsync']['wall']['median'])} vs {fmt_s(r['rclone']['wall']['median'])})",
                           f"{r['ratio']:.2f}x", r["ratio"] <= TARGET_NOOP_VS_RCLONE))
    if lat_sum:
        v = lat_sum["median"]
        checks.append((f"change reaches the WebDAV server < 1 s under cloudsync run ({lat_sum['n']} changes, "
                       f"{lat['timeouts']} timeouts)", fmt_s(v), v is not None and v < TARGET_LATENCY_S and lat["timeouts"] == 0))

    # --- table
    L = []
    L.append(f"CloudSync vs rclone - commit {meta['commit']}{' (dirty)' if meta['worktree_dirty'] else ''}, "
             f"{meta['date_utc']} UTC, {meta['cpus']} CPUs, {meta['rclone']}")
    L.append(f"W-a = {n_a} x 4 KiB in {FOLDERS} folders; W-b = {n_b} x 1 MiB; W-c = 1 x {c_mb} MiB; seed {seed}; "
             f"median of {runs} runs unless (n) says otherwise; rclone: {' '.join(RCLONE_FLAGS)}")
    L.append(f"load avg (1 min) during the runs: {min(loads, default=0):.2f}-{max(loads, default=0):.2f}; "
             f"total {meta['total_s'] / 60:.1f} min")
    L.append("")
    hdr = (f"{'backend':<7} {'work':<4} {'phase':<7}| {'CloudSync':>12} {'files/s':>8} {'MB/s':>7} {'RSS':>9} "
           f"| {'rclone':>12} {'files/s':>8} {'MB/s':>7} {'RSS':>9} | {'CS/rclone':>9}")
    L.append(hdr)
    L.append("-" * len(hdr))

    def cell(t):
        if not t or t["wall"]["median"] is None:
            return f"{'-':>12} {'-':>8} {'-':>7} {'-':>9}"
        s = t["wall"]
        n = f"({s['n']}{', ' + str(t['errors']) + ' err' if t['errors'] else ''})"
        fps = "-" if t["files_per_s"] is None else (f"{t['files_per_s']:.0f}" if t["files_per_s"] >= 100
                                                    else f"{t['files_per_s']:.3g}")
        mbs = f"{t['mb_per_s']:.1f}" if t["mb_per_s"] is not None else "-"
        return f"{fmt_s(s['median']) + ' ' + n:>12} {fps:>8} {mbs:>7} {fmt_mib(t['rss_kib']['median']):>9}"

    for r in rows:
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
        L.append(f"{r['backend']:<7} {'W-' + r['workload']:<4} {r['phase']:<7}| {cell(r.get('cloudsync'))} "
                 f"| {cell(r.get('rclone'))} | {ratio:>9}")
    L.append("")
    L.append("wall: median (runs); min-max per cell:")
    for r in rows:
        parts = []
        for tool in tools:
            s = r[tool]["wall"]
            if s["n"]:
                parts.append(f"{tool} {fmt_s(s['min'])}-{fmt_s(s['max'])}")
        if r.get("curl", {}).get("n"):
            c = r["curl"]
            parts.append(f"curl -T (same runs) {fmt_s(c['median'])} ({c['n']}), {fmt_s(c['min'])}-{fmt_s(c['max'])}")
        L.append(f"   {r['backend']} W-{r['workload']} {r['phase']}: " + "; ".join(parts))
    L.append("")
    L.append("CPU seconds (median; user + system): the client command / the server meanwhile")
    for r in rows:
        parts = []
        for tool in tools:
            c, sc = r[tool]["cpu_s"]["median"], r[tool]["server_cpu_s"]["median"]
            if c is not None:
                parts.append(f"{tool} {c:.2f} / {'-' if sc is None else f'{sc:.2f}'}")
        if r.get("curl_server_cpu_s", {}).get("n"):
            parts.append(f"curl -T server {r['curl_server_cpu_s']['median']:.2f}")
        L.append(f"   {r['backend']} W-{r['workload']} {r['phase']}: " + "; ".join(parts))
    L.append("")
    L.append("raw limits (same servers):")
    for b in backends:
        x = rawsum[b]
        L.append(f"   {b:<7} curl -T W-c ({c_mb} MiB): {fmt_s(x['curl_T']['median'])} "
                 f"({x['curl_T_mb_per_s']:.0f} MB/s, server CPU {x['curl_T_server_cpu_s']['median'] or 0:.2f} s);  {puts} sequential 4 KiB PUTs on one connection: "
                 f"{fmt_s(x['seq_puts']['median'])} ({x['puts_per_s']:.0f} PUT/s)")
    if lat_sum:
        L.append("")
        L.append(f"change-to-server latency (cloudsync run, WebDAV, W-a synced, {lat_n} changes of one file, "
                 f"polled on the served folder): median {fmt_s(lat_sum['median'])}, min {fmt_s(lat_sum['min'])}, "
                 f"max {fmt_s(lat_sum['max'])}, timeouts {lat['timeouts']}; daemon VmHWM "
                 f"{fmt_mib(lat.get('vmhwm_kib'))}, exit {lat.get('daemon_exit')}")
    elif lat and lat.get("error"):
        L.append(f"change-to-server latency: ERROR {lat['error']}")
    L.append("")
    L.append("targets:")
    for c in checks:
        label, val, ok = c[0], c[1], c[2]
        info = len(c) > 3 and c[3]
        tag = ("pass" if ok else "fail") if info else ("PASS" if ok else "FAIL")
        L.append(f"   {tag}  {label:<88} {val:>8}{'  (informational)' if info else ''}")
    report = "\n".join(L)
    print(report)

    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": rows, "raw_limits": rawsum, "latency": lat_sum,
                               "targets": [{"check": c[0], "value": c[1], "pass": c[2]} for c in checks],
                               "raw": raw, "report": report}, indent=2, default=str) + "\n")
    log(f"results written to {out}")
    return 0


DAV_DIR_CACHE = ""
OBSCURED_PASS = ""

if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        stop_all()
