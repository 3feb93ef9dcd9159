"""Tests of opslint.py: a metric used but not served, served but not
documented, a histogram's series, a recorded series; a dashboard read back
with another body or name.

    python3 -m unittest discover -s scripts -p 'test_*.py'
"""
import json
import unittest

import opslint

SCRAPE = """# TYPE vigil_up gauge
vigil_up 1
# TYPE vigil_probe_duration_seconds histogram
vigil_probe_duration_seconds_bucket{le="1"} 1
# TYPE vigil_new_total counter
vigil_new_total 0
"""
DOC = "| `vigil_up` | gauge |\n| `vigil_probe_duration_seconds` | histogram |\n"


class Metrics(unittest.TestCase):
    def test_used_served_and_documented(self):
        files = [("alerts/a.yml", "expr: vigil_up == 0 and rate(vigil_probe_duration_seconds_bucket[5m]) > job:vigil_up:sum"),
                 ("dashboards/d.json", '"expr": "vigil_gone_total"')]
        problems, used, served = opslint.metrics_problems(SCRAPE, files, DOC)
        self.assertEqual(set(used), {"vigil_up", "vigil_probe_duration_seconds", "vigil_gone_total"})
        self.assertEqual(problems, ["vigil_gone_total (used in dashboards/d.json) is not in a live scrape",
                                    "vigil_new_total is served but not documented in docs/metrics.md"])
        self.assertEqual(len(served), 3)


class Dashboards(unittest.TestCase):
    BODY = {"widgets": [{"type": "metric", "properties": {"metrics": [["Vigil", "OverallHealthy"]]}}]}

    def got(self, name="d", body=None):
        return {"DashboardName": name, "DashboardArn": f"arn:aws:cloudwatch::123456789012:dashboard/{name}",
                "DashboardBody": json.dumps(body or self.BODY)}

    def test_readback(self):
        self.assertEqual(opslint.dashboard_readback_problems(self.got(), self.BODY, "d"), [])
        changed = {"widgets": [], "start": "-PT3H"}
        problems = opslint.dashboard_readback_problems(self.got(body=changed), self.BODY, "d")
        self.assertEqual(problems, ["DashboardBody is not the body put", "  differs at 'start'", "  differs at 'widgets'"])
        self.assertIn("DashboardName is 'e'", opslint.dashboard_readback_problems(self.got(name="e"), self.BODY, "d")[0])
        broken = dict(self.got(), DashboardBody="{")
        self.assertIn("not JSON", opslint.dashboard_readback_problems(broken, self.BODY, "d")[0])

    def test_validation_messages(self):
        self.assertEqual(opslint.dashboard_messages({}), [])
        put = {"DashboardValidationMessages": [{"DataPath": "/widgets/0", "Message": "bad"}]}
        self.assertEqual(opslint.dashboard_messages(put), ["/widgets/0: bad"])


if __name__ == "__main__":
    unittest.main()
