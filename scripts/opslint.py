"""Checks of the ops files against what Vigil serves and what CloudWatch
keeps: every metric the alerts, dashboards and docs/metrics.md name is in a
live scrape and every served one is documented (scripts/lint-metrics); a
CloudWatch dashboard is accepted and read back as put
(scripts/check-cloudwatch-dashboard). Tested by test_opslint.py.

    opslint.py metrics SCRAPE_FILE
    opslint.py dashboard-accepted PUT_JSON
    opslint.py dashboard-readback GET_JSON BODY_FILE NAME
"""
import glob
import json
import re
import sys


def metric_names(text, histograms):
    """Vigil's and the process collector's metric names in `text`; a histogram's series by its name."""
    # Recorded series (level:metric:operations) are the rules' own names, not Vigil's.
    found = set(re.findall(r"(?<![\w:])((?:vigil|process)_[a-z_]*[a-z])\b(?!:)", text))
    base = {name: re.sub(r"_(bucket|sum|count)$", "", name) for name in found}
    return {base[name] if base[name] in histograms else name for name in found}


def metrics_problems(scrape, files, metrics_doc):
    """(problems, names used): names the files use that the scrape lacks, served names the doc lacks."""
    served = set(re.findall(r"^# TYPE (\S+)", scrape, re.M))
    histograms = set(re.findall(r"^# TYPE (\S+) histogram", scrape, re.M))
    documented = set(re.findall(r"^\| `((?:vigil|process)_[a-z_]+)`", metrics_doc, re.M))
    used = {}
    for path, text in files:
        for name in metric_names(text, histograms):
            used.setdefault(name, path)
    problems = [f"{name} (used in {path}) is not in a live scrape" for name, path in sorted(used.items()) if name not in served]
    problems += [f"{name} is served but not documented in docs/metrics.md" for name in sorted(served - documented)]
    return problems, used, served


def dashboard_messages(put):
    """PutDashboard's validation messages, one line each."""
    return [f"{m.get('DataPath', '?')}: {m.get('Message', m)}" for m in put.get("DashboardValidationMessages") or []]


def dashboard_readback_problems(got, want, name):
    """What GetDashboard gave back that is not the body put under `name`."""
    problems = []
    if got.get("DashboardName") != name:
        problems.append(f"DashboardName is {got.get('DashboardName')!r}, expected {name!r}")
    if not str(got.get("DashboardArn", "")).endswith(":dashboard/" + name):
        problems.append(f"DashboardArn {got.get('DashboardArn')!r} does not end with :dashboard/{name}")
    try:
        body = json.loads(got.get("DashboardBody", ""))
    except ValueError as error:
        return problems + [f"DashboardBody is not JSON: {error}"]
    if body != want:
        problems.append("DashboardBody is not the body put")
        problems += [f"  differs at {key!r}" for key in sorted(set(body) | set(want)) if body.get(key) != want.get(key)]
    return problems


def load(path):
    with open(path) as handle:
        return handle.read()


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "metrics":
        paths = sorted(glob.glob("alerts/*.yml") + glob.glob("dashboards/*.json")) + ["docs/metrics.md"]
        problems, used, served = metrics_problems(load(args[0]), [(p, load(p)) for p in paths], load("docs/metrics.md"))
        for line in problems:
            print(f"lint-metrics: {line}", file=sys.stderr)
        print(f"lint-metrics: {len(used)} metric names used in alerts/, dashboards/ and docs/metrics.md; {len(served)} served; "
              f"{len(problems)} problems")
        return 1 if problems else 0
    if command == "dashboard-accepted":
        messages = dashboard_messages(json.loads(load(args[0])))
        for line in messages:
            print("  " + line, file=sys.stderr)
        return 1 if messages else 0
    if command == "dashboard-readback":
        want = json.loads(load(args[1]))
        problems = dashboard_readback_problems(json.loads(load(args[0])), want, args[2])
        for line in problems:
            print("  " + line, file=sys.stderr)
        if not problems:
            widgets = want["widgets"]
            print(f"  same body: {len(widgets)} widgets, {sum(len(w.get('properties', {}).get('metrics', [])) for w in widgets)} metric rows")
        return 1 if problems else 0
    print(f"opslint.py: unknown command {command}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
