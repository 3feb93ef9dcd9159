"""A fleet's load on Secrets Manager (docs/cost.md): N Vigils started at
once against one moto through scripts/faultproxy.py, which logs every call.

  python3 scripts/fleet.py VIGIL_BINARY N

Prints Secrets Manager calls per second (the peak second and the mean) in
three phases, then the instances' RSS:
  - start: the N started within a second, the 10 s that follow;
  - steady: secrets.ttl 20s (refresh_ahead 10s), 40 s after the start settled;
  - outage: every call answered 503 for 60 s, then the 60 s after it ends
    (the fleet's retries, spread by its backoff's jitter).
Needs the environment of `scripts/services env`. Everything is on 127.0.0.1
and stopped on exit.
"""
import collections, json, statistics, subprocess, sys, time, urllib.request
from loadlib import HERE, AWSFront, Servers, memory_mb, wait_http

VIGIL, COUNT = sys.argv[1], int(sys.argv[2])
TTL, REFRESH_AHEAD = 20, 10


def calls(front, since, until):
    """Secrets Manager calls the proxy saw in [since, until), by operation and by whole second."""
    with urllib.request.urlopen(f"http://127.0.0.1:{front.control}/__fault__/log", timeout=30) as answer:
        log = json.load(answer)
    seen = [entry for entry in log if since <= entry["time"] < until
            and (entry.get("target") or "").startswith("secretsmanager.")]
    by_operation = collections.Counter(entry["target"].split(".", 1)[1] for entry in seen)
    per_second = collections.Counter(int(entry["time"] - since) for entry in seen)
    return by_operation, [per_second.get(second, 0) for second in range(int(until - since))]


def report(phase, front, since, until):
    by_operation, seconds = calls(front, since, until)
    operations = ", ".join(f"{name} {count}" for name, count in sorted(by_operation.items())) or "none"
    print(f"{phase:<44} peak {max(seconds, default=0):>4}/s   mean {statistics.mean(seconds or [0]):>6.2f}/s"
          f"   ({sum(seconds)} calls: {operations})", flush=True)


def main():
    servers = Servers()
    try:
        front = AWSFront(servers)
        ports = [int(p) for p in subprocess.run([f"{HERE}/free-port", str(COUNT)], capture_output=True, text=True,
                                                check=True).stdout.split()]
        environment = {"AWS_ENDPOINT_URL": front.url, "VIGIL_SECRETS_TTL": f"{TTL}s",
                       "VIGIL_SECRETS_REFRESH_AHEAD": f"{REFRESH_AHEAD}s", "VIGIL_SECRETS_ENVIRONMENT": "dev"}
        print(f"== {COUNT} instances (secrets.ttl {TTL}s, refresh_ahead {REFRESH_AHEAD}s, "
              f"max_backoff 1m, 2 secrets each), Secrets Manager calls a second", flush=True)
        started = time.time()
        procs = [servers.start([VIGIL, "serve", f"--web.listen-address=127.0.0.1:{port}"], environment) for port in ports]
        spread = time.time() - started
        for port in ports:
            wait_http(f"http://127.0.0.1:{port}/health/ready", seconds=60)
        time.sleep(max(0.0, started + 10 - time.time()))
        report(f"start (all {COUNT} within {spread:.2f} s), first 10 s", front, started, started + 10)

        steady = time.time() + 5
        time.sleep(45)
        report(f"steady state, {40} s", front, steady, steady + 40)

        front.fault("error", status=503, sticky=True)
        outage = time.time()
        time.sleep(60)
        front.fault("pass")
        after = time.time()
        report("during a 60 s outage (every call 503)", front, outage, after)
        time.sleep(60)
        report("the 60 s after it ends", front, after, after + 60)

        rss, anonymous = memory_mb([proc.pid for proc in procs])
        print(f"RSS of the {COUNT} instances: {rss:.0f} MB ({rss / COUNT:.1f} MB each, "
              f"{anonymous / COUNT:.1f} MB anonymous)", flush=True)
    finally:
        servers.stop_all()


if __name__ == "__main__":
    main()
