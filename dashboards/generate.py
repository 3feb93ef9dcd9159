#!/usr/bin/env python3
"""Generates Vigil's dashboards (Python 3, standard library only).

    dashboards/generate.py
        writes dashboards/vigil.json (Grafana) and dashboards/cloudwatch.json
        (CloudWatch, the defaults: namespace Vigil, Environment=dev, us-east-1).

    dashboards/generate.py --environment production --region eu-west-1 --cloudwatch prod.json
        a CloudWatch dashboard body for another namespace (--namespace),
        dimension value (--environment) or set (--dimension NAME=VALUE,
        repeated), region (--region), cloudwatch.instance_dimension
        (--instance-dimension), EMF mode (--emf) or thresholds
        (--latency-threshold-ms, --min-cache-hit-rate); `--cloudwatch -`
        prints it. The checked-in dashboards/cloudwatch.json always holds the
        defaults, so other parameters need an explicit --cloudwatch destination.

Both files are outputs: edit this script, run it, and check in all three
(scripts/lint-dashboards fails when a checked-in file differs from what this
script produces). docs/dashboards.md is the tour.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------
# Grafana
# --------------------------------------------------------------------------

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SELECTOR = 'job=~"$job", instance=~"$instance"'
RATE = "$__rate_interval"


def sel(metric, extra=""):
    """A metric selector with the dashboard's job/instance filter."""
    return "%s{%s%s}" % (metric, SELECTOR, ", " + extra if extra else "")


def rate(metric, extra=""):
    return "rate(%s[%s])" % (sel(metric, extra), RATE)


def zero_unless(expr, anchor_metric, label, text):
    """`expr`, or a single 0 series labelled label=text when `expr` has no
    series at all (no event yet, or every series filtered out by `> 0`).
    The zero line is tied to `anchor_metric`, so it too is absent when no
    Vigil matches the selection."""
    return '%s or on () label_replace(0 * sum(%s), "%s", "%s", "", "")' % (
        expr, rate(anchor_metric), label, text)


def breakdown(title, description, unit, metric, by, legend, empty, anchor=None, nonzero=False, width=8, height=7):
    """Stacked bars of `metric` per minute by instance and `by`, with a flat
    `empty` line (labelled by the last of `by`) until the first event, tied
    to `anchor` (default `metric`); `nonzero`: series at zero are not drawn."""
    expr = "60 * sum by (instance, %s) (%s)%s" % (", ".join(by), rate(metric), " > 0" if nonzero else "")
    return timeseries(title, description, unit, [(zero_unless(expr, anchor or metric, by[-1], empty), legend)],
                      bars=True, stack=True, width=width, height=height)


def target(expr, legend, ref):
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend,
        "range": True,
        "refId": ref,
    }


def thresholds(*steps):
    """steps: (value or None, color) pairs, the first value None."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def dashed(ref, color, dots=False):
    """Override: the series of query `ref` is a reference line, not data."""
    style = {"dash": [0, 8], "fill": "dot"} if dots else {"dash": [10, 10], "fill": "dash"}
    return {
        "matcher": {"id": "byFrameRefID", "options": ref},
        "properties": [
            {"id": "custom.lineStyle", "value": style},
            {"id": "custom.lineWidth", "value": 2},
            {"id": "custom.fillOpacity", "value": 0},
            {"id": "color", "value": {"fixedColor": color, "mode": "fixed"}},
        ],
    }


def timeseries(title, description, unit, queries, *, log=False, stack=False, bars=False,
               min_=None, max_=None, overrides=(), threshold_steps=None, width=8, height=7):
    custom = {
        "axisBorderShow": False,
        "axisPlacement": "auto",
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 40 if (stack or bars) else 10,
        "gradientMode": "none",
        "lineInterpolation": "linear",
        "lineWidth": 1,
        "pointSize": 4,
        "scaleDistribution": {"type": "log", "log": 10} if log else {"type": "linear"},
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"group": "A", "mode": "normal" if stack else "none"},
        "thresholdsStyle": {"mode": "dashed" if threshold_steps else "off"},
    }
    defaults = {
        "color": {"mode": "palette-classic"},
        "custom": custom,
        "mappings": [],
        "thresholds": thresholds(*(threshold_steps or [(None, "green")])),
        "unit": unit,
    }
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": defaults, "overrides": list(overrides)},
        "options": {
            "legend": {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": [target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(queries)],
        "_size": (width, height),
    }


def value_mappings(pairs):
    """pairs: (value, text, color)."""
    return [{
        "type": "value",
        "options": {str(v): {"color": c, "index": i, "text": t} for i, (v, t, c) in enumerate(pairs)},
    }]


def state_timeline(title, description, queries, pairs, width=12, height=7):
    return {
        "type": "state-timeline",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "fieldConfig": {
            "defaults": {
                "color": {"mode": "thresholds"},
                "custom": {"fillOpacity": 75, "hideFrom": {"legend": False, "tooltip": False, "viz": False},
                           "lineWidth": 0},
                "mappings": value_mappings(pairs),
                "thresholds": thresholds((None, "text")),
                "unit": "none",
            },
            "overrides": [],
        },
        "options": {
            "alignValue": "left",
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
            "mergeValues": True,
            "rowHeight": 0.9,
            "showValue": "never",
            "tooltip": {"mode": "single", "sort": "none"},
        },
        "targets": [target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(queries)],
        "_size": (width, height),
    }


def stat(title, description, unit, queries, *, steps=((None, "green"),), mappings=(), text_mode="auto",
         graph=True, no_value=None, width=4, height=4):
    defaults = {
        "color": {"mode": "thresholds"},
        "mappings": list(mappings),
        "thresholds": thresholds(*steps),
        "unit": unit,
    }
    if no_value is not None:
        defaults["noValue"] = no_value
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "colorMode": "value",
            "graphMode": "area" if graph else "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showPercentChange": False,
            "textMode": text_mode,
            "wideLayout": True,
        },
        "targets": [target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(queries)],
        "_size": (width, height),
    }


STATUS = [(0, "healthy", "green"), (1, "degraded", "orange"), (2, "unhealthy", "red")]


def status_expr(component_matcher, by):
    """0 healthy, 1 degraded, 2 unhealthy from the one-hot vigil_health_status."""
    return ("max by (%s) (%s) + 2 * max by (%s) (%s)" % (
        by, sel("vigil_health_status", component_matcher + ', status="degraded"'),
        by, sel("vigil_health_status", component_matcher + ', status="unhealthy"')))


def overview_row():
    return ("Overview", [
        state_timeline(
            "Overall status",
            "What /health answers for each instance: healthy, degraded (200) or unhealthy (503, load "
            "balancers take the host out). Unhealthy means a critical probe fails; degraded means a slow "
            "probe, a failing non-critical probe or secrets served stale. From vigil_health_status{component=\"overall\"}.",
            [(status_expr('component="overall"', "job, instance"), "{{instance}}")],
            STATUS, width=9, height=7),
        state_timeline(
            "Component status",
            "Status of each component (database, redis, secrets) per instance, the same stored result "
            "/health, vigil check and CloudWatch report. Related alerts: VigilComponentUnhealthy, "
            "VigilComponentDegraded.",
            [(status_expr('component!="overall"', "job, instance, component"), "{{component}} {{instance}}")],
            STATUS, width=9, height=7),
        at(stat(
            "Instances",
            "Vigil processes Prometheus currently has series for (count of vigil_build_info). Fewer than "
            "expected: see VigilDown / VigilAbsent.",
            "short", [("count(%s)" % sel("vigil_build_info"), "instances")],
            steps=((None, "red"), (1, "green")), graph=False, no_value="0", width=3, height=3), 18, 0),
        at(stat(
            "Versions",
            "Running versions and revisions, with how many instances run each (vigil_build_info). More than "
            "one line during a rollout is expected; after it, a straggler.",
            "short", [("count by (version, revision) (%s)" % sel("vigil_build_info"),
                       "{{version}} ({{revision}})")],
            text_mode="value_and_name", graph=False, width=3, height=3), 21, 0),
        at(stat(
            "Uptime",
            "Time since each process started (process_start_time_seconds). Short and recurring uptimes mean "
            "a crash loop: see VigilRestartingRepeatedly.",
            "s", [("time() - %s" % sel("process_start_time_seconds"), "{{instance}}")],
            steps=((None, "orange"), (600, "green")), graph=False, width=6, height=4), 18, 3),
    ])


def fleet_row():
    unhealthy = "max without (status) (%s)" % sel("vigil_health_status", 'component!="overall", status="unhealthy"')
    by_target = ('%s * on (job, instance, component) group_left (target) '
                 'label_replace(%s, "component", "$1", "probe", "(.+)")' % (unhealthy, sel("vigil_probe_target_info")))
    return ("Fleet", [
        timeseries(
            "Instances per status, by component",
            "How many instances see each component healthy, degraded or unhealthy (vigil_health_status is one-hot, "
            "so its sum is a count). Most of the fleet unhealthy at once is a shared dependency "
            "(VigilFleetDependencyDown); one instance alone is that host's own path (VigilComponentUnhealthy).",
            "short", [("sum by (component, status) (%s)" % sel("vigil_health_status", 'component!="overall"'),
                       "{{component}} {{status}}")],
            stack=True, width=10, height=7),
        timeseries(
            "Dependencies with the most instances failing",
            "Instances that see each dependency unhealthy, by what they probe (vigil_probe_target_info: host:port, "
            "never a credential), the ten largest. The same component name pointing at different servers counts apart.",
            "short", [("topk(10, sum by (component, target) (%s))" % by_target, "{{component}} {{target}}")],
            min_=0, width=7, height=7),
        timeseries(
            "Instances with the most probe failures",
            "Failed probe runs per instance (vigil_probe_failures_total), the ten largest: a host that fails alone "
            "while its peers do not has a problem of its own (network, DNS, a local pooler).",
            "short", [("topk(10, sum by (instance) (increase(%s[%s])))" % (sel("vigil_probe_failures_total"), RATE),
                       "{{instance}}")],
            min_=0, width=7, height=7),
    ])


def probes_row():
    return ("Probes", [
        timeseries(
            "Probe duration (last run) vs latency threshold and timeout",
            "Duration of each probe's last run (vigil_probe_duration_seconds), log scale, against "
            "health.latency_threshold (red dashes, vigil_health_latency_threshold_seconds: slower runs make "
            "the component degraded) and each probe's timeout (orange dashes, vigil_probe_timeout_seconds: a "
            "run reaching it fails with reason timeout). Related alerts: VigilProbeSlow, VigilProbeFailing.",
            "s",
            [(sel("vigil_probe_duration_seconds"), "{{probe}} {{instance}}"),
             (sel("vigil_health_latency_threshold_seconds"), "latency threshold {{instance}}"),
             (sel("vigil_probe_timeout_seconds"), "timeout {{probe}} {{instance}}")],
            log=True, overrides=[dashed("B", "red"), dashed("C", "orange")], width=12, height=8),
        timeseries(
            "Probe latency p50 / p95",
            "Quantiles of probe run durations over the rate interval, all selected instances together "
            "(histogram vigil_probe_latency_seconds, buckets 1 ms to 10 s), against health.latency_threshold "
            "(red dashes). Unlike the last-run panel this keeps the runs between two scrapes.",
            "s",
            [("histogram_quantile(0.95, sum by (probe, le) (%s))" % rate("vigil_probe_latency_seconds_bucket"),
              "p95 {{probe}}"),
             ("histogram_quantile(0.5, sum by (probe, le) (%s))" % rate("vigil_probe_latency_seconds_bucket"),
              "p50 {{probe}}"),
             ("max(%s)" % sel("vigil_health_latency_threshold_seconds"), "latency threshold")],
            log=True, overrides=[dashed("C", "red")], width=12, height=8),
        state_timeline(
            "Probe success",
            "vigil_probe_success per probe and instance: up (healthy or degraded, secrets served stale "
            "included) or failed. A long red band: VigilProbeFailing; the reason is in the next panel.",
            [(sel("vigil_probe_success"), "{{probe}} {{instance}}")],
            [(0, "failed", "red"), (1, "up", "green")], width=12, height=7),
        breakdown(
            "Probe failures by reason",
            "Failed probe runs per minute by probe and reason (vigil_probe_failures_total): timeout, refused, "
            "dns, tls, auth, protocol, credentials_unavailable, and for secrets access_denied, not_found, "
            "unreachable, throttled, aws_error, stale. Only non-zero reasons are drawn; a flat \"no failures\" "
            "line otherwise. auth right after a rotation: VigilRotationLoginsFailing.",
            "opm", "vigil_probe_failures_total", ["probe", "reason"], "{{probe}} {{reason}} {{instance}}", "no failures",
            nonzero=True, width=12),
        timeseries(
            "Time since last probe run vs interval + timeout",
            "Age of each probe's last finished run (time() - vigil_probe_last_run_timestamp_seconds) against "
            "its interval plus timeout (dashes, vigil_probe_interval_seconds + vigil_probe_timeout_seconds): "
            "a run overdue past that bound is hung or the scheduler stalled (a hung run is reported as "
            "timeout at timeout + 10 % + 100 ms). A saw-tooth under the line is normal.",
            "s",
            [("time() - %s" % sel("vigil_probe_last_run_timestamp_seconds"), "{{probe}} {{instance}}"),
             ("%s + on (job, instance, probe) %s" % (sel("vigil_probe_interval_seconds"),
                                                     sel("vigil_probe_timeout_seconds")),
              "bound {{probe}} {{instance}}")],
            overrides=[dashed("B", "orange")], width=8, height=7),
        timeseries(
            "Probe phases (last run)",
            "Duration of each phase of the last run (vigil_probe_phase_duration_seconds): connect, query "
            "(PostgreSQL), ping (Redis). A slow connect with a fast query points at the network, DNS or TLS; "
            "a slow query at the server.",
            "s",
            [(sel("vigil_probe_phase_duration_seconds"), "{{probe}} {{phase}} {{instance}}")],
            log=True, width=8, height=7),
        timeseries(
            "Forced credential refreshes",
            "Logins rejected with the cached password that forced a fetch of the secret and a retry, per "
            "minute (vigil_probe_auth_refresh_total). A blip per rotation is expected; a steady rate means "
            "the server and the secret disagree (VigilRotationLoginsFailing).",
            "opm",
            [("60 * sum by (instance, probe) (%s)" % rate("vigil_probe_auth_refresh_total"),
              "{{probe}} {{instance}}")],
            width=8, height=7),
    ])


def secrets_row():
    return ("Secrets", [
        timeseries(
            "Cache hit ratio vs minimum",
            "Share of secret lookups answered from a fresh cache entry over the last 60 s window of lookups "
            "(vigil_secrets_cache_hit_ratio), against health.min_cache_hit_ratio (red dashes, "
            "vigil_health_min_cache_hit_ratio): below it, with 20+ lookups per probe interval, secrets are "
            "degraded. Related alert: VigilCacheHitRatioLow.",
            "percentunit",
            [(sel("vigil_secrets_cache_hit_ratio"), "hit ratio {{instance}}"),
             (sel("vigil_health_min_cache_hit_ratio"), "minimum {{instance}}")],
            min_=0, max_=1, overrides=[dashed("B", "red")], width=8, height=8),
        timeseries(
            "Cache lookups and hits",
            "Secret lookups and the fresh-cache hits among them, per second (vigil_secrets_cache_lookups_total, "
            "vigil_secrets_cache_hits_total). A gap between the lines is misses: cold entries, or expired ones "
            "served stale while AWS is asked.",
            "ops",
            [("sum by (instance) (%s)" % rate("vigil_secrets_cache_lookups_total"), "lookups {{instance}}"),
             ("sum by (instance) (%s)" % rate("vigil_secrets_cache_hits_total"), "hits {{instance}}")],
            width=8, height=8),
        timeseries(
            "Secrets by source",
            "How many secrets each instance serves fresh (confirmed by AWS within secrets.ttl: "
            "vigil_secrets_last_success_timestamp_seconds against vigil_secrets_ttl_seconds) and how many "
            "from a fallback: the emergency cache past their TTL or the environment (vigil_secrets_served_stale). "
            "Which fallback is in the \"Fallback serves by source\" panel. Related alert: VigilSecretsServedStale.",
            "short",
            [("count by (job, instance) (time() - %s <= on (job, instance) group_left () %s)"
              " or on (job, instance) 0 * sum by (job, instance) (%s)" % (
                  sel("vigil_secrets_last_success_timestamp_seconds"), sel("vigil_secrets_ttl_seconds"),
                  sel("vigil_secrets_served_stale")),
              "fresh {{instance}}"),
             ("sum by (job, instance) (%s)" % sel("vigil_secrets_served_stale"),
              "stale or environment {{instance}}")],
            stack=True, min_=0, width=8, height=8,
            overrides=[{"matcher": {"id": "byFrameRefID", "options": "A"},
                        "properties": [{"id": "color", "value": {"fixedColor": "green", "mode": "fixed"}}]},
                       {"matcher": {"id": "byFrameRefID", "options": "B"},
                        "properties": [{"id": "color", "value": {"fixedColor": "orange", "mode": "fixed"}}]}]),
        timeseries(
            "Secret age vs TTL and emergency TTL",
            "Time since AWS last confirmed each secret (time() - vigil_secrets_last_success_timestamp_seconds), "
            "log scale, against secrets.ttl (orange, vigil_secrets_ttl_seconds: older values are served stale "
            "from the emergency cache), 80 % of secrets.emergency_ttl (red dots) and secrets.emergency_ttl "
            "(dark red, vigil_secrets_emergency_ttl_seconds: older values are no longer served; the environment "
            "fallback or nothing). Normal is a saw-tooth under the TTL (refresh-ahead). Related alerts: "
            "VigilSecretNotConfirmed, VigilSecretEmergencyTTLEnding.",
            "s",
            [("time() - %s" % sel("vigil_secrets_last_success_timestamp_seconds"), "{{secret}} {{instance}}"),
             (sel("vigil_secrets_ttl_seconds"), "TTL {{instance}}"),
             ("0.8 * %s" % sel("vigil_secrets_emergency_ttl_seconds"), "80 % of emergency TTL {{instance}}"),
             (sel("vigil_secrets_emergency_ttl_seconds"), "emergency TTL {{instance}}")],
            log=True, overrides=[dashed("B", "orange"), dashed("C", "red", dots=True), dashed("D", "dark-red")],
            width=12, height=8),
        timeseries(
            "Fallback serves by source",
            "Values served from a fallback per minute, by source (vigil_secrets_fallback_total): "
            "emergency_cache (an expired value while AWS fails) or environment (no AWS value within the "
            "emergency TTL). Related alerts: VigilSecretsServedStale, VigilSecretsFromEnvironment.",
            "opm",
            [("60 * sum by (instance, source) (%s)" % rate("vigil_secrets_fallback_total"),
              "{{source}} {{instance}}")],
            bars=True, stack=True, width=12, height=8),
        breakdown(
            "Refresh failures by reason",
            "Failed AWS refreshes per minute by secret and reason (vigil_secrets_refresh_failures_total): "
            "access_denied and not_found (the IAM policy or the secret changed, page its owner) apart from "
            "outages (timeout, unreachable, throttled, aws_error) and authentication. Only non-zero reasons "
            "are drawn. Related alerts: VigilSecretNotFound, VigilAWSAccessDenied, VigilAWSThrottled.",
            "opm", "vigil_secrets_refresh_failures_total", ["secret", "reason"], "{{secret}} {{reason}} {{instance}}",
            "no failures", nonzero=True),
        timeseries(
            "Rotations",
            "Rotations detected per minute (AWSCURRENT moved to a new version; vigil_secrets_rotations_total), "
            "and logins that failed with an unmoved AWSCURRENT and succeeded with AWSPENDING, which then stood "
            "in for it (vigil_secrets_pending_used_total: a single-user rotation between its password change and "
            "its move). Each should be followed by healthy logins; auth failures after one: "
            "VigilRotationLoginsFailing. Informational alert: VigilSecretRotated.",
            "opm",
            [("60 * sum by (instance, secret) (%s)" % rate("vigil_secrets_rotations_total"),
              "rotated {{secret}} {{instance}}"),
             ("60 * sum by (instance, secret) (%s)" % rate("vigil_secrets_pending_used_total"),
              "AWSPENDING used {{secret}} {{instance}}")],
            bars=True, width=8, height=7),
        timeseries(
            "Unavailable lookups",
            "Lookups that could not be served at all per minute (vigil_secrets_unavailable_total): no fresh "
            "value, no emergency cache, no environment fallback. Anything above zero for a required secret "
            "makes the secrets component unhealthy (VigilComponentUnhealthy).",
            "opm",
            [("60 * sum by (instance, secret) (%s)" % rate("vigil_secrets_unavailable_total"),
              "{{secret}} {{instance}}")],
            threshold_steps=[(None, "green"), (0.001, "red")], width=8, height=7),
        breakdown(
            "Secrets Manager reads by region",
            "Secrets Manager calls per minute by region and outcome (vigil_secrets_region_reads_total): the "
            "primary and each of aws.failover_regions. Failures in the primary with successes in a replica are a "
            "regional outage ridden out (the secrets component says reason replica); back to the primary within "
            "secrets.max_backoff of it answering. Only non-zero outcomes are drawn.",
            "reqpm", "vigil_secrets_region_reads_total", ["region", "outcome"], "{{region}} {{outcome}} {{instance}}",
            "no reads", nonzero=True, width=24),
    ])


def lifecycle_row():
    """What DescribeSecret shows will break (docs/lifecycle.md): one line per secret."""
    anchor = "vigil_secrets_rotations_total"

    def duration(title, description, metric, empty, future=False):
        """Time since (or until) a timestamp gauge, per secret; secrets where it is 0 (not set) left out."""
        value = "max by (secret) (%s > 0)" % sel(metric)
        expr = zero_unless(("%s - time()" if future else "time() - %s") % value, anchor, "secret", empty)
        return timeseries(title, description, "s", [(expr, "{{secret}}")], width=8, height=7)

    return ("Lifecycle", [
        timeseries(
            "Findings",
            "Lifecycle findings per secret (vigil_secrets_finding, 1 while it holds): deletion_scheduled and "
            "malformed page (VigilSecretScheduledForDeletion, VigilSecretMalformed), rotation_stuck, "
            "rotation_overdue and replica_out_of_sync open a ticket. Every instance reads the same "
            "DescribeSecret: one line per secret and finding. docs/lifecycle.md.",
            "none",
            [(zero_unless("max by (secret, finding) (%s == 1)" % sel("vigil_secrets_finding"), anchor, "finding", "none"),
              "{{secret}} {{finding}}")],
            bars=True, min_=0, max_=1, width=8, height=7),
        duration("Since the last rotation",
                 "Time since each secret's LastRotatedDate (vigil_secrets_last_rotated_timestamp_seconds); secrets "
                 "never rotated are left out. Against your rotation policy: VigilSecretRotationOverdue fires once "
                 "NextRotationDate passed secrets.rotation_grace ago.",
                 "vigil_secrets_last_rotated_timestamp_seconds", "never rotated"),
        duration("Until the next rotation",
                 "Time until each secret's NextRotationDate (vigil_secrets_next_rotation_timestamp_seconds), "
                 "secrets with rotation enabled. Below zero: the rotation is late.",
                 "vigil_secrets_next_rotation_timestamp_seconds", "no schedule", future=True),
        duration("AWSPENDING standing",
                 "How long AWSPENDING has labelled another version than AWSCURRENT "
                 "(vigil_secrets_pending_since_timestamp_seconds): a rotation under way, stuck past "
                 "secrets.rotation_window (VigilSecretRotationStuck).",
                 "vigil_secrets_pending_since_timestamp_seconds", "none pending"),
        duration("Until deletion",
                 "Time until a secret scheduled for deletion is deleted (vigil_secrets_deletion_timestamp_seconds, "
                 "DescribeSecret DeletedDate). GetSecretValue already fails for it: VigilSecretScheduledForDeletion.",
                 "vigil_secrets_deletion_timestamp_seconds", "none scheduled", future=True),
        timeseries(
            "Replicas by status",
            "Each secret's replica regions by ReplicationStatus (vigil_secrets_replicas): Failed or a lasting "
            "InProgress means a failover there would serve an old value (VigilSecretReplicaOutOfSync).",
            "none",
            [(zero_unless("max by (secret, status) (%s > 0)" % sel("vigil_secrets_replicas"), anchor, "status",
                          "no replicas"), "{{secret}} {{status}}")],
            bars=True, stack=True, min_=0, width=8, height=7),
        timeseries(
            "Certificates: time left",
            "Until the soonest not-after in each TLS certificate's chain (vigil_tls_not_after_timestamp_seconds, "
            "certificate=\"earliest\"): per probe for the dependencies Vigil meets (PostgreSQL, Redis, SMTP, https "
            "targets), per listener for the one it serves. VigilCertificateExpiringSoon warns under 14 days, "
            "VigilCertificateExpiryCritical pages under 3.",
            "s",
            [(zero_unless("min by (probe, listener, issuer) (%s) - time()" % sel("vigil_tls_not_after_timestamp_seconds",
                                                                                 'certificate="earliest"'),
                          anchor, "probe", "no TLS met"), "{{probe}}{{listener}} ({{issuer}})")],
            width=24, height=7),
    ])


def aws_row():
    return ("AWS", [
        timeseries(
            "AWS requests",
            "HTTP requests Vigil sends to AWS per minute, every attempt, by service and operation "
            "(vigil_aws_requests_total). Steady state is a few DescribeSecret calls an hour per secret and one "
            "PutMetricData a minute with CloudWatch on; a climb means retries or refreshes failing (docs/cost.md).",
            "reqpm",
            [("60 * sum by (instance, service, operation) (%s)" % rate("vigil_aws_requests_total"),
              "{{service}} {{operation}} {{instance}}")],
            width=8, height=8),
        breakdown(
            "AWS errors by code",
            "Failed AWS requests per minute by service and error code (vigil_aws_errors_total: an AWS error "
            "code, Network, Timeout or Other). The series appear with the first error; a flat \"no errors\" line "
            "until then. Related alerts: VigilAWSErrors, VigilAWSThrottled, VigilAWSAccessDenied.",
            "reqpm", "vigil_aws_errors_total", ["service", "code"], "{{service}} {{code}} {{instance}}", "no errors",
            anchor="vigil_aws_requests_total", height=8),
        breakdown(
            "AWS retries",
            "Requests retried per minute (standard retry mode; vigil_aws_retries_total). Each service has its "
            "own retry quota, so CloudWatch trouble never spends the retries Secrets Manager needs. A flat "
            "\"no retries\" line until the first one.",
            "reqpm", "vigil_aws_retries_total", ["service", "operation"], "{{service}} {{operation}} {{instance}}",
            "no retries", anchor="vigil_aws_requests_total", height=8),
        timeseries(
            "AWS request duration p50 / p95 / p99",
            "Quantiles of AWS request durations over the rate interval by service and operation "
            "(histogram vigil_aws_request_duration_seconds). Gaps are intervals without a request of that "
            "kind (Secrets Manager is asked a few times an hour). Attempts end at aws.timeout (10 s by default).",
            "s",
            [("histogram_quantile(%s, sum by (service, operation, le) (%s))"
              % (q, rate("vigil_aws_request_duration_seconds_bucket")), "p%s {{service}} {{operation}}" % p)
             for q, p in (("0.5", "50"), ("0.95", "95"), ("0.99", "99"))],
            log=True, width=16, height=7),
        stat(
            "AWS credentials expire in",
            "Time left on the AWS credentials in use (vigil_aws_credentials_expiry_timestamp_seconds - time()). "
            "Long-term keys export 0 and show as such. Temporary credentials are renewed 5 minutes before "
            "expiry; under 10 minutes means renewal fails (VigilAWSCredentialsExpiring).",
            "s",
            [("%s - time()" % sel("vigil_aws_credentials_expiry_timestamp_seconds"), "{{instance}}")],
            steps=((None, "red"), (600, "green")),
            mappings=[{"type": "range", "options": {"from": None, "to": -100000000,
                                                    "result": {"color": "blue", "index": 0,
                                                               "text": "long-term keys"}}}],
            width=8, height=7),
    ])


def cloudwatch_row():
    return ("CloudWatch", [
        timeseries(
            "PutMetricData accepted",
            "Accepted PutMetricData requests (or EMF lines) per minute (vigil_cloudwatch_publish_total): one "
            "per cloudwatch.interval (60 s by default), more while a backlog drains. The whole row is empty "
            "when cloudwatch.enabled is false.",
            "reqpm",
            [("60 * sum by (instance) (%s)" % rate("vigil_cloudwatch_publish_total"), "{{instance}}")],
            width=8, height=7),
        breakdown(
            "Publish errors by code",
            "Failed PutMetricData requests per minute by AWS error code (vigil_cloudwatch_publish_errors_total); "
            "a flat \"no errors\" line until the first one. Errors while accepted requests continue are "
            "retries that worked; errors alone: VigilCloudWatchPublishFailing.",
            "reqpm", "vigil_cloudwatch_publish_errors_total", ["code"], "{{code}} {{instance}}", "no errors",
            anchor="vigil_cloudwatch_publish_total"),
        timeseries(
            "Time since CloudWatch accepted data",
            "Age of the last accepted PutMetricData (time() - vigil_cloudwatch_last_success_timestamp_seconds). "
            "A saw-tooth up to cloudwatch.interval is normal; dashes at 3 minutes (orange, three default "
            "intervals) and 15 minutes (red, VigilCloudWatchPublishFailing's window).",
            "s",
            [("time() - %s" % sel("vigil_cloudwatch_last_success_timestamp_seconds"), "{{instance}}")],
            threshold_steps=[(None, "green"), (180, "orange"), (900, "red")], width=8, height=7),
        timeseries(
            "Buffered datums",
            "Datums waiting to be sent (vigil_cloudwatch_buffered_datums). Near zero normally; it grows while "
            "CloudWatch fails and drains oldest first when it answers. Bounded by cloudwatch.buffer (2 h of "
            "data); past it the oldest are dropped (next panel).",
            "short",
            [(sel("vigil_cloudwatch_buffered_datums"), "{{instance}}")],
            width=12, height=7),
        timeseries(
            "Dropped datums by reason",
            "Datums given up per minute (vigil_cloudwatch_dropped_datums_total): buffer_full (an outage longer "
            "than cloudwatch.buffer) or rejected (CloudWatch refused a batch as invalid). Either leaves holes "
            "in CloudWatch graphs and alarms: VigilCloudWatchDroppingData.",
            "opm",
            [("60 * sum by (instance, reason) (%s)" % rate("vigil_cloudwatch_dropped_datums_total"),
              "{{reason}} {{instance}}")],
            bars=True, stack=True, width=12, height=7),
    ])


def process_row():
    return ("Process", [
        timeseries(
            "CPU",
            "CPU time used per second, user + system (rate of process_cpu_seconds_total); 100 % is one core. "
            "Vigil idles near zero: a rise follows scrape or /health traffic (see HTTP requests).",
            "percentunit",
            [(rate("process_cpu_seconds_total"), "{{instance}}")],
            min_=0, width=6, height=7),
        timeseries(
            "Memory",
            "Resident set size (process_resident_memory_bytes) and virtual memory size "
            "(process_virtual_memory_bytes). Resident memory should stay flat (docs/performance.md); steady "
            "growth is a leak. Virtual size is mostly reserved thread stacks and is not a concern by itself.",
            "bytes",
            [(sel("process_resident_memory_bytes"), "resident {{instance}}"),
             (sel("process_virtual_memory_bytes"), "virtual {{instance}}")],
            width=6, height=7),
        timeseries(
            "Open file descriptors vs limit",
            "Open descriptors (process_open_fds) against the open-file limit (red dashes, process_max_fds; "
            "Vigil raises its soft limit to the hard limit), log scale. HTTP connections are capped 128 below "
            "the limit (web.max_connections), so probes keep descriptors; a climb toward the cap is idle or "
            "leaked client connections.",
            "short",
            [(sel("process_open_fds"), "open {{instance}}"),
             (sel("process_max_fds"), "limit {{instance}}")],
            log=True, overrides=[dashed("B", "red")], width=6, height=7),
        timeseries(
            "HTTP requests by handler and code",
            "Requests Vigil served per second by handler (metrics, health, live, ready, landing, other) and "
            "status code (vigil_http_requests_total). /health answering 503 follows overall unhealthy; 401 is "
            "a client without the basic auth credentials; unknown paths (404) land in other.",
            "reqps",
            [("sum by (instance, handler, code) (%s)" % rate("vigil_http_requests_total"),
              "{{handler}} {{code}} {{instance}}")],
            width=6, height=7),
    ])


def layout(rows):
    """Rows top to bottom; panels fill 24 columns left to right and wrap. A
    panel with `_at` (x, dy) is placed there instead, dy from the line's top
    (small stats stacked beside a taller panel)."""
    panels, next_id, y = [], 1, 0
    for title, members in rows:
        panels.append({"collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "id": next_id,
                       "panels": [], "title": title, "type": "row"})
        next_id += 1
        y += 1
        x, line_height = 0, 0
        for panel in members:
            w, h = panel.pop("_size")
            at = panel.pop("_at", None)
            if at is not None:
                panel["gridPos"] = {"h": h, "w": w, "x": at[0], "y": y + at[1]}
                line_height = max(line_height, at[1] + h)
            else:
                if x + w > 24:
                    y += line_height
                    x, line_height = 0, 0
                panel["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
                x += w
                line_height = max(line_height, h)
            position = panel.pop("gridPos")
            panels.append(dict({"id": next_id, "gridPos": position}, **panel))
            next_id += 1
        y += line_height
    return panels


def at(panel, x, dy):
    panel["_at"] = (x, dy)
    return panel


def grafana_dashboard():
    variable = {"hide": 0, "skipUrlSync": False}
    return {
        "annotations": {"list": []},
        "description": "Vigil: health of PostgreSQL, Redis and AWS Secrets Manager as one Vigil sees them, "
                       "its secrets cache, AWS and CloudWatch traffic. Tour: docs/dashboards.md.",
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [],
        "panels": layout([overview_row(), fleet_row(), probes_row(), secrets_row(), lifecycle_row(), aws_row(),
                          cloudwatch_row(), process_row()]),
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["vigil"],
        "templating": {"list": [
            dict(variable, name="datasource", label="Data source", type="datasource", query="prometheus",
                 current={}, options=[], refresh=1, regex="", includeAll=False, multi=False),
            dict(variable, name="job", label="job", type="query", datasource=DATASOURCE,
                 query="label_values(vigil_build_info, job)", definition="label_values(vigil_build_info, job)",
                 current={}, options=[], refresh=2, regex="", sort=1, multi=True, includeAll=True,
                 allValue=".+"),
            dict(variable, name="instance", label="instance", type="query", datasource=DATASOURCE,
                 query='label_values(vigil_build_info{job=~"$job"}, instance)',
                 definition='label_values(vigil_build_info{job=~"$job"}, instance)',
                 current={}, options=[], refresh=2, regex="", sort=1, multi=True, includeAll=True,
                 allValue=".+"),
        ]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": "Vigil",
        "uid": "vigil-overview",
        "version": 1,
        "weekStart": "",
    }


# --------------------------------------------------------------------------
# CloudWatch
# --------------------------------------------------------------------------

PROBES = ("database", "redis", "secrets")
FALLBACK_SOURCES = ("emergency_cache", "environment")
SECRETS_MANAGER_CALLS = ("GetSecretValue", "DescribeSecret", "BatchGetSecretValue")
DEFAULTS = {"namespace": "Vigil", "environment": "dev", "region": "us-east-1", "dimensions": None,
            "instance_dimension": False, "emf": False, "latency_threshold_ms": 1000.0, "min_cache_hit_rate": 80.0}


class CloudWatchBuilder:
    """Metric rows for one namespace and dimension set.

    By default Vigil's datums carry exactly the configured dimensions
    (cloudwatch.dimensions), shared by every instance, so a widget names each
    metric. With cloudwatch.instance_dimension (API mode on EC2) Vigil adds
    InstanceId, which makes every instance's metrics distinct: with
    --instance-dimension the widgets search {namespace, dimensions...,
    InstanceId} and aggregate the fleet with metric math (worst health,
    highest latency, summed counts).
    """

    def __init__(self, namespace, dimensions, region, per_instance):
        self.namespace, self.dimensions, self.region = namespace, dimensions, region
        self.per_instance = per_instance
        self.next_id = 0

    def _id(self, prefix):
        self.next_id += 1
        return "%s%d" % (prefix, self.next_id)

    @staticmethod
    def _quote(text):
        """An exact-match search term: double quotes, with " \\ ( ) escaped."""
        return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"').replace("(", "\\(").replace(")", "\\)")

    @classmethod
    def _name(cls, text):
        """A namespace or dimension name: bare when alphanumeric, else quoted."""
        return text if text.replace("/", "").isalnum() and "/" not in text[:1] else cls._quote(text)

    def metric(self, name, stat, label, extra=(), fleet="SUM"):
        """Rows for one Vigil metric with `extra` dimensions (name, value) pairs."""
        dims = list(self.dimensions) + list(extra)
        if not self.per_instance:
            row = [self.namespace, name]
            for dn, dv in dims:
                row += [dn, dv]
            return [row + [{"label": label, "stat": stat}]]
        schema = ",".join(self._name(part) for part in
                          [self.namespace] + [dn for dn, _ in dims] + ["InstanceId"])
        terms = " ".join(["MetricName=%s" % self._quote(name)] +
                         ["%s=%s" % (self._name(dn), self._quote(dv)) for dn, dv in dims])
        search_id = self._id("s")
        return [[{"expression": "SEARCH('{%s} %s', '%s', 60)" % (schema, terms, stat), "id": search_id,
                  "label": label, "visible": False}],
                [{"expression": "%s(%s)" % (fleet, search_id), "id": self._id("e"),
                  "label": "%s (%s over instances)" % (label, fleet.lower())}]]

    def widget(self, title, rows, x, y, w, h, *, stat="Sum", y_axis=None, annotations=None, stacked=False,
               view="timeSeries"):
        properties = {
            "metrics": rows,
            "period": 60,
            "region": self.region,
            "stacked": stacked,
            "stat": stat,
            "title": title,
            "view": view,
        }
        if y_axis:
            properties["yAxis"] = {"left": y_axis}
        if annotations:
            properties["annotations"] = {"horizontal": annotations}
        return {"type": "metric", "x": x, "y": y, "width": w, "height": h, "properties": properties}


def cloudwatch_dashboard(namespace=DEFAULTS["namespace"], environment=DEFAULTS["environment"],
                         region=DEFAULTS["region"], dimensions=None, instance_dimension=False, emf=False,
                         latency_threshold_ms=DEFAULTS["latency_threshold_ms"],
                         min_cache_hit_rate=DEFAULTS["min_cache_hit_rate"]):
    dims = dimensions or [("Environment", environment)]
    b = CloudWatchBuilder(namespace, dims, region, instance_dimension)
    where = ", ".join("%s=%s" % d for d in dims)
    widgets = [{
        "type": "text", "x": 0, "y": 0, "width": 24, "height": 2,
        "properties": {"markdown": (
            "## Vigil: namespace %s, %s\n"
            "Custom metrics Vigil publishes with `cloudwatch.enabled` (namespace `%s`) and the account's "
            "Secrets Manager API calls (`AWS/Usage`). Health values are 1, or 0 when unhealthy; counts are "
            "per minute. Tour and regeneration: docs/dashboards.md in the Vigil repository."
            % (namespace, where, namespace))},
    }]
    health = []
    for name, label in (("OverallHealthy", "Overall"), ("DatabaseHealthy", "Database"),
                        ("RedisHealthy", "Redis"), ("SecretsHealthy", "Secrets")):
        health += b.metric(name, "Minimum", label, fleet="MIN")
    widgets.append(b.widget("Health (1 healthy or degraded, 0 unhealthy)", health, 0, 2, 12, 6,
                            stat="Minimum", y_axis={"min": 0, "max": 1, "showUnits": False}))
    latency = []
    if emf:  # EMF documents carry no Probe dimension: one value per probe's mean, in one series
        latency += b.metric("ProbeLatency", "Average", "mean of the probes")
        latency += b.metric("ProbeLatency", "Maximum", "slowest probe")
    for probe in () if emf else PROBES:
        latency += b.metric("ProbeLatency", "Average", "%s mean" % probe, [("Probe", probe)], fleet="MAX")
        latency += b.metric("ProbeLatency", "Maximum", "%s max" % probe, [("Probe", probe)], fleet="MAX")
    widgets.append(b.widget("ProbeLatency (ms)" if emf else "ProbeLatency by probe (ms)", latency, 12, 2, 12, 6,
                            stat="Average",
                            y_axis={"min": 0, "label": "Milliseconds", "showUnits": False},
                            annotations=[{"label": "health.latency_threshold", "value": latency_threshold_ms,
                                          "color": "#d62728"}]))
    widgets.append(b.widget("CacheHitRate (%)", b.metric("CacheHitRate", "Average", "hit rate", fleet="MIN"),
                            0, 8, 8, 6, stat="Average", y_axis={"min": 0, "max": 100, "showUnits": False},
                            annotations=[{"label": "health.min_cache_hit_ratio", "value": min_cache_hit_rate,
                                          "color": "#d62728", "fill": "below"}]))
    widgets.append(b.widget("CacheLookups", b.metric("CacheLookups", "Sum", "lookups"), 8, 8, 8, 6,
                            y_axis={"min": 0, "showUnits": False}))
    fallback = []
    if emf:  # EMF documents carry no Source dimension: both sources summed
        fallback += b.metric("FallbackCount", "Sum", "emergency_cache + environment")
    for source in () if emf else FALLBACK_SOURCES:
        fallback += b.metric("FallbackCount", "Sum", source, [("Source", source)])
    widgets.append(b.widget("FallbackCount" if emf else "FallbackCount by source", fallback, 16, 8, 8, 6,
                            stacked=True,
                            y_axis={"min": 0, "showUnits": False}))
    widgets.append(b.widget("StaleSecretsServed", b.metric("StaleSecretsServed", "Maximum", "stale secrets",
                                                           fleet="MAX"),
                            0, 14, 8, 6, stat="Maximum", y_axis={"min": 0, "showUnits": False},
                            annotations=[{"label": "served stale", "value": 1, "color": "#ff7f0e",
                                          "fill": "above"}]))
    widgets.append(b.widget("AWSErrors", b.metric("AWSErrors", "Sum", "AWS errors"), 8, 14, 8, 6,
                            y_axis={"min": 0, "showUnits": False}))
    widgets.append(b.widget("Rotations", b.metric("Rotations", "Sum", "rotations"), 16, 14, 8, 6,
                            y_axis={"min": 0, "showUnits": False}))
    calls = [["AWS/Usage", "CallCount", "Service", "Secrets Manager", "Type", "API", "Resource", operation,
              "Class", "None", {"label": operation, "stat": "Sum"}] for operation in SECRETS_MANAGER_CALLS]
    widgets.append(b.widget("Secrets Manager API calls (whole account, per minute)", calls, 0, 20, 16, 6,
                            y_axis={"min": 0, "showUnits": False}))
    widgets.append(b.widget("SecretsNeedingAttention", b.metric("SecretsNeedingAttention", "Maximum", "secrets with a finding",
                                                                fleet="MAX"),
                            16, 20, 8, 6, stat="Maximum", y_axis={"min": 0, "showUnits": False},
                            annotations=[{"label": "needs attention", "value": 1, "color": "#d62728", "fill": "above"}]))
    widgets.append(b.widget("CertificateDaysLeft", b.metric("CertificateDaysLeft", "Minimum", "days left, soonest certificate",
                                                            fleet="MIN"),
                            0, 26, 8, 6, stat="Minimum", y_axis={"showUnits": False},
                            annotations=[{"label": "warning (14 days)", "value": 14, "color": "#ff7f0e", "fill": "below"},
                                         {"label": "page (3 days)", "value": 3, "color": "#d62728", "fill": "below"}]))
    return {"start": "-PT6H", "periodOverride": "inherit", "widgets": widgets}


# --------------------------------------------------------------------------

def render(document):
    """JSON with two-space indents; a list or object that fits in 100
    characters stays on one line (gridPos, datasource, metric rows)."""
    def emit(value, indent, prefix=0):
        flat = json.dumps(value, ensure_ascii=False)
        if not isinstance(value, (list, dict)) or not value or indent + prefix + len(flat) <= 100:
            return flat
        pad, inner = " " * indent, " " * (indent + 2)
        if isinstance(value, list):
            items = [inner + emit(v, indent + 2) for v in value]
            return "[\n" + ",\n".join(items) + "\n" + pad + "]"
        items = []
        for k, v in value.items():
            key = json.dumps(k, ensure_ascii=False) + ": "
            items.append(inner + key + emit(v, indent + 2, len(key)))
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    return emit(document, 0) + "\n"


def write(path, text):
    if path == "-":
        sys.stdout.write(text)
        return
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
    shown = os.path.relpath(path)
    print("wrote %s" % (path if shown.startswith("..") else shown))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grafana", metavar="FILE", help="Grafana output (default dashboards/vigil.json; - for stdout)")
    parser.add_argument("--cloudwatch", metavar="FILE",
                        help="CloudWatch body output (default dashboards/cloudwatch.json; - for stdout)")
    parser.add_argument("--namespace", default=DEFAULTS["namespace"], help="cloudwatch.namespace (default Vigil)")
    parser.add_argument("--environment", default=DEFAULTS["environment"],
                        help="value of the Environment dimension (default dev; Vigil's default is secrets.environment)")
    parser.add_argument("--dimension", action="append", metavar="NAME=VALUE",
                        help="a dimension from cloudwatch.dimensions; repeat for several; replaces Environment")
    parser.add_argument("--region", default=DEFAULTS["region"], help="region of the widgets (default us-east-1)")
    parser.add_argument("--instance-dimension", action="store_true",
                        help="Vigil runs with cloudwatch.instance_dimension (InstanceId on every datum): "
                             "search every instance's metrics and aggregate the fleet")
    parser.add_argument("--emf", action="store_true",
                        help="Vigil runs with cloudwatch.mode emf (no Probe or Source dimension)")
    parser.add_argument("--latency-threshold-ms", type=float, default=DEFAULTS["latency_threshold_ms"],
                        help="health.latency_threshold in ms, drawn on ProbeLatency (default 1000)")
    parser.add_argument("--min-cache-hit-rate", type=float, default=DEFAULTS["min_cache_hit_rate"],
                        help="health.min_cache_hit_ratio in percent, drawn on CacheHitRate (default 80)")
    args = parser.parse_args(argv)

    dimensions = None
    if args.dimension:
        dimensions = []
        for item in args.dimension:
            name, sep, value = item.partition("=")
            if not sep or not name or not value:
                parser.error("--dimension takes NAME=VALUE, got %r" % item)
            dimensions.append((name, value))
    if args.instance_dimension and any("'" in text for text in
                                       [args.namespace] + [part for d in (dimensions or []) for part in d]):
        parser.error("with --instance-dimension the namespace and dimensions go into SEARCH('...'): no single quotes")
    if args.instance_dimension and args.emf:
        parser.error("--instance-dimension and --emf exclude each other (Vigil adds InstanceId in api mode only)")
    keys = ("namespace", "environment", "region", "dimensions", "instance_dimension", "emf",
            "latency_threshold_ms", "min_cache_hit_rate")
    given = dict(vars(args), dimensions=dimensions)
    custom = any(given[k] != DEFAULTS[k] for k in keys)
    if custom and args.cloudwatch is None:
        parser.error("dashboards/cloudwatch.json holds the defaults (scripts/lint-dashboards checks it): "
                     "write a dashboard with other parameters elsewhere with --cloudwatch FILE, or - for stdout")

    if args.cloudwatch is None or args.grafana is not None:
        write(args.grafana or os.path.join(HERE, "vigil.json"), render(grafana_dashboard()))
    if args.grafana is None or args.cloudwatch is not None:
        write(args.cloudwatch or os.path.join(HERE, "cloudwatch.json"),
              render(cloudwatch_dashboard(args.namespace, args.environment, args.region, dimensions,
                                          args.instance_dimension, args.emf,
                                          args.latency_threshold_ms, args.min_cache_hit_rate)))


if __name__ == "__main__":
    main()
