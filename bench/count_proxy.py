#!/usr/bin/env python3
"""A counting HTTP/1.1 proxy for profiling (python3 standard library only).

    python3 bench/count_proxy.py LISTEN_PORT UPSTREAM_PORT LOG.jsonl

Listens on 127.0.0.1:LISTEN_PORT and relays every client connection to its own
connection to 127.0.0.1:UPSTREAM_PORT. For every request it writes one JSON line: the
client connection number, method, path, status, request and response body sizes, and the
times (perf_counter) when the request's head arrived and when the response was complete,
and the head's arrival as Unix time (wall0) to line it up with other logs.
Handles Content-Length and chunked bodies in both directions (and responses without a
body: HEAD, 1xx, 204, 304). It adds a little latency; use it to count, not to time.
"""

import json
import socket
import sys
import threading
import time

LOCK = threading.Lock()


def read_head(f):
    lines = []
    while True:
        line = f.readline(65537)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            return lines
        lines.append(line)


def headers_of(lines):
    h = {}
    for x in lines[1:]:
        k, _, v = x.decode("latin-1").partition(":")
        h[k.strip().lower()] = v.strip()
    return h


def relay_body(f, out, h, no_body=False):
    """Copies one message body from file f to socket out; returns its length."""
    if no_body:
        return 0
    if "chunked" in h.get("transfer-encoding", "").lower():
        n = 0
        while True:
            size_line = f.readline()
            out.sendall(size_line)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers until the empty line
                    t = f.readline()
                    out.sendall(t)
                    if t in (b"\r\n", b"\n", b""):
                        return n
            data = f.read(size + 2)
            out.sendall(data)
            n += size
    n = int(h.get("content-length", "0") or 0)
    left = n
    while left:
        data = f.read(min(left, 1 << 16))
        if not data:
            break
        out.sendall(data)
        left -= len(data)
    return n


def serve(client, conn_no, upstream_port, log):
    up = socket.create_connection(("127.0.0.1", upstream_port))
    for s in (client, up):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cf, uf = client.makefile("rb"), up.makefile("rb")
    try:
        while True:
            head = read_head(cf)
            if head is None:
                return
            t0 = time.perf_counter()
            wall0 = time.time()
            method, path = head[0].decode("latin-1").split()[:2]
            h = headers_of(head)
            up.sendall(b"".join(head) + b"\r\n")
            if h.get("expect", "").lower() == "100-continue":
                pass  # the upstream answers 100 below; the client sends the body after it
            req_len = relay_body(cf, up, h)
            while True:
                rhead = read_head(uf)
                if rhead is None:
                    return
                status = int(rhead[0].split()[1])
                client.sendall(b"".join(rhead) + b"\r\n")
                if status >= 200:
                    break
            rh = headers_of(rhead)
            resp_len = relay_body(uf, client, rh, no_body=method == "HEAD" or status in (204, 304))
            t1 = time.perf_counter()
            rec = {"c": conn_no, "m": method, "p": path, "s": status, "req": req_len,
                   "resp": resp_len, "t0": t0, "t1": t1, "wall0": wall0}
            with LOCK:
                log.write(json.dumps(rec) + "\n")
            if rh.get("connection", "").lower() == "close" or h.get("connection", "").lower() == "close":
                return
    except (OSError, ValueError):
        return
    finally:
        client.close()
        up.close()


def main():
    listen, upstream, logpath = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    log = open(logpath, "a", buffering=1)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen))
    srv.listen(128)
    n = 0
    while True:
        c, _ = srv.accept()
        n += 1
        threading.Thread(target=serve, args=(c, n, upstream, log), daemon=True).start()


if __name__ == "__main__":
    main()
