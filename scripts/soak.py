"""The fault soak described in scripts/soak; numbers in docs/performance.md.

  python3 scripts/soak.py VIGIL_BINARY SECONDS

Vigil (probes every second, secrets TTL 6 s, CloudWatch every 2 s) serves
wrk load on /health and /metrics while a schedule of faults runs in cycles
until SECONDS have passed (at least one full cycle). Exit 1 when any check fails.
"""
import json, re, signal, statistics, subprocess, sys, tempfile, threading, time
from loadlib import (HERE, PG_PORT, REDIS_PORT, AWSFront, Servers, TCPFront, fetch, memory_mb, open_fds, seed_secrets,
                     series)

VIGIL, DURATION = sys.argv[1], float(sys.argv[2])
PORT = 19741
BASE = f"http://127.0.0.1:{PORT}"
DETECT, RECOVER = 10.0, 20.0  # deadlines (s) for a fault to show in /health and for everything to be healthy again
RSS_DRIFT_MB, FD_DRIFT = 1.5, 2  # allowed growth from the first cycle's end to the last one's

# Counts answers by status code, spaced by `delay` ms per connection (wrk's
# `delay` hook) so the machine keeps CPU for the probes, moto and the fronts.
WRK_SCRIPT = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) codes = {} end
function delay() return %d end
function response(status, headers, body) codes[status] = (codes[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("codes")) do total[code] = (total[code] or 0) + n end
  end
  for code, n in pairs(total) do io.write(string.format("status %%d %%d\n", code, n)) end
  io.write(string.format("p99_us %%d\nmax_us %%d\n", latency:percentile(99), latency.max))
  local e = summary.errors
  io.write(string.format("socket_errors %%d\n", e.connect + e.read + e.write + e.timeout))
end
"""


class Load:
    """wrk on one path for the whole soak, in the background."""

    def __init__(self, path, connections, delay_ms, seconds, work):
        script = f"{work}/{path.strip('/')}.lua"
        with open(script, "w") as f:
            f.write(WRK_SCRIPT % delay_ms)
        self.path = path
        self.proc = subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "5s",
                                      "-s", script, BASE + path], stdout=subprocess.PIPE, text=True)

    def result(self):
        out = self.proc.communicate()[0]
        codes = {int(c): int(n) for c, n in re.findall(r"^status (\d+) (\d+)$", out, re.M)}
        figures = dict(re.findall(r"^(\w+) (\d+)$", out, re.M))
        return codes, int(figures["p99_us"]) / 1000, int(figures["max_us"]) / 1000, int(figures["socket_errors"])


class Watch:
    """Samples Vigil every 250 ms: /health (status and components), RSS, fds."""

    def __init__(self, pid):
        self.pid, self.samples, self.stopped = pid, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopped.is_set():
            status, _, seconds = fetch(BASE + "/health", timeout=5)
            rss, anonymous = memory_mb([self.pid])
            self.samples.append({"t": time.monotonic(), "status": status,
                                 "seconds": seconds, "rss": rss, "anon": anonymous, "fds": open_fds(self.pid)})
            time.sleep(0.25)



def health():
    status, body, _ = fetch(BASE + "/health", timeout=5)
    return status, body.decode(errors="replace")


def component_state(body, component):
    try:
        return json.loads(body)["services"].get(component)
    except ValueError:
        return None


def services(command, name):
    subprocess.run([f"{HERE}/services", command, name], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def faults(pg, redis, aws):
    """(name, apply, clear, component, healthy word) per fault: the component
    must leave its healthy word while the fault holds."""
    def aws_fault(mode, **options):
        return lambda: aws.fault(mode, sticky=True, **options)
    aws_clear = lambda: aws.fault("pass")
    return [
        ("PostgreSQL stopped", lambda: services("stop", "postgres"), lambda: services("start", "postgres"),
         "database", "connected"),
        ("Redis stopped", lambda: services("stop", "redis"), lambda: services("start", "redis"), "redis", "connected"),
        ("Redis blackholed", lambda: redis.mode("hang"), lambda: redis.mode("pass"), "redis", "connected"),
        ("PostgreSQL blackholed", lambda: pg.mode("hang"), lambda: pg.mode("pass"), "database", "connected"),
        ("AWS throttling", aws_fault("throttle"), aws_clear, "secrets", "healthy"),
        ("AWS failing (503)", aws_fault("error", status=503), aws_clear, "secrets", "healthy"),
        ("AWS resetting connections", aws_fault("reset"), aws_clear, "secrets", "healthy"),
        ("AWS hanging", aws_fault("hang"), aws_clear, "secrets", "healthy"),
        ("CloudWatch failing (503)", lambda: aws.fault("error", status=503, sticky=True, target="PutMetricData"),
         aws_clear, None, None),
    ]


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def all_healthy():
    status, body = health()
    try:
        return status == 200 and json.loads(body)["status"] == "healthy"
    except ValueError:
        return False


def cloudwatch_buffered():
    return series(fetch(BASE + "/metrics")[1].decode(), "vigil_cloudwatch_buffered_datums")


def cloudwatch_errors():
    text = fetch(BASE + "/metrics")[1].decode()
    return sum(float(v) for v in re.findall(r'^vigil_cloudwatch_publish_errors_total\{[^}]*\} (\S+)$', text, re.M))


def run_fault(fault, hold, problems, log):
    name, apply, clear, component, healthy_word = fault
    errors_before = cloudwatch_errors()
    started = time.monotonic()
    apply()
    if component:
        detected = wait_for(lambda: component_state(health()[1], component) not in (healthy_word, None), DETECT)
    else:  # CloudWatch: its errors counted, then the buffer drained after the fix
        detected = wait_for(lambda: cloudwatch_errors() > errors_before, DETECT)
    detection = time.monotonic() - started
    if not detected:
        problems.append(f"{name}: not detected within {DETECT:.0f} s")
    time.sleep(hold)
    cleared = time.monotonic()
    clear()
    if not wait_for(lambda: all_healthy() and (component or cloudwatch_buffered() == 0), RECOVER):
        problems.append(f"{name}: not healthy again within {RECOVER:.0f} s: {health()[1][:300]}")
    recovery = time.monotonic() - cleared
    log.append((name, detection if detected else None, recovery))
    print(f"  {name:<28} detected {detection:5.1f} s   healthy again {recovery:5.1f} s after the fix", flush=True)


def check_cloudwatch_accounting(problems):
    """collected = sent + buffered + dropped (read until one scrape is consistent: the collector may be mid-way)."""
    def balance():
        text = fetch(BASE + "/metrics")[1].decode()
        collected = series(text, 'vigil_cloudwatch_datums_total{outcome="collected"}')
        sent = series(text, 'vigil_cloudwatch_datums_total{outcome="sent"}')
        buffered = series(text, "vigil_cloudwatch_buffered_datums")
        dropped = sum(float(v) for v in re.findall(r"^vigil_cloudwatch_dropped_datums_total\{[^}]*\} (\S+)$", text, re.M))
        return collected, sent, buffered, dropped
    figures = None
    for _ in range(20):
        figures = balance()
        if None not in figures and figures[0] == figures[1] + figures[2] + figures[3] and figures[0] > 0:
            break
        time.sleep(0.1)
    else:
        problems.append(f"CloudWatch datums do not add up: collected, sent, buffered, dropped = {figures}")
    print(f"CloudWatch datums: collected {figures[0]:.0f} = sent {figures[1]:.0f} + buffered {figures[2]:.0f} "
          f"+ dropped {figures[3]:.0f}")


def main():
    work = tempfile.mkdtemp(prefix="vigil-soak-")
    servers = Servers()
    problems, log = [], []
    try:
        pg, redis, aws = TCPFront(servers, PG_PORT), TCPFront(servers, REDIS_PORT), AWSFront(servers)
        seed_secrets("soak", pg.port, redis.port)
        vigil = servers.vigil(VIGIL, PORT, environment="soak", extra={
            "AWS_ENDPOINT_URL": aws.url, "VIGIL_PROBES_INTERVAL": "1s", "VIGIL_PROBES_TIMEOUT": "1s",
            "VIGIL_SECRETS_TTL": "6s", "VIGIL_SECRETS_REFRESH_AHEAD": "2s", "VIGIL_SECRETS_MAX_BACKOFF": "1s",
            "VIGIL_CLOUDWATCH_ENABLED": "true", "VIGIL_CLOUDWATCH_INTERVAL": "2s",
            "VIGIL_CLOUDWATCH_NAMESPACE": "VigilSoak", "VIGIL_LOG_LEVEL": "error"})
        if not wait_for(all_healthy, 20):
            sys.exit(f"vigil did not become healthy: {fetch(BASE + '/health')[1][:300]}")
        schedule = faults(pg, redis, aws)
        hold = 2.0
        cycle_estimate = len(schedule) * (hold + 6)
        load_seconds = max(DURATION, cycle_estimate) + 60
        loads = [Load("/health", 8, 2, load_seconds, work), Load("/metrics", 2, 10, load_seconds, work)]
        watch = Watch(vigil.pid)
        started, cycles, first_cycle_end = time.monotonic(), 0, None
        while cycles == 0 or time.monotonic() - started < DURATION:
            cycles += 1
            print(f"cycle {cycles} at {time.monotonic() - started:.0f} s", flush=True)
            for fault in schedule:
                run_fault(fault, hold, problems, log)
            if first_cycle_end is None:
                first_cycle_end = len(watch.samples)
        elapsed = time.monotonic() - started
        time.sleep(2)
        watch.stopped.set()
        watch.thread.join()
        for load in loads:
            load.proc.send_signal(signal.SIGINT)  # wrk stops and prints its summary
        results = {load.path: load.result() for load in loads}
        report(results, watch, first_cycle_end, cycles, elapsed, log, problems)
        check_cloudwatch_accounting(problems)
    finally:
        servers.stop_all()
    if problems:
        print("\nFAILED:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("\nsoak: every check passed")


def report(results, watch, first_cycle_end, cycles, elapsed, log, problems):
    print(f"\n== {cycles} cycle(s) of {len(log) // cycles} faults in {elapsed:.0f} s")
    for path, (codes, p99, worst, socket_errors) in results.items():
        allowed = {200, 503} if path == "/health" else {200}
        print(f"{path:<9} answers {dict(sorted(codes.items()))}, p99 {p99:.2f} ms, max {worst:.1f} ms, "
              f"socket errors {socket_errors}")
        if set(codes) - allowed:
            problems.append(f"{path}: unexpected answers {set(codes) - allowed}")
        if socket_errors:
            problems.append(f"{path}: {socket_errors} socket errors (connect, read, write or timeout)")
        if not codes.get(200):
            problems.append(f"{path}: no 200 at all")
    health_p99 = results["/health"][1]
    if health_p99 >= 10:
        problems.append(f"/health p99 {health_p99:.2f} ms (bound 10 ms)")
    first, last = watch.samples[:first_cycle_end], watch.samples[-first_cycle_end:]
    rss = (max(s["rss"] for s in first), max(s["rss"] for s in last))
    anon = (max(s["anon"] for s in first), max(s["anon"] for s in last))
    fds = (statistics.median(s["fds"] for s in first[-8:]), statistics.median(s["fds"] for s in last[-8:]))
    print(f"RSS max {rss[0]:.1f} MB in the first cycle, {rss[1]:.1f} MB in the last (anonymous {anon[0]:.1f} -> "
          f"{anon[1]:.1f} MB); open fds {fds[0]:.0f} -> {fds[1]:.0f} (healthy, end of cycle)")
    if cycles > 1 and rss[1] - rss[0] > RSS_DRIFT_MB:
        problems.append(f"RSS grew {rss[1] - rss[0]:.1f} MB from the first cycle to the last (bound {RSS_DRIFT_MB} MB)")
    if cycles > 1 and fds[1] - fds[0] > FD_DRIFT:  # one cycle: two neighbouring samples, pool noise
        problems.append(f"open fds grew {fds[0]:.0f} -> {fds[1]:.0f}")
    slowest = max(s["seconds"] for s in watch.samples)
    print(f"slowest /health seen by the watcher: {slowest * 1000:.1f} ms over {len(watch.samples)} polls")
    detections = [d for _, d, _ in log if d is not None]
    recoveries = [r for _, _, r in log]
    if detections:
        print(f"detection {min(detections):.1f}-{max(detections):.1f} s, recovery {min(recoveries):.1f}-"
              f"{max(recoveries):.1f} s after the fix")


main()
