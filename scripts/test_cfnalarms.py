"""Tests of cfnalarms.py without AWS: the intrinsic functions it models,
CloudFormation's parameter constraints, and the checker against the real
template (alerts/cloudwatch-alarms.yml) rendered for both variants: what
it resolves passes, and a changed threshold, a lost dimension or a missing
runbook link is reported.

    python3 -m unittest discover -s scripts -p 'test_*.py'
"""
import copy
import os
import tempfile
import unittest

import cfnalarms

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "alerts", "cloudwatch-alarms.yml")
STACK = {"StackName": "vigil-alarms-unit", "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/vigil-alarms-unit/1"}
INSTANCE = {"InstanceId": "i-0123456789abcdef0", "PagerTopicArn": "arn:aws:sns:eu-west-1:123456789012:pager",
            "TicketTopicArn": "arn:aws:sns:eu-west-1:123456789012:ticket"}


def template_file(text):
    handle = tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False)
    handle.write(text)
    handle.close()
    return handle.name


SMALL = """
Parameters:
  Env: {Type: String, AllowedPattern: "[a-z]+", Default: prod}
  Floor: {Type: Number, MinValue: 0, MaxValue: 100, Default: 80}
  Topic: {Type: String, Default: ""}
Conditions:
  HasTopic: !Not [!Equals [!Ref Topic, ""]]
Resources:
  Low:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub "${AWS::StackName}-low"
      AlarmDescription: !Sub ["${Env} below ${Floor} (${Link})", {Link: !Join ["#", ["https://r", "low"]]}]
      AlarmActions: !If [HasTopic, [!Ref Topic], !Ref "AWS::NoValue"]
      Threshold: !Ref Floor
Outputs:
  LowArn: {Value: !GetAtt Low.Arn}
"""


class IntrinsicsAndParameters(unittest.TestCase):
    def setUp(self):
        self.path = template_file(SMALL)
        self.addCleanup(os.unlink, self.path)

    def render(self, params):
        return cfnalarms.Template(self.path, params, cfnalarms.pseudo_from_stack(STACK)).render()

    def test_sub_join_if_novalue_and_getatt(self):
        rendered = self.render({})
        props = rendered["Resources"][0]["Properties"]
        self.assertEqual(props["AlarmName"], "vigil-alarms-unit-low")
        self.assertEqual(props["AlarmDescription"], "prod below 80 (https://r#low)")
        self.assertNotIn("AlarmActions", props, "AWS::NoValue drops the property")
        self.assertEqual(rendered["Outputs"]["LowArn"], "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:vigil-alarms-unit-low")
        self.assertEqual(self.render({"Topic": "arn:t"})["Resources"][0]["Properties"]["AlarmActions"], ["arn:t"])

    def test_constraints_are_checked_as_cloudformation_does(self):
        for bad, why in [({"Env": "Prod1"}, "AllowedPattern"), ({"Floor": "101"}, "MaxValue"), ({"Floor": "x"}, "not a number"),
                         ({"Other": "1"}, "not a parameter")]:
            with self.assertRaisesRegex(ValueError, why):
                self.render(bad)


class TheRealTemplate(unittest.TestCase):
    def rendered(self, params):
        template = cfnalarms.Template(TEMPLATE, params, cfnalarms.pseudo_from_stack(STACK))
        return template.params, template.render()

    @staticmethod
    def as_cloudwatch_shows(rendered):
        """describe-alarms' answer had PutMetricAlarm been called with each rendered alarm."""
        metric, composite = [], []
        for resource in rendered["Resources"]:
            props = copy.deepcopy(resource["Properties"])
            for actions in ("AlarmActions", "OKActions"):
                props.setdefault(actions, [])  # CloudWatch lists none as []
            for key, convert in cfnalarms.NUMERIC.items():
                if key in props:
                    props[key] = convert(float(props[key]))
            (metric if resource["Type"] == "AWS::CloudWatch::Alarm" else composite).append(props)
        return {"MetricAlarms": metric, "CompositeAlarms": composite}

    def test_both_variants_verify_clean(self):
        for given in ({}, INSTANCE):
            params, rendered = self.rendered(given)
            alarms = self.as_cloudwatch_shows(rendered)
            self.assertEqual(len(alarms["MetricAlarms"]), len(cfnalarms.EXPECTED))
            self.assertEqual(cfnalarms.verify(STACK, params, alarms, rendered, "cloudwatch"), [], given)

    def test_a_drifted_alarm_is_reported(self):
        params, rendered = self.rendered(INSTANCE)
        alarms = self.as_cloudwatch_shows(rendered)
        by_name = {a["AlarmName"]: a for a in alarms["MetricAlarms"]}
        by_name["vigil-alarms-unit-aws-errors"]["Threshold"] = 1.0
        by_name["vigil-alarms-unit-redis-unhealthy"]["Dimensions"] = [{"Name": "Environment", "Value": "production"}]
        by_name["vigil-alarms-unit-certificate-expiring"]["AlarmDescription"] = "no link"
        problems = "\n".join(cfnalarms.verify(STACK, params, alarms, rendered, "cloudwatch"))
        self.assertIn("aws-errors: Threshold is 1.0", problems)
        self.assertIn("redis-unhealthy: dimensions", problems)
        self.assertIn("certificate-expiring: AlarmDescription lacks the runbook link", problems)


if __name__ == "__main__":
    unittest.main()
