"""Tests of deploycheck.py on the shipped files: they pass, and each tie it
checks fails when broken (a probe on the dependencies, a selector that
matches nothing, a port name, the job name, a HEALTHCHECK in shell form).

    python3 -m unittest discover -s scripts -p 'test_*.py'
"""
import copy
import os
import unittest

import deploycheck

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Manifests(unittest.TestCase):
    def setUp(self):
        self.docs = deploycheck.load_manifests(os.path.join(ROOT, "deploy", "kubernetes", "*.yaml"))

    def changed(self, kind, change):
        docs = copy.deepcopy(self.docs)
        change(next(d for _, d in docs if d["kind"] == kind))
        return "\n".join(deploycheck.kubernetes_problems(docs)[0])

    def test_the_shipped_manifests_fit_and_carry_a_configuration(self):
        problems, config = deploycheck.kubernetes_problems(self.docs)
        self.assertEqual(problems, [])
        self.assertIn("secrets:", config or "")

    def test_each_tie_is_checked(self):
        def container(deployment):
            return deployment["spec"]["template"]["spec"]["containers"][0]
        def probe_on_health(deployment):
            container(deployment)["livenessProbe"]["httpGet"]["path"] = "/health"
        self.assertIn("livenessProbe is on /health", self.changed("Deployment", probe_on_health))
        def root(deployment):
            deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False
        self.assertIn("runAsNonRoot", self.changed("Deployment", root))
        def selector(service):
            service["spec"]["selector"] = {"app": "other"}
        self.assertIn("Service selector matches no pod", self.changed("Service", selector))
        def port(monitor):
            monitor["spec"]["endpoints"][0]["port"] = "web"
        self.assertIn("not a Service port name", self.changed("ServiceMonitor", port))
        def emptied(config_map):
            config_map["data"] = {}
        self.assertIn("no data.vigil.yml", self.changed("ConfigMap", emptied))
        duplicate = self.docs + [self.docs[0]]
        self.assertTrue(any("expected one" in p for p in deploycheck.kubernetes_problems(duplicate)[0]))


class ScrapeAndHealthcheck(unittest.TestCase):
    def test_the_scrape_job_and_its_examples(self):
        with open(os.path.join(ROOT, "deploy", "prometheus", "scrape.yml")) as handle:
            plain, examples = deploycheck.scrape_configs(handle.read())
        self.assertEqual(deploycheck.scrape_problems(plain, examples), [])
        renamed = copy.deepcopy(plain)
        renamed["scrape_configs"][0]["job_name"] = "exporter"
        self.assertIn("the job must be named vigil", deploycheck.scrape_problems(renamed, examples)[0])
        self.assertIn("examples not found", deploycheck.scrape_problems(plain, plain)[0])

    def test_the_healthcheck_command(self):
        with open(os.path.join(ROOT, "deploy", "Dockerfile")) as handle:
            self.assertEqual(deploycheck.healthcheck_command(handle.read())[0], "/usr/local/bin/vigil")
        self.assertEqual(deploycheck.healthcheck_command('HEALTHCHECK --interval=5s \\\n  CMD ["/bin/x", "y"]\n'), ["/bin/x", "y"])
        with self.assertRaises(ValueError):
            deploycheck.healthcheck_command("HEALTHCHECK CMD curl -f http://localhost/\n")


if __name__ == "__main__":
    unittest.main()
