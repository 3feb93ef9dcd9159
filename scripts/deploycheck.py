"""Lints of the files under deploy/ that need more than a schema: the
Kubernetes manifests fit together (selectors, ports, probes, security
context), the Prometheus scrape job as shipped and with its commented
examples, the Dockerfile's HEALTHCHECK command. Used by scripts/check-deploy;
tested by test_deploycheck.py.

    deploycheck.py parses FILE                 every YAML document loads
    deploycheck.py kubernetes WORK             ties between the manifests; WORK/vigil.yml from the ConfigMap
    deploycheck.py rule-groups IN OUT          a PrometheusRule's spec.groups as a rules file
    deploycheck.py scrape WORK                 WORK/prometheus.yml and WORK/prometheus-examples.yml
    deploycheck.py run-healthcheck ADDRESS BINARY   the HEALTHCHECK command, run as the container would
"""
import glob
import json
import os
import re
import subprocess
import sys

import yaml


def load_manifests(pattern="deploy/kubernetes/*.yaml"):
    docs = []
    for path in sorted(glob.glob(pattern)):
        with open(path) as handle:
            docs += [(path, d) for d in yaml.safe_load_all(handle) if d]
    return docs


def kubernetes_problems(docs):
    """Problems between the manifests `docs` ((path, document) pairs), and the ConfigMap's vigil.yml (or None)."""
    by_kind = {}
    for path, d in docs:
        for key in ("apiVersion", "kind", "metadata"):
            assert key in d, f"{path}: a document without {key}"
        assert d["metadata"].get("name"), f"{path}: {d['kind']} without metadata.name"
        by_kind.setdefault(d["kind"], []).append(d)
    problems = []
    def one(kind):
        items = by_kind.get(kind, [])
        if len(items) != 1:
            problems.append(f"expected one {kind}, found {len(items)}")
            return {}
        return items[0]
    dep, svc, sm, sa, cm = (one(k) for k in ("Deployment", "Service", "ServiceMonitor", "ServiceAccount", "ConfigMap"))
    pod = dep.get("spec", {}).get("template", {})
    pod_labels = pod.get("metadata", {}).get("labels", {})
    if dep and dep["spec"]["selector"]["matchLabels"].items() - pod_labels.items():
        problems.append("Deployment selector does not match its pod labels")
    containers = pod.get("spec", {}).get("containers", [])
    c = next((c for c in containers if c["name"] == "vigil"), {})
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    if svc:
        if svc["spec"]["selector"].items() - pod_labels.items():
            problems.append("Service selector matches no pod of the Deployment")
        for p in svc["spec"]["ports"]:
            if p["targetPort"] not in ports and p["targetPort"] not in ports.values():
                problems.append(f"Service port {p['name']} targets {p['targetPort']}, not a container port")
        if svc["metadata"]["name"] != "vigil":
            problems.append("Service must be named vigil: it is the job label alerts/vigil.rules.yml selects")
    if sm:
        if sm.get("apiVersion") != "monitoring.coreos.com/v1":
            problems.append("ServiceMonitor apiVersion is not monitoring.coreos.com/v1")
        if sm["spec"]["selector"]["matchLabels"].items() - svc.get("metadata", {}).get("labels", {}).items():
            problems.append("ServiceMonitor selector does not match the Service's labels")
        svc_ports = {p["name"] for p in svc.get("spec", {}).get("ports", [])}
        for e in sm["spec"]["endpoints"]:
            if e.get("port") not in svc_ports:
                problems.append(f"ServiceMonitor endpoint port {e.get('port')} is not a Service port name")
            if e.get("interval") != "15s":
                problems.append("ServiceMonitor interval is not 15s")
    probe = lambda name: c.get(name, {}).get("httpGet", {}).get("path")
    if probe("livenessProbe") != "/health/live":
        problems.append(f"livenessProbe is on {probe('livenessProbe')}, not /health/live: a database outage would restart every Vigil")
    if probe("readinessProbe") != "/health/ready":
        problems.append(f"readinessProbe is on {probe('readinessProbe')}, not /health/ready")
    if probe("startupProbe") not in ("/health/live",):
        problems.append(f"startupProbe is on {probe('startupProbe')}: a failing startup probe restarts the container, so it must not follow dependencies")
    sc, psc = c.get("securityContext", {}), pod.get("spec", {}).get("securityContext", {})
    for key, want in (("readOnlyRootFilesystem", True), ("allowPrivilegeEscalation", False)):
        if sc.get(key) is not want:
            problems.append(f"container securityContext.{key} is not {want}")
    if psc.get("runAsNonRoot") is not True:
        problems.append("pod securityContext.runAsNonRoot is not true")
    if sa and pod.get("spec", {}).get("serviceAccountName") != sa["metadata"]["name"]:
        problems.append("the pods do not use the ServiceAccount")
    if not c.get("resources", {}).get("limits", {}).get("memory"):
        problems.append("no memory limit")
    config = cm.get("data", {}).get("vigil.yml") if cm else None
    if cm and not config:
        problems.append("the ConfigMap has no data.vigil.yml: the Deployment mounts it as Vigil's configuration")
    return problems, config


def scrape_configs(text):
    """The scrape file as shipped, and with its `# --- example` blocks uncommented."""
    plain = yaml.safe_load(text)
    out, inside = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --- example"):
            inside = True
            continue
        if stripped == "# --- end example":
            inside = False
            continue
        if inside:
            m = re.match(r"^(\s*)# ?(.*)$", line)
            line = m.group(1) + m.group(2)
        out.append(line)
    return plain, yaml.safe_load("\n".join(out))


def scrape_problems(plain, examples):
    job = plain["scrape_configs"][0]
    problems = []
    if job.get("job_name") != "vigil":
        problems.append("the job must be named vigil (alerts/vigil.rules.yml selects job=\"vigil\")")
    if job.get("scrape_interval") != "15s":
        problems.append("scrape_interval is not 15s")
    extra = set(examples["scrape_configs"][0]) - set(job)
    if not {"ec2_sd_configs", "tls_config", "basic_auth", "scheme"} <= extra:
        problems.append(f"examples not found in the file ({sorted(extra)})")
    return problems


def healthcheck_command(dockerfile_text):
    """The exec-form CMD of the Dockerfile's HEALTHCHECK, continuation lines joined."""
    text = dockerfile_text.replace("\\\n", " ")
    m = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", text, re.M)
    if not m:
        raise ValueError("no exec-form HEALTHCHECK ... CMD [...] in the Dockerfile")
    return json.loads(m.group(1))


def report(problems):
    for problem in problems:
        print(problem)
    return 1 if problems else 0


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "parses":
        with open(args[0]) as handle:
            list(yaml.safe_load_all(handle))
        return 0
    if command == "kubernetes":
        problems, config = kubernetes_problems(load_manifests())
        if config is not None:
            with open(os.path.join(args[0], "vigil.yml"), "w") as handle:
                handle.write(config)
        return report(problems)
    if command == "rule-groups":
        with open(args[0]) as handle:
            rule = yaml.safe_load(handle)
        with open(args[1], "w") as handle:
            yaml.safe_dump({"groups": rule["spec"]["groups"]}, handle, sort_keys=False)
        return 0
    if command == "scrape":
        with open("deploy/prometheus/scrape.yml") as handle:
            plain, examples = scrape_configs(handle.read())
        for name, doc in (("prometheus.yml", plain), ("prometheus-examples.yml", examples)):
            config = {"global": {"scrape_interval": "1m", "evaluation_interval": "1m"}, "scrape_configs": doc["scrape_configs"]}
            with open(os.path.join(args[0], name), "w") as handle:
                yaml.safe_dump(config, handle, sort_keys=False)
        return report(scrape_problems(plain, examples))
    if command == "run-healthcheck":
        address, binary = args
        with open("deploy/Dockerfile") as handle:
            command_line = [binary if word == "/usr/local/bin/vigil" else word for word in healthcheck_command(handle.read())]
        environment = {**os.environ, "VIGIL_WEB_LISTEN_ADDRESS": address}
        return subprocess.run(command_line, timeout=5, env=environment, stderr=subprocess.DEVNULL).returncode
    print(f"deploycheck.py: unknown command {command}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
