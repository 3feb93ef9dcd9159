"""Resolves alerts/cloudwatch-alarms.yml as CloudFormation would and checks
the alarms CloudWatch (moto) holds against the expected ones, written out
here independently of the template. Used by scripts/check-cloudwatch-alarms
(why moto needs it: that script's header); tested by test_cfnalarms.py.

    cfnalarms.py render TEMPLATE STACK_JSON OUT_DIR
    cfnalarms.py validate-params TEMPLATE Key=Value...
    cfnalarms.py count ALARMS_JSON
    cfnalarms.py verify STACK_JSON ALARMS_JSON RENDERED_JSON cloudwatch|template
"""
import json, re, sys
import yaml

# --- Loading: the short-form intrinsic tags.
class Loader(yaml.SafeLoader):
    pass

def _intrinsic(loader, suffix, node):
    name = {"Ref": "Ref", "Condition": "Condition"}.get(suffix, "Fn::" + suffix)
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}

Loader.add_multi_constructor("!", _intrinsic)
NOVALUE = object()


class Template:
    def __init__(self, path, params, pseudo):
        with open(path) as f:
            self.t = yaml.load(f, Loader=Loader)
        self.resources = self.t.get("Resources", {})
        self.pseudo = dict(pseudo)
        self.params = self._parameters(params)
        self.conditions = {}

    def _parameters(self, given):
        out, problems = {}, []
        for name, spec in self.t.get("Parameters", {}).items():
            if name in given:
                value = given[name]
            elif "Default" in spec:
                value = str(spec["Default"])
            else:
                problems.append(f"{name}: no value and no default")
                continue
            kind = spec.get("Type", "String")
            if kind == "Number":
                try:
                    number = float(value)
                except ValueError:
                    problems.append(f"{name}: {value!r} is not a number")
                    continue
                if "MinValue" in spec and number < float(spec["MinValue"]):
                    problems.append(f"{name}: {value} below MinValue {spec['MinValue']}")
                if "MaxValue" in spec and number > float(spec["MaxValue"]):
                    problems.append(f"{name}: {value} above MaxValue {spec['MaxValue']}")
            else:
                if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
                    problems.append(f"{name}: {value!r} does not match AllowedPattern {spec['AllowedPattern']}")
                if "MinLength" in spec and len(value) < int(spec["MinLength"]):
                    problems.append(f"{name}: shorter than MinLength {spec['MinLength']}")
                if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
                    problems.append(f"{name}: longer than MaxLength {spec['MaxLength']}")
            if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
                problems.append(f"{name}: {value!r} not in AllowedValues")
            out[name] = value
        unknown = set(given) - set(self.t.get("Parameters", {}))
        problems += [f"{name}: not a parameter of the template" for name in sorted(unknown)]
        if problems:
            raise ValueError("parameters refused: " + "; ".join(problems))
        return out

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.t["Conditions"][name]))
        return self.conditions[name]

    def ref(self, name):
        if name in self.params:
            return self.params[name]
        if name == "AWS::NoValue":
            return NOVALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.resources:
            res = self.resources[name]
            if res["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
                return self.resolve(res["Properties"]["AlarmName"])
            raise ValueError(f"Ref {name}: resource type {res['Type']} not modelled here")
        raise ValueError(f"Ref to unknown name {name}")

    def getatt(self, name, attr):
        res = self.resources.get(name)
        if res and res["Type"].startswith("AWS::CloudWatch::") and attr == "Arn":
            p = self.pseudo
            return f"arn:{p['AWS::Partition']}:cloudwatch:{p['AWS::Region']}:{p['AWS::AccountId']}:alarm:{self.ref(name)}"
        raise ValueError(f"GetAtt {name}.{attr} not modelled here")

    def sub(self, text, extra):
        def one(m):
            key = m.group(1)
            if key.startswith("!"):
                return "${" + key[1:] + "}"
            if key in extra:
                return str(self.resolve(extra[key]))
            if "." in key and key.split(".", 1)[0] in self.resources:
                return str(self.getatt(*key.split(".", 1)))
            return str(self.ref(key))
        return re.sub(r"\$\{([^}]+)\}", one, text)

    def resolve(self, node):
        if isinstance(node, list):
            items = [self.resolve(x) for x in node]
            return [x for x in items if x is not NOVALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if key == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    return self.sub(arg[0], arg[1])
                return self.sub(arg, {})
            if key == "Fn::Join":
                return arg[0].join(str(x) for x in self.resolve(arg[1]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::Split":
                return self.resolve(arg[1]).split(arg[0])
            if key == "Fn::GetAtt":
                return self.getatt(*arg)
            if key.startswith("Fn::"):
                raise ValueError(f"{key} not modelled here")
        out = {}
        for k, v in node.items():
            v = self.resolve(v)
            if v is not NOVALUE:
                out[k] = v
        return out

    def render(self):
        alarms = []
        for logical, res in self.resources.items():
            if "Condition" in res and not self.condition(res["Condition"]):
                continue
            alarms.append({"Logical": logical, "Type": res["Type"],
                           "Properties": self.resolve(res.get("Properties", {}))})
        outputs = {}
        for name, out in self.t.get("Outputs", {}).items():
            if "Condition" in out and not self.condition(out["Condition"]):
                continue
            outputs[name] = str(self.resolve(out["Value"]))
        return {"Resources": alarms, "Outputs": outputs}


def pseudo_from_stack(stack):
    # arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/ID
    arn = stack["StackId"].split(":")
    return {"AWS::Partition": arn[1], "AWS::Region": arn[3], "AWS::AccountId": arn[4],
            "AWS::StackName": stack["StackName"], "AWS::StackId": stack["StackId"],
            "AWS::URLSuffix": "amazonaws.com"}


NUMERIC = {"Period": int, "EvaluationPeriods": int, "DatapointsToAlarm": int, "Threshold": float}

# --- The expected alarms, written out independently of the template.
# suffix: metric, extra dimensions, statistic, period, evaluation periods,
# datapoints to alarm, threshold (a number or a parameter name), operator,
# TreatMissingData, routing, runbook anchor.
EXPECTED = {
    "database-unhealthy": ("DatabaseHealthy", {}, "Minimum", 60, 2, 2, 1, "LessThanThreshold", "breaching", "member", "vigilcomponentunhealthy"),
    "redis-unhealthy": ("RedisHealthy", {}, "Minimum", 60, 2, 2, 1, "LessThanThreshold", "breaching", "member", "vigilcomponentunhealthy"),
    "overall-unhealthy": ("OverallHealthy", {}, "Minimum", 60, 2, 2, 1, "LessThanThreshold", "breaching", "member", "vigildown"),
    "secrets-unhealthy": ("SecretsHealthy", {}, "Minimum", 60, 2, 2, 1, "LessThanThreshold", "breaching", "ticket", "vigilcomponentunhealthy"),
    "secrets-need-attention": ("SecretsNeedingAttention", {}, "Maximum", 300, 1, None, 0, "GreaterThanThreshold", "notBreaching", "pager", "vigilsecretscheduledfordeletion"),
    "certificate-expiring": ("CertificateDaysLeft", {}, "Minimum", 3600, 1, None, 14, "LessThanThreshold", "notBreaching", "ticket", "vigilcertificateexpiringsoon"),
    "certificate-expiry-critical": ("CertificateDaysLeft", {}, "Minimum", 3600, 1, None, 3, "LessThanThreshold", "notBreaching", "pager", "vigilcertificateexpirycritical"),
    "secrets-served-stale": ("StaleSecretsServed", {}, "Maximum", 300, 3, 3, 0, "GreaterThanThreshold", "notBreaching", "ticket", "vigilsecretsservedstale"),
    "secrets-from-environment": ("FallbackCount", {"Source": "environment"}, "Sum", 300, 1, None, 0, "GreaterThanThreshold", "notBreaching", "ticket", "vigilsecretsfromenvironment"),
    "aws-errors": ("AWSErrors", {}, "Sum", 300, 2, 2, "AWSErrorsThreshold", "GreaterThanThreshold", "notBreaching", "ticket", "vigilawserrors"),
    "cache-hit-rate-low": ("CacheHitRate", {}, "Average", 300, 3, 3, "CacheHitRateFloor", "LessThanThreshold", "notBreaching", "ticket", "vigilcachehitratiolow"),
    "database-probe-slow": ("ProbeLatency", {"Probe": "database"}, "Average", 300, 2, 2, "ProbeLatencyThresholdMs", "GreaterThanThreshold", "notBreaching", "ticket", "vigilprobeslow"),
    "redis-probe-slow": ("ProbeLatency", {"Probe": "redis"}, "Average", 300, 2, 2, "ProbeLatencyThresholdMs", "GreaterThanThreshold", "notBreaching", "ticket", "vigilprobeslow"),
}
COMPOSITE = ("health", ["database-unhealthy", "redis-unhealthy", "overall-unhealthy"], ["vigilcomponentunhealthy", "vigildown"])


def verify(stack, params, alarms, rendered, composite_source):
    """Problems (a list of strings) between what describe-alarms shows and EXPECTED."""
    problems = []
    name = stack["StackName"]
    metric = {a["AlarmName"]: a for a in alarms.get("MetricAlarms", [])}
    composite = {a["AlarmName"]: a for a in alarms.get("CompositeAlarms", [])}
    env, instance = params["EnvironmentName"], params.get("InstanceId", "")
    pager, ticket, base = params.get("PagerTopicArn", ""), params.get("TicketTopicArn", ""), params["RunbookBaseUrl"]

    wanted = {f"{name}-{s}" for s in EXPECTED}
    extra = set(metric) - wanted
    if extra:
        problems.append(f"unexpected metric alarms: {sorted(extra)}")
    for suffix, (mname, dims, stat, period, evals, dta, threshold, op, tmd, route, anchor) in EXPECTED.items():
        alarm_name = f"{name}-{suffix}"
        a = metric.get(alarm_name)
        if a is None:
            problems.append(f"{alarm_name}: missing")
            continue
        def want(field, expected):
            got = a.get(field)
            if isinstance(expected, float) or field == "Threshold":
                ok = got is not None and float(got) == float(expected)
            else:
                ok = got == expected
            if not ok:
                problems.append(f"{alarm_name}: {field} is {got!r}, expected {expected!r}")
        want("Namespace", params["Namespace"])
        want("MetricName", mname)
        want("Statistic", stat)
        want("Period", period)
        want("EvaluationPeriods", evals)
        if dta is not None:
            want("DatapointsToAlarm", dta)
        want("Threshold", float(params[threshold]) if isinstance(threshold, str) else float(threshold))
        want("ComparisonOperator", op)
        want("TreatMissingData", tmd)
        expected_dims = {"Environment": env, **({"InstanceId": instance} if instance else {}), **dims}
        got_dims = [(d["Name"], d["Value"]) for d in a.get("Dimensions", [])]
        if len(got_dims) != len(set(n for n, _ in got_dims)) or dict(got_dims) != expected_dims:
            problems.append(f"{alarm_name}: dimensions {got_dims}, expected {sorted(expected_dims.items())}")
        if route == "member":
            expected_actions = []
        else:
            topic = pager if route == "pager" else ticket
            expected_actions = [topic] if topic else []
        want("AlarmActions", expected_actions)
        want("OKActions", expected_actions)
        link = f"{base}#{anchor}"
        if link not in (a.get("AlarmDescription") or ""):
            problems.append(f"{alarm_name}: AlarmDescription lacks the runbook link {link}")

    # The composite alarm: as CloudWatch shows it, or as resolved.
    suffix, members, anchors = COMPOSITE
    cname = f"{name}-{suffix}"
    if composite_source == "cloudwatch":
        c = composite.get(cname)
        if c is None:
            problems.append(f"{cname}: composite alarm missing")
            c = {}
    else:
        c = next((r["Properties"] for r in rendered["Resources"] if r["Type"] == "AWS::CloudWatch::CompositeAlarm"
                  and r["Properties"].get("AlarmName") == cname), None)
        if c is None:
            problems.append(f"{cname}: no AWS::CloudWatch::CompositeAlarm of that name in the template")
            c = {}
    if c:
        rule = c.get("AlarmRule", "")
        names = re.fullmatch(r'ALARM\("([^"]+)"\)(?: OR ALARM\("([^"]+)"\))*', rule.strip())
        referenced = re.findall(r'ALARM\("([^"]+)"\)', rule)
        if not names or sorted(referenced) != sorted(f"{name}-{m}" for m in members):
            problems.append(f"{cname}: AlarmRule {rule!r}, expected ALARM(...) OR ... of {members}")
        for ref in referenced:
            if ref not in metric:
                problems.append(f"{cname}: AlarmRule names {ref}, which does not exist")
        expected_actions = [pager] if pager else []
        for field in ("AlarmActions", "OKActions"):
            if (c.get(field) or []) != expected_actions:
                problems.append(f"{cname}: {field} is {c.get(field)!r}, expected {expected_actions!r}")
        for anchor in anchors:
            if f"{base}#{anchor}" not in (c.get("AlarmDescription") or ""):
                problems.append(f"{cname}: AlarmDescription lacks the runbook link {base}#{anchor}")

    # Outputs: every alarm's name and ARN, matching what CloudWatch holds.
    arns = {a["AlarmName"]: a.get("AlarmArn") for a in list(metric.values()) + list(composite.values())}
    outputs = rendered["Outputs"]
    for alarm_name in sorted(wanted | {cname}):
        if alarm_name not in outputs.values():
            problems.append(f"Outputs: no output gives the name {alarm_name}")
        arn = f"arn:{stack['StackId'].split(':')[1]}:cloudwatch:{stack['StackId'].split(':')[3]}:{stack['StackId'].split(':')[4]}:alarm:{alarm_name}"
        if arn not in outputs.values():
            problems.append(f"Outputs: no output gives the ARN {arn}")
        if alarm_name in arns and arns[alarm_name] and arns[alarm_name] != arn:
            problems.append(f"{alarm_name}: CloudWatch says its ARN is {arns[alarm_name]}, the outputs say {arn}")
    return problems


def main():
    cmd = sys.argv[1]
    if cmd == "render":
        # render TEMPLATE STACK_JSON OUT_DIR -> one PutMetricAlarm input per alarm, rendered.json
        template, stack_file, out_dir = sys.argv[2:5]
        stack = json.load(open(stack_file))["Stacks"][0]
        params = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
        t = Template(template, params, pseudo_from_stack(stack))
        rendered = t.render()
        json.dump({"Parameters": t.params, **rendered}, open(f"{out_dir}/rendered.json", "w"), indent=1)
        for r in rendered["Resources"]:
            props = dict(r["Properties"])
            for k, conv in NUMERIC.items():
                if k in props:
                    props[k] = conv(float(props[k]))
            kind = {"AWS::CloudWatch::Alarm": "metric", "AWS::CloudWatch::CompositeAlarm": "composite"}.get(r["Type"])
            if kind is None:
                sys.exit(f"unexpected resource type {r['Type']} ({r['Logical']})")
            path = f"{out_dir}/{kind}-{r['Logical']}.json"
            json.dump(props, open(path, "w"), indent=1)
            print(kind, path, props["AlarmName"])
    elif cmd == "count":
        # count ALARMS_JSON -> how many alarms describe-alarms listed
        alarms = json.load(open(sys.argv[2]))
        print(len(alarms["MetricAlarms"]) + len(alarms["CompositeAlarms"]))
    elif cmd == "validate-params":
        # validate-params TEMPLATE Key=Value... -> exit 0 if CloudFormation would accept them
        template, pairs = sys.argv[2], sys.argv[3:]
        given = dict(p.split("=", 1) for p in pairs)
        try:
            Template(template, given, {})
        except ValueError as e:
            print(e)
            sys.exit(1)
    elif cmd == "verify":
        # verify STACK_JSON ALARMS_JSON RENDERED_JSON cloudwatch|template
        stack = json.load(open(sys.argv[2]))["Stacks"][0]
        alarms = json.load(open(sys.argv[3]))
        rendered = json.load(open(sys.argv[4]))
        params = rendered["Parameters"]
        problems = verify(stack, params, alarms, rendered, sys.argv[5])
        for p in problems:
            print("  - " + p)
        n = len(alarms.get("MetricAlarms", []))
        if problems:
            sys.exit(1)
        print(f"  {n} metric alarms as expected; composite {'in CloudWatch' if sys.argv[5] == 'cloudwatch' else 'as resolved'}: rule, actions, runbooks ok; outputs ok")
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
