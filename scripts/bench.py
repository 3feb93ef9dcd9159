"""Runs the benchmark described in scripts/bench; see docs/performance.md.

  python3 scripts/bench.py VIGIL_BINARY ROUNDS SECONDS

Needs the environment of `scripts/services env` (PostgreSQL, Redis, moto).
Every server listens on 127.0.0.1 only; everything started is stopped on exit.
"""
import json, os, re, shutil, statistics, subprocess, sys, tempfile, time, urllib.request, uuid
from loadlib import (ENV, PG_PASSWORD, PG_PORT, REDIS_PASSWORD, REDIS_PORT, Servers, TCPFront, cpu_seconds, fetch,
                     free_port_check, memory_mb, seed_secrets, series, wait_http)

VIGIL, ROUNDS, SECONDS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
CONNECTIONS = 32
# The secrets endpoint, on in the main Vigil: warm reads of the database credentials.
TOKEN = f"bench-{uuid.uuid4()}"
ENDPOINT = "http://127.0.0.1:19741"
ENDPOINT_ENV = {"VIGIL_ENDPOINT_ENABLED": "true", "VIGIL_ENDPOINT_LISTEN_ADDRESS": "127.0.0.1:19741", "AWS_TOKEN": TOKEN}
TOKEN_HEADER = f"X-Aws-Parameters-Secrets-Token: {TOKEN}"


def wrk(url, pids, headers=()):
    before = cpu_seconds(pids)
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency"]
                         + [arg for header in headers for arg in ("-H", header)] + [url],
                         capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pids) - before
    requests = int(re.search(r"(\d+) requests in", out).group(1))

    def latency(p):
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": latency(50),
            "p99": latency(99), "cpu_us": cpu / max(requests, 1) * 1e6, "errors": int(errors.group(1)) if errors else 0}


# ---------------------------------------------------------------- the servers

class Target:
    """One server under test: its processes and its scrape URL."""

    def __init__(self, name, url, procs, headers=()):
        self.name, self.url, self.procs, self.headers = name, url, procs, headers

    @property
    def pids(self):
        pids = [p.pid for p in self.procs]
        for proc in self.procs:  # nginx's workers
            pids += [int(c) for c in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                     text=True).stdout.split()]
        return pids


def start_exporters(servers, pg_port, redis_port, work):
    """redis_exporter, postgres_exporter and blackbox_exporter (Debian's
    packages, default settings) against PostgreSQL and Redis on the ports given."""
    ports = {"redis_exporter": 19121, "postgres_exporter": 19187, "blackbox_exporter": 19115}
    for port in ports.values():
        free_port_check(port)
    with open(f"{work}/blackbox.yml", "w") as f:  # what a user writes to check Redis answers, not just listens
        f.write("modules:\n  redis_ping:\n    prober: tcp\n    timeout: 5s\n    tcp:\n      query_response:\n"
                f"        - send: \"AUTH {REDIS_PASSWORD}\"\n        - expect: \"^\\\\+OK\"\n"
                "        - send: \"PING\"\n        - expect: \"^\\\\+PONG\"\n")
    procs = {
        "redis_exporter": servers.start(
            ["prometheus-redis-exporter", "-redis.addr", f"redis://127.0.0.1:{redis_port}",
             "-web.listen-address", f"127.0.0.1:{ports['redis_exporter']}"], {"REDIS_PASSWORD": REDIS_PASSWORD}),
        "postgres_exporter": servers.start(
            ["prometheus-postgres-exporter", f"--web.listen-address=127.0.0.1:{ports['postgres_exporter']}"],
            {"DATA_SOURCE_NAME": f"postgresql://vigil:{PG_PASSWORD}@127.0.0.1:{pg_port}/vigil?sslmode=disable"}),
        "blackbox_exporter": servers.start(
            ["prometheus-blackbox-exporter", f"--config.file={work}/blackbox.yml",
             f"--web.listen-address=127.0.0.1:{ports['blackbox_exporter']}"]),
    }
    urls = {"redis_exporter": f"http://127.0.0.1:{ports['redis_exporter']}/metrics",
            "postgres_exporter": f"http://127.0.0.1:{ports['postgres_exporter']}/metrics",
            "blackbox_exporter": f"http://127.0.0.1:{ports['blackbox_exporter']}/probe?module=redis_ping&"
                                 f"target=127.0.0.1:{redis_port}"}
    for name, url in urls.items():
        wait_http(url)
    return [Target(name, urls[name], [procs[name]]) for name in urls]


def start_nginx(servers, work, sizes):
    os.makedirs(f"{work}/www", mode=0o755)
    for name, size in sizes.items():
        with open(f"{work}/www/{name}", "wb") as f:
            f.write(b"x" * size)
    free_port_check(18080)
    with open(f"{work}/nginx.conf", "w") as f:
        f.write(f"""worker_processes 2; daemon off; pid {work}/nginx.pid; error_log {work}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; keepalive_requests 1000000; default_type text/plain;
  server {{ listen 127.0.0.1:18080; root {work}/www; }} }}""")
    proc = servers.start(["nginx", "-c", f"{work}/nginx.conf"])
    wait_http("http://127.0.0.1:18080/health")
    return proc


# ---------------------------------------------------------------- the phases

def throughput(targets, idle):
    results = {}
    for round_ in range(ROUNDS):
        for target in targets:
            results.setdefault(target.name, []).append(wrk(target.url, target.pids, target.headers))
        print(f"round {round_ + 1}/{ROUNDS} done", file=sys.stderr)
    med = {name: {m: statistics.median(r[m] for r in runs) for m in runs[0]} for name, runs in results.items()}
    print(f"\n== throughput: wrk -t2 -c{CONNECTIONS} -d{SECONDS}s, {ROUNDS} alternating rounds, medians")
    print(f"{'target':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>10} {'non-2xx':>7} "
          f"{'RSS idle':>8} {'RSS load':>8} {'anon load':>9}")
    for target in targets:
        m = med[target.name]
        rss, anonymous = memory_mb(target.pids)
        print(f"{target.name:<26} {m['rps']:>8.0f} {m['p50']:>8.3f} {m['p99']:>8.3f} {m['cpu_us']:>10.1f} "
              f"{m['errors']:>7.0f} {idle[target.name]:>8.1f} {rss:>8.1f} {anonymous:>9.1f}")
    return med


def scrape_latency(targets, fronts):
    """One scrape at a time with each backend up, stopped and blackholed."""
    print("\n== single scrape latency (ms; max of 3 scrapes, 30 s client timeout) with PostgreSQL and Redis")
    print(f"{'target':<26} {'up':>9} {'stopped':>9} {'blackholed':>10}")
    rows = {target.name: [] for target in targets}
    for mode in ("pass", "refuse", "hang"):
        for front in fronts:
            front.mode(mode)
        time.sleep(1)  # let the probes meet the new state: Vigil's answer must not depend on it
        for target in targets:
            worst, status = 0.0, None
            for _ in range(1 if mode == "hang" and "exporter" in target.name else 3):
                status, _, seconds = fetch(target.url)
                worst = max(worst, seconds)
            rows[target.name].append(f"{worst * 1000:.1f}" if status else f">{worst:.0f}s")
    for front in fronts:
        front.mode("pass")
    for name, cells in rows.items():
        print(f"{name:<26} {cells[0]:>9} {cells[1]:>9} {cells[2]:>10}")


def startup(servers, runs=5):
    """Exec to the first healthy /health, against the standard secrets and services."""
    print("\n== start-up: exec to the first /health 200 with every component healthy (median of 5)")
    samples = []
    for _ in range(runs):
        started = time.monotonic()
        proc = servers.start([VIGIL, "serve", "--web.listen-address=127.0.0.1:19739"])
        while True:
            status, body, _ = fetch("http://127.0.0.1:19739/health", timeout=1)
            if status == 200 and json.loads(body)["status"] == "healthy":
                break
            if proc.poll() is not None or time.monotonic() - started > 20:
                sys.exit("bench: vigil did not become healthy within 20 s")
            time.sleep(0.002)
        total = time.monotonic() - started
        checks = json.loads(body)["checks"]
        metrics = fetch("http://127.0.0.1:19739/metrics")[1].decode()
        secrets = series(metrics, "vigil_secrets_startup_duration_seconds")
        probes = max(c["latency_ms"] for c in checks.values()) / 1000
        samples.append((total, secrets, probes))
        servers.stop(proc)
    total, secrets, probes = (statistics.median(s[i] for s in samples) for i in range(3))
    print(f"exec -> healthy {total * 1000:.1f} ms = batch secret load {secrets * 1000:.1f} ms + slowest probe "
          f"{probes * 1000:.1f} ms + {(total - secrets - probes) * 1000:.1f} ms the rest (process start, polling)")


def endpoint_read(path):
    """(seconds, X-Vigil-Source) of one endpoint read."""
    request = urllib.request.Request(ENDPOINT + path, headers=dict([TOKEN_HEADER.split(": ", 1)]))
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()
        return time.monotonic() - started, answer.headers["X-Vigil-Source"]


def aws_seconds(metrics_url):
    """(sum, count) of Vigil's GetSecretValue request durations."""
    time.sleep(1.1)  # past web.telemetry_cache: a scrape within 1 s of the last one is its copy
    text = fetch(metrics_url)[1].decode()
    labels = '{service="secretsmanager",operation="GetSecretValue"}'
    return (series(text, f"vigil_aws_request_duration_seconds_sum{labels}") or 0,
            series(text, f"vigil_aws_request_duration_seconds_count{labels}") or 0)


def cold_reads(metrics_url, count=20):
    """Secrets read for the first time: the endpoint's time less AWS's own (Vigil's histogram)."""
    admin = {**ENV, "AWS_ACCESS_KEY_ID": ENV["VIGIL_TEST_AWS_ADMIN_KEY_ID"],
             "AWS_SECRET_ACCESS_KEY": ENV["VIGIL_TEST_AWS_ADMIN_SECRET"]}
    ids = [f"vigil/dev/bench-cold-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    for secret in ids:
        subprocess.run(["aws", "secretsmanager", "create-secret", "--name", secret, "--secret-string", "{}"],
                       env=admin, check=True, capture_output=True)
    before = aws_seconds(metrics_url)
    samples = [endpoint_read(f"/v1/{secret}") for secret in ids]
    after = aws_seconds(metrics_url)
    assert all(source == "aws" for _, source in samples), samples
    aws = (after[0] - before[0]) / max(after[1] - before[1], 1)
    warm = statistics.median(endpoint_read(f"/v1/{ids[0]}")[0] for _ in range(count))
    cold = statistics.median(seconds for seconds, _ in samples)
    print(f"\n== secrets endpoint cold read (median of {count}, Python urllib client): {cold * 1000:.2f} ms = "
          f"AWS GetSecretValue {aws * 1000:.2f} ms (moto, {after[1] - before[1]:.0f} calls) + {(cold - aws) * 1000:.2f} ms; "
          f"a warm read with the same client {warm * 1000:.2f} ms")


def main():
    work = tempfile.mkdtemp(prefix="vigil-bench-")
    os.chmod(work, 0o755)  # nginx workers run as an unprivileged user
    servers = Servers()
    try:
        free_port_check(19741)
        vigil = servers.vigil(VIGIL, 19731, extra=ENDPOINT_ENV)
        uncached = servers.vigil(VIGIL, 19732, extra={"VIGIL_WEB_TELEMETRY_CACHE": "0s"})
        base = "http://127.0.0.1:19731"
        read_url = ENDPOINT + "/v1/vigil/dev/database/credentials"
        endpoint_read("/v1/vigil/dev/database/credentials")
        sizes = {"health": len(wait_http(base + "/health")), "metrics": len(wait_http(base + "/metrics")),
                 "endpoint": len(urllib.request.urlopen(urllib.request.Request(
                     read_url, headers=dict([TOKEN_HEADER.split(": ", 1)]))).read())}
        nginx = start_nginx(servers, work, sizes)
        exporters = start_exporters(servers, PG_PORT, REDIS_PORT, work)
        targets = [Target("nginx /health (static)", "http://127.0.0.1:18080/health", [nginx]),
                   Target("vigil /health", base + "/health", [vigil]),
                   Target("nginx /metrics (static)", "http://127.0.0.1:18080/metrics", [nginx]),
                   Target("vigil /metrics", base + "/metrics", [vigil]),
                   Target("vigil /metrics uncached", "http://127.0.0.1:19732/metrics", [uncached]),
                   Target("nginx endpoint body (static)", "http://127.0.0.1:18080/endpoint", [nginx]),
                   Target("vigil endpoint warm read", read_url, [vigil], headers=[TOKEN_HEADER])] + exporters
        time.sleep(2)
        idle = {t.name: memory_mb(t.pids)[0] for t in targets}
        print(f"bodies: /health {sizes['health']} B, /metrics {sizes['metrics']} B; "
              f"{len(re.findall(b'(?m)^[a-z]', wait_http(base + '/metrics')))} series")
        med = throughput(targets, idle)
        for path in ("health", "metrics"):
            v, n = med[f"vigil /{path}"], med[f"nginx /{path} (static)"]
            print(f"/{path}: vigil/nginx req/s {v['rps'] / n['rps']:.2f}x, CPU per request {v['cpu_us'] / n['cpu_us']:.2f}x")
        v, n = med["vigil endpoint warm read"], med["nginx endpoint body (static)"]
        print(f"endpoint warm read: vigil/nginx req/s {v['rps'] / n['rps']:.2f}x, CPU per request {v['cpu_us'] / n['cpu_us']:.2f}x")
        print(f"uncached /metrics: {med['vigil /metrics uncached']['cpu_us']:.1f} us CPU per scrape")
        cold_reads(base + "/metrics")
        exporter_rss = sum(memory_mb(t.pids)[0] for t in exporters)
        rss, anonymous = memory_mb([vigil.pid])
        print(f"vigil RSS after load, endpoint on {rss:.1f} MB ({anonymous:.1f} MB anonymous); the three exporters together {exporter_rss:.1f} MB")
        for proc in [uncached] + [p for t in exporters for p in t.procs]:
            servers.stop(proc)

        fronts = [TCPFront(servers, PG_PORT), TCPFront(servers, REDIS_PORT)]
        seed_secrets("bench", fronts[0].port, fronts[1].port)
        fronted = servers.vigil(VIGIL, 19733, environment="bench")
        latency_targets = [Target("vigil /metrics", "http://127.0.0.1:19733/metrics", [fronted]),
                           Target("vigil /health", "http://127.0.0.1:19733/health", [fronted])]
        latency_targets += start_exporters(servers, fronts[0].port, fronts[1].port, work)
        scrape_latency(latency_targets, fronts)
        for proc in [fronted] + [p for t in latency_targets[2:] for p in t.procs]:
            servers.stop(proc)
        startup(servers)
    finally:
        servers.stop_all()
        shutil.rmtree(work, ignore_errors=True)


main()
