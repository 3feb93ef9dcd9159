"""Shared by scripts/bench.py and scripts/soak.py: measuring a process from
/proc, plain HTTP GETs, starting and stopping servers, the fault fronts
(scripts/tcpfault.py, scripts/faultproxy.py) and secrets seeded in moto.
Needs the environment of `scripts/services env`.
"""
import json, os, re, signal, socket, subprocess, sys, time, urllib.error, urllib.parse, urllib.request

ENV = os.environ
TICK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))
PG_PORT, REDIS_PORT = int(ENV["VIGIL_TEST_PG_PORT"]), int(ENV["VIGIL_TEST_REDIS_PORT"])
PG_PASSWORD = urllib.parse.urlsplit(ENV["DATABASE_URL"]).password
REDIS_PASSWORD = urllib.parse.urlsplit(ENV["REDIS_URL"]).password


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def memory_mb(pids):
    """RSS and its anonymous part (heap, stacks), in MB, summed over pids."""
    rss = anonymous = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        rss += int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
        anonymous += int(re.search(r"RssAnon:\s+(\d+)", status).group(1)) / 1024
    return rss, anonymous


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def fetch(url, timeout=30.0):
    """(status, body, seconds) of one GET; status None when it failed or timed out."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read(), time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, error.read(), time.monotonic() - started
    except Exception:
        return None, b"", time.monotonic() - started


def wait_http(url, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, body, _ = fetch(url, timeout=1)
        if status == 200:
            return body
        time.sleep(0.05)
    sys.exit(f"{url} did not answer 200 within {seconds} s")


def free_port_check(port):
    """Exits when 127.0.0.1:PORT is taken (by anything, HTTP or not)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a listener still blocks; TIME_WAIT leftovers do not
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            sys.exit(f"something already uses 127.0.0.1:{port}; stop it first")


def series(metrics_text, name):
    """The value of one exposition line (`name{labels}` exactly), or None."""
    match = re.search(rf"^{re.escape(name)} (\S+)$", metrics_text, re.M)
    return float(match.group(1)) if match else None


class Servers:
    """Every process started, stopped in reverse order on exit."""

    def __init__(self):
        self.procs = []

    def start(self, argv, env=None, stdout=subprocess.DEVNULL):
        proc = subprocess.Popen(argv, env={**ENV, **(env or {})}, stdout=stdout, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.remove(proc)

    def stop_all(self):
        for proc in reversed(list(self.procs)):
            self.stop(proc)

    def vigil(self, binary, port, environment="dev", extra=None):
        """`vigil serve` on 127.0.0.1:port, once /health/ready answers 200."""
        free_port_check(port)
        proc = self.start([binary, "serve", f"--web.listen-address=127.0.0.1:{port}"],
                          {"VIGIL_SECRETS_ENVIRONMENT": environment, **(extra or {})})
        wait_http(f"http://127.0.0.1:{port}/health/ready")
        if proc.poll() is not None:
            sys.exit(f"vigil exited with {proc.returncode}")
        return proc


class TCPFront:
    """scripts/tcpfault.py in front of a backend: modes pass, refuse (a
    stopped server), hang (a blackhole), ..."""

    def __init__(self, servers, upstream_port):
        proc = servers.start([sys.executable, f"{HERE}/tcpfault.py", f"127.0.0.1:{upstream_port}"],
                             stdout=subprocess.PIPE)
        self.port = int(proc.stdout.readline().split()[1])
        self.control = int(proc.stdout.readline().split()[1])

    def mode(self, mode):
        post(f"http://127.0.0.1:{self.control}/mode", {"mode": mode})


class AWSFront:
    """scripts/faultproxy.py in front of moto."""

    def __init__(self, servers):
        proc = servers.start([sys.executable, f"{HERE}/faultproxy.py", ENV["AWS_ENDPOINT_URL"]], stdout=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{int(proc.stdout.readline().split()[1])}"
        self.control = int(proc.stdout.readline().split()[1])

    def fault(self, mode, **options):
        post(f"http://127.0.0.1:{self.control}/__fault__", {"mode": mode, **options})


def post(url, body):
    request = urllib.request.Request(url, method="POST", data=json.dumps(body).encode())
    urllib.request.urlopen(request, timeout=10).read()


def seed_secrets(environment, pg_port, redis_port):
    """vigil/<environment>/{database,redis}/credentials: the local services'
    credentials, pointing at the ports given (fronts), written by
    scripts/moto-setup.py as scripts/services seeds the shared ones."""
    database = {"engine": "postgres", "host": "127.0.0.1", "port": pg_port, "username": "vigil",
                "password": PG_PASSWORD, "dbname": "vigil"}
    redis = {"host": "127.0.0.1", "port": redis_port, "password": REDIS_PASSWORD}
    subprocess.run([sys.executable, f"{HERE}/moto-setup.py", ENV["AWS_ENDPOINT_URL"], f"{ENV['VIGIL_TEST_SCRATCH']}/moto-keys.env",
                    "vigil", environment, json.dumps(database), json.dumps(redis)], check=True)
