"""The checks of scripts/e2e-alerting and scripts/e2e-fleet against a real
Prometheus, Alertmanager and webhook receiver (standard library only), and
the fast copies of the shipped rules and routing they run; `inhibition`
(scripts/test) asks an Alertmanager of its own which alerts the shipped
inhibit_rules hold back.

  python3 scripts/alertcheck.py COMMAND ARGS...   exit 0 when the check holds

Commands: query PROM EXPR | dashboard PROM FILE DEADLINE | notified LOG PATH
STATUS [since=T] MATCHER... | leaked LOG COMPONENT | prom-alert PROM ALERT COMPONENT
STATE | am-inhibited AM ALERT COMPONENT SOURCE | pages LOG SINCE |
pager-log LOG SINCE | summary
LOG | fast-rules SOURCE TARGET | fast-routing SOURCE TARGET PORT [GROUP_WAIT] |
inhibition CONFIG
"""
import datetime, json, os, re, shutil, socket, subprocess, sys, tempfile, time
import urllib.error, urllib.parse, urllib.request

INHIBITED = ("VigilComponentDegraded", "VigilProbeFailing", "VigilProbeSlow")


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:
        body = error.read().decode(errors="replace")
        try:
            return json.loads(body)
        except ValueError:
            return {"status": "error", "error": f"HTTP {error.code}: {body[:200]}"}


def query(prom, expr):
    """(result, error): result is None on an error."""
    try:
        answer = get(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    except OSError as error:
        return None, str(error)
    if answer.get("status") != "success":
        return None, answer.get("error", "no answer")
    data = answer["data"]
    if data["resultType"] in ("scalar", "string"):
        return [data["result"]], None
    return data["result"], None


def notifications(log):
    with open(log) as f:
        for line in f:
            entry = json.loads(line)
            for alert in entry["body"].get("alerts", []):
                yield entry["time"], entry["path"], alert


def epoch(rfc3339):
    """Alertmanager's times (nanoseconds, Z or an offset) as Unix time."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", rfc3339)
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    whole = datetime.datetime.fromisoformat(m.group(1) + zone).timestamp()
    return whole + float("0." + (m.group(2) or "0"))


def matches(alert, matchers):
    for m in matchers:
        kind, key, op, want = re.fullmatch(r"(labels|annotations)\.(\w+)(=|~)(.*)", m).groups()
        have = alert.get(kind, {}).get(key)
        if have is None or (op == "=" and have != want) or (op == "~" and not re.search(want, have)):
            return False
    return True


def notified(log, path, status, *matchers):
    """An alert with STATUS reached PATH, matching labels.X=V / annotations.X~REGEX; with a
    matcher since=T (Unix time), only what was received at T or later counts."""
    since = max([float(m[6:]) for m in matchers if m.startswith("since=")], default=float("-inf"))
    matchers = [m for m in matchers if not m.startswith("since=")]
    return any(p == path and a.get("status") == status and received >= since and matches(a, matchers)
               for received, p, a in notifications(log))


def leaked(log, component):
    """Alerts an unhealthy COMPONENT inhibits, received while its VigilComponentUnhealthy was firing
    (up to the endsAt of its resolution: once resolved it inhibits no more)."""
    resolved = [epoch(a["endsAt"]) for _, _, a in notifications(log)
                if a.get("status") == "resolved" and a["labels"].get("alertname") == "VigilComponentUnhealthy"
                and a["labels"].get("component") == component]
    until = min(resolved, default=float("inf"))
    found = [f"{path} at {received:.1f}: {a.get('status')} {a['labels']}" for received, path, a in notifications(log)
             if received < until and a["labels"].get("alertname") in INHIBITED and a["labels"].get("component") == component]
    print("\n".join(found))
    return not found


def prom_alert(prom, alertname, component, state):
    alerts = get(f"{prom}/api/v1/alerts")["data"]["alerts"]
    return any(a["labels"].get("alertname") == alertname and a["labels"].get("component") == component
               and a["state"] == state for a in alerts)


def am_inhibited(am, alertname, component, source):
    """ALERTNAME{component} is suppressed in Alertmanager, inhibited by SOURCE{component}."""
    alerts = get(f"{am}/api/v2/alerts?active=true&inhibited=true&silenced=true")
    def find(name):
        return [a for a in alerts if a["labels"].get("alertname") == name and a["labels"].get("component") == component]
    sources = {a["fingerprint"] for a in find(source)}
    for a in find(alertname):
        status = a["status"]
        print(f"{alertname}{{component={component}}}: state {status['state']}, inhibitedBy {status['inhibitedBy']}"
              f" ({source} fingerprints {sorted(sources)})")
        if status["state"] == "suppressed" and sources & set(status["inhibitedBy"]):
            return True
    return False


def panels(node):
    """Every panel of a Grafana dashboard: nested (collapsed rows) and old-style rows too."""
    if isinstance(node, dict):
        if "targets" in node:
            yield node
        for key in ("panels", "rows"):
            for child in node.get(key, []) or []:
                yield from panels(child)
        if "dashboard" in node:
            yield from panels(node["dashboard"])


def prepare(expr):
    """Grafana variables -> what they are here: job vigil, every instance, 1m windows."""
    def matcher(label, op, var):
        if var == "job":
            return f'{label}{op}"vigil"'
        return f'{label}=~".+"' if op in ("=", "=~") else f'{label}=~".*"'
    expr = re.sub(r'(\w+)\s*(=~|!~|!=|=)\s*"(?:\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\])"',
                  lambda m: matcher(m.group(1), m.group(2), m.group(3) or m.group(4) or m.group(5)), expr)
    fixed = {"__rate_interval": "1m", "__interval": "1m", "__range": "1m", "__range_s": "60",
             "__range_ms": "60000", "__interval_ms": "60000", "job": "vigil"}
    def variable(m):
        name = m.group(1) or m.group(2) or m.group(3)
        return fixed.get(name, ".+")
    # `$1` is label_replace's capture group, not a variable (Grafana leaves it alone too).
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$([A-Za-z_]\w*)|\[\[(\w+)\]\]", variable, expr)


def dashboard(prom, path, deadline):
    """Runs every panel target until each has data or DEADLINE (epoch) passes; returns the failures."""
    with open(path) as f:
        board = json.load(f)
    targets = [(p.get("title") or f"panel {p.get('id')}", t["expr"], prepare(t["expr"]))
               for p in panels(board) for t in p.get("targets", []) if t.get("expr", "").strip()]
    if not targets:
        print("  no panel target has an expr")
        return 1
    pending, outcome, final = list(range(len(targets))), {}, set()
    while True:
        for i in [i for i in pending if i not in final]:
            result, error = query(prom, targets[i][2])
            outcome[i] = error or ("" if result else "no data")
            if not outcome[i]:
                pending.remove(i)
            elif "parse error" in outcome[i]:
                final.add(i)  # no use asking again
        if not set(pending) - final or time.time() > deadline:
            break
        time.sleep(1)
    for i in pending:
        title, raw, expr = targets[i]
        print(f"  panel '{title}': {outcome[i]}\n    expr: {raw}" + (f"\n    ran:  {expr}" if expr != raw else ""))
    print(f"  {len(targets) - len(pending)} of {len(targets)} panel queries have data")
    return len(pending)


def pages(log, since):
    """The distinct alerts that reached /pager firing after SINCE (Unix time), one line each."""
    seen = {}
    for received, path, a in notifications(log):
        if path == "/pager" and a.get("status") == "firing" and received >= float(since):
            labels = a["labels"]
            key = tuple(sorted(labels.items()))
            seen.setdefault(key, f"{labels.get('alertname')}{{" + ", ".join(
                f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "job")) + "}")
    print("\n".join(seen.values()))
    return len(seen)


def resolved(log, since):
    """The alerts resolved at /pager after SINCE (Unix time), as `alertname instance`, one line each, sorted."""
    seen = [" ".join(filter(None, (a["labels"].get("alertname"), a["labels"].get("instance"))))
            for received, path, a in notifications(log) if path == "/pager" and received >= float(since) and a.get("status") == "resolved"]
    print("\n".join(sorted(seen)))


def fast_rules(source, target):
    """The rules with every `for:` and `keep_firing_for:` 30 times shorter (at least 2s): 1m -> 2s,
    5m -> 10s, same order."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    def shorter(m):
        seconds = sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhd])", m.group(2)))
        return f"{m.group(1)}{max(2, seconds // 30)}s"
    text, count = re.subn(r"^(\s*(?:keep_firing_)?for:\s*)((?:\d+[smhd])+)\s*$", shorter, open(source).read(), flags=re.M)
    if not count:
        sys.exit(f"{source}: no `for:` found")
    open(target, "w").write(text)


def fast_routing(source, target, port, group_wait="1s"):
    """The routing as shipped, with short timers and the receivers at the test's port."""
    text = open(source).read()
    for key, value in (("group_wait", group_wait), ("group_interval", "2s"), ("repeat_interval", "1m")):
        text = re.sub(rf"^(\s*{key}:\s*)\S+", rf"\g<1>{value}", text, flags=re.M)
    text, urls = re.subn(r"(\burl:\s*['\"]?)https?://[^/\s'\"]+", rf"\g<1>http://127.0.0.1:{port}", text)
    if not urls:
        sys.exit(f"{source}: no receiver url to point at the test's receiver")
    open(target, "w").write(text)


# Alerts posted together to an Alertmanager running the shipped routing: (what, labels, held
# back or not, receiver it routes to). Database A is down for the fleet; one host alone cannot
# reach database B, which its `database` component names too; another's target is not known.
FLEET_DATABASE = {"alertname": "VigilFleetDependencyDown", "severity": "critical", "job": "vigil",
                  "component": "database", "target": "db-a.internal:5432"}
INHIBITION_CASES = [
    ("the fleet alert for database A", FLEET_DATABASE, False, "pager"),
    ("a host's own alert for database A", {"alertname": "VigilComponentUnhealthy", "severity": "critical", "job": "vigil",
     "instance": "h1:9731", "component": "database", "target": "db-a.internal:5432"}, True, "pager"),
    ("a host's probe alert for database A", {"alertname": "VigilProbeFailing", "severity": "warning", "job": "vigil",
     "instance": "h2:9731", "component": "database", "probe": "database", "target": "db-a.internal:5432"}, True, "chat"),
    ("a host alone on database B", {"alertname": "VigilComponentUnhealthy", "severity": "critical", "job": "vigil",
     "instance": "h9:9731", "component": "database", "target": "db-b.internal:5432"}, False, "pager"),
    ("a host whose database target is not known", {"alertname": "VigilComponentUnhealthy", "severity": "critical",
     "job": "vigil", "instance": "h8:9731", "component": "database"}, False, "pager"),
]


def inhibition(config):
    """INHIBITION_CASES against CONFIG: each routes to its receiver (amtool config routes test) and,
    all posted at once to a real Alertmanager, is held back (suppressed by an inhibition) or not.
    Returns the number of cases that do not hold."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not binary:
        sys.exit("alertcheck inhibition: Alertmanager is not installed (run scripts/bootstrap)")
    failures = 0
    for what, labels, _, receiver in INHIBITION_CASES:
        routed = subprocess.run(["amtool", "config", "routes", "test", f"--config.file={config}"]
                                + [f"{k}={v}" for k, v in labels.items()], capture_output=True, text=True).stdout.split()
        if routed != [receiver]:
            print(f"  {what}: routed to {routed}, expected [{receiver!r}]")
            failures += 1
    storage = tempfile.mkdtemp(prefix="vigil-inhibition-")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    am = f"http://127.0.0.1:{port}"
    with open(os.path.join(storage, "log"), "w") as log:
        server = subprocess.Popen([binary, f"--config.file={config}", f"--storage.path={storage}",
                                   f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(f"{am}/-/ready", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    print(open(os.path.join(storage, "log")).read()[-2000:])
                    sys.exit("alertcheck inhibition: Alertmanager did not start")
                time.sleep(0.1)
        body = json.dumps([{"labels": labels} for _, labels, _, _ in INHIBITION_CASES]).encode()
        urllib.request.urlopen(urllib.request.Request(f"{am}/api/v2/alerts", data=body, method="POST",
                                                      headers={"Content-Type": "application/json"}), timeout=5).close()
        # The inhibitor learns of its sources a moment after the post: ask until every case holds, or 10 s.
        deadline = time.time() + 10
        while True:
            by_labels = {tuple(sorted(a["labels"].items())): a["status"] for a in get(f"{am}/api/v2/alerts")}
            outcome = []
            for what, labels, held, _ in INHIBITION_CASES:
                status = by_labels.get(tuple(sorted(labels.items())))
                state = status["state"] if status else "missing"
                good = state == ("suppressed" if held else "active") and (not held or status["inhibitedBy"])
                outcome.append((what, held, state, good))
            if all(good for *_, good in outcome) or time.time() > deadline:
                break
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(storage, ignore_errors=True)
    for what, held, state, good in outcome:
        print(f"  {'ok' if good else 'FAILED'}: {what}: {state}, {'held back' if held else 'not held back'} expected")
        failures += not good
    return failures


command, args = sys.argv[1], sys.argv[2:]
if command == "query":
    result, error = query(*args)
    sys.exit(0 if result else 1)
elif command == "dashboard":
    sys.exit(min(dashboard(args[0], args[1], float(args[2])), 100))
elif command == "notified":
    sys.exit(0 if notified(*args) else 1)
elif command == "leaked":
    sys.exit(0 if leaked(*args) else 1)
elif command == "prom-alert":
    sys.exit(0 if prom_alert(*args) else 1)
elif command == "am-inhibited":
    sys.exit(0 if am_inhibited(*args) else 1)
elif command == "pager-log":
    for received, path, a in notifications(args[0]):
        if path == "/pager" and received >= float(args[1]):
            print(f"  {received:.2f} {a.get('status')} startsAt {a.get('startsAt')} {a['labels']}")
    sys.exit(0)
elif command == "pages":
    print(f"{pages(*args)} distinct alerts paged", file=sys.stderr)
    sys.exit(0)
elif command == "resolved":
    resolved(*args)
    sys.exit(0)
elif command == "fast-rules":
    fast_rules(*args)
    sys.exit(0)
elif command == "fast-routing":
    fast_routing(*args)
    sys.exit(0)
elif command == "inhibition":
    failed = inhibition(*args)
    print(f"alertcheck inhibition: {len(INHIBITION_CASES)} cases, {failed} failures")
    sys.exit(1 if failed else 0)
elif command == "summary":
    seen = [f"{path} {a.get('status')} {a['labels'].get('alertname')}{{{a['labels'].get('component', '')}}}"
            for _, path, a in notifications(args[0])]
    print("; ".join(dict.fromkeys(seen)) or "none")
    sys.exit(0)
sys.exit(f"unknown command {command}")
