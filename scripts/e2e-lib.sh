# Shared by scripts/e2e-alerting and scripts/e2e-fleet (sourced, not run):
# messages, checks polled with a deadline, and the helpers' ports.
# The caller sets E2E_NAME and `work` (its temporary directory) first.

say() { echo "$E2E_NAME: $*"; }
die() { echo "$E2E_NAME: $*" >&2; exit 1; }
chk() { python3 scripts/alertcheck.py "$@"; }

passed=0 failed=0
# show_logs NAME:FILE...: the last lines of each (notifications:FILE: what the receiver got).
show_logs() {
  local entry
  for entry in "$@"; do
    if [[ ${entry%%:*} == notifications ]]; then
      echo "--- notifications received so far: $(chk summary "${entry#*:}" 2>&1)" >&2
    else
      echo "--- ${entry%%:*} (${entry#*:}, last lines)" >&2
      tail -8 "${entry#*:}" >&2 2>/dev/null || true
    fi
  done
}
ok() { say "ok: $1"; passed=$((passed + 1)); }
fail() { echo "$E2E_NAME: FAILED: $1" >&2; failed=$((failed + 1)); show_logs "${@:2}"; }
# poll SECONDS CMD...: until CMD succeeds, at most SECONDS.
poll() {
  local deadline=$((SECONDS + $1))
  until "${@:2}" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.25
  done
}
# expect WHAT SECONDS LOGS CMD...: a check polled with a deadline (LOGS: space-separated name:file).
expect() {
  local start=$SECONDS
  if poll "$2" "${@:4}"; then ok "$1 ($((SECONDS - start)) s)"; else fail "$1 (not within $2 s)" $3; fi
}
# Nothing more to learn once this failed.
stop_early() { ((failed == 0)) || { say "$passed passed, $failed failed (stopped early: $1)"; exit 1; }; }
# port_of FILE WORD: reads "WORD N" from a starting helper's output.
port_of() {
  local deadline=$((SECONDS + 10))
  until grep -q "^$2 " "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || die "no '$2' line in $1: $(tail -3 "$1" 2>/dev/null)"
    sleep 0.05
  done
  awk -v w="$2" '$1 == w { print $2; exit }' "$1"
}
ready() { curl -sf "$1" >/dev/null; }

# start_alerting ROUTING_GROUP_WAIT SCRAPE_TARGETS...: the webhook receiver,
# Alertmanager (alerts/alertmanager.example.yml, fast timers) and Prometheus
# (alerts/vigil.rules.yml, every `for:` 30 times shorter) scraping the targets
# as job vigil; sets receiver_port, prom, am, and the *_log names. Needs
# prom_port and am_port, and the `pids` array.
start_alerting() {
  local group_wait=$1 targets
  shift
  python3 -u scripts/webhook-receiver.py "$work/notifications.jsonl" >"$work/receiver.out" 2>"$work/receiver.log" &
  pids+=($!)
  receiver_port=$(port_of "$work/receiver.out" port)
  touch "$work/notifications.jsonl"
  chk fast-routing alerts/alertmanager.example.yml "$work/alertmanager.yml" "$receiver_port" "$group_wait"
  amtool check-config "$work/alertmanager.yml" >"$work/amtool.log" 2>&1 || { cat "$work/amtool.log" >&2; die "amtool check-config failed"; }
  prometheus-alertmanager --config.file "$work/alertmanager.yml" --storage.path "$work/alertmanager" \
    --web.listen-address "127.0.0.1:$am_port" --cluster.listen-address= >"$work/alertmanager.log" 2>&1 &
  pids+=($!)
  chk fast-rules alerts/vigil.rules.yml "$work/vigil.rules.yml"
  targets=$(printf '"%s", ' "$@")
  cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [vigil.rules.yml]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["127.0.0.1:$am_port"]}]
scrape_configs:
  - job_name: vigil
    static_configs: [{targets: [${targets%, }]}]
YAML
  promtool check config "$work/prometheus.yml" >"$work/promtool.log" 2>&1 || { cat "$work/promtool.log" >&2; die "promtool check config failed"; }
  prometheus --config.file "$work/prometheus.yml" --storage.tsdb.path "$work/prometheus" \
    --web.listen-address "127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
  pids+=($!)
  prom="http://127.0.0.1:$prom_port" am="http://127.0.0.1:$am_port"
  prom_log="prometheus:$work/prometheus.log" am_log="alertmanager:$work/alertmanager.log"
  recv_log="notifications:$work/notifications.jsonl"
  poll 20 ready "$am/-/ready" || { show_logs "$am_log"; die "Alertmanager did not start"; }
  poll 20 ready "$prom/-/ready" || { show_logs "$prom_log"; die "Prometheus did not start"; }
}
