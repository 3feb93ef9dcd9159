"""Runs the benchmark described in scripts/bench; see docs/performance.md."""
import os, re, shutil, signal, statistics, subprocess, sys, tempfile, time, urllib.request

VIGIL, ROUNDS, SECONDS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
VIGIL_PORT, NGINX_PORT, CONNECTIONS = 19731, 18080, 32
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def wait_http(url):
    for _ in range(100):
        try:
            return urllib.request.urlopen(url, timeout=1).read()
        except Exception:
            time.sleep(0.1)
    sys.exit(f"bench: {url} did not answer")


def wrk(url, pids):
    before = cpu_seconds(pids)
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pids) - before
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    def latency(p):
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": latency(50),
            "p99": latency(99), "cpu_us": cpu / max(requests, 1) * 1e6, "errors": int(errors.group(1)) if errors else 0}


def memory_mb(pid):
    """RSS and its anonymous part (heap, stacks), in MB."""
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    return [int(re.search(rf"{field}:\s+(\d+)", status).group(1)) / 1024 for field in ("VmRSS", "RssAnon")]


def main():
    work = tempfile.mkdtemp(prefix="vigil-bench-")
    os.chmod(work, 0o755)  # nginx workers run as an unprivileged user
    vigil = subprocess.Popen([VIGIL, "serve", f"--web.listen-address=127.0.0.1:{VIGIL_PORT}"],
                             stderr=subprocess.DEVNULL)
    nginx = None
    try:
        base = f"http://127.0.0.1:{VIGIL_PORT}"
        wait_http(base + "/health/ready")
        if vigil.poll() is not None:  # someone else answers on the port
            sys.exit(f"vigil exited with {vigil.returncode}: is 127.0.0.1:{VIGIL_PORT} already in use?")
        sizes = {"health": len(wait_http(base + "/health")), "metrics": len(wait_http(base + "/metrics"))}
        os.makedirs(f"{work}/www", mode=0o755)
        for name, size in sizes.items():
            with open(f"{work}/www/{name}", "wb") as f:
                f.write(b"x" * size)
        with open(f"{work}/nginx.conf", "w") as f:
            f.write(f"""worker_processes 2; daemon off; pid {work}/nginx.pid; error_log {work}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; keepalive_requests 1000000; default_type text/plain;
  server {{ listen 127.0.0.1:{NGINX_PORT}; root {work}/www; }} }}""")
        nginx = subprocess.Popen(["nginx", "-c", f"{work}/nginx.conf"], stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{NGINX_PORT}/health")
        nginx_pids = [nginx.pid] + [int(p) for p in subprocess.run(
            ["pgrep", "-P", str(nginx.pid)], capture_output=True, text=True).stdout.split()]

        results = {}
        for round_ in range(ROUNDS):
            for name in sizes:
                results.setdefault(("vigil", name), []).append(wrk(f"{base}/{name}", [vigil.pid]))
                results.setdefault(("nginx", name), []).append(
                    wrk(f"http://127.0.0.1:{NGINX_PORT}/{name}", nginx_pids))
            print(f"round {round_ + 1}/{ROUNDS} done", file=sys.stderr)

        print(f"wrk -t2 -c{CONNECTIONS} -d{SECONDS}s, {ROUNDS} alternating rounds, medians; "
              f"bodies: /health {sizes['health']} B, /metrics {sizes['metrics']} B")
        print(f"{'server':<7} {'path':<8} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10} {'non-2xx':>8}")
        med = {k: {m: statistics.median(r[m] for r in runs) for m in runs[0]} for k, runs in results.items()}
        for (server, name), m in sorted(med.items(), key=lambda kv: (kv[0][1], kv[0][0] != "vigil")):
            print(f"{server:<7} {'/' + name:<8} {m['rps']:>9.0f} {m['p50']:>7.3f} {m['p99']:>7.3f} "
                  f"{m['cpu_us']:>10.1f} {m['errors']:>8.0f}")
        for name in sizes:
            v, n = med[("vigil", name)], med[("nginx", name)]
            print(f"/{name}: vigil/nginx req/s {v['rps'] / n['rps']:.2f}x, CPU per request {v['cpu_us'] / n['cpu_us']:.2f}x")
        rss, anonymous = memory_mb(vigil.pid)
        print(f"vigil RSS after load: {rss:.1f} MB ({anonymous:.1f} MB anonymous; scripts/memory-floor shows the rest)")
    finally:
        for proc in (vigil, nginx):
            if proc:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


main()
