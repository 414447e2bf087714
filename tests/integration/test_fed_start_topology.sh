#!/usr/bin/env bash
# test_fed_start_topology.sh — deploy/start-topology.sh, the script behind run-demo.sh and the
# Dongguan-sized test: start the city and the first two towns of deploy/topology/dongguan.csv
# on the test's PostgreSQL (a database per broker), then
#   - its state files name every broker and worker, all running; its topology.csv holds the
#     city, the two towns and their villages only;
#   - orders submitted at a town, at a village desk and at the city (hotline, village
#     locality) complete; legal aid crosses to the city;
#   - `status` shows the processes and the city's status; `wait-idle` returns;
#   - starting again while it runs is refused;
#   - `stop` ends every process it started (nothing left running) and leaves PostgreSQL alone.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_fed_start_topology.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/fed.sh"

fed_setup
TOPO=$PLS_SOURCE_DIR/deploy/start-topology.sh
DIR=$T/topo
CTL=$PLS_BUILD_DIR/cli/plsctl

# A base port with the two next ones free too (city P, towns P+1 and P+2).
base=
for _ in 1 2 3 4 5 6 7 8 9 10; do
    p=$(pls_free_port)
    if [[ -z $(ss -Htln "( sport = :$((p + 1)) or sport = :$((p + 2)) )") ]] && ((p + 2 < 32768)); then
        base=$p
        break
    fi
done
[[ -n $base ]] || fail "no three free ports in a row"

topo() { bash "$TOPO" "$@" --dir "$DIR"; }
pls_on_exit topo stop

topo start --build "$PLS_BUILD_DIR" --towns 2 --base-port "$base" \
    --pg-conn "host=$PLS__PG_HOST port=$PLS__PG_PORT user=$PLS__PG_USER" \
    --db-prefix "${PLS_DBNAME}_" --village-workers 2 --log-level info 2>"$T/start.err" ||
    {
        cat "$T/start.err" >&2
        tail -n 20 "$DIR"/log/*.log >&2 || true
        fail "start-topology.sh start failed"
    }
pls_note "$(tail -n 1 "$T/start.err")"

# ---- state files -------------------------------------------------------------------------
# shellcheck disable=SC1091
source "$DIR/topology.env"
assert_eq "$TOPO_CITY_EP" "tcp://127.0.0.1:$base" "the city's endpoint"
assert_eq "$TOPO_TOWNS" "dg.guancheng dg.nancheng" "the first two towns of the CSV"
assert_eq "$(cut -f1,2 "$DIR/nodes.tsv" | tr '\t\n' ' ')" \
    "dg tcp://127.0.0.1:$base dg.guancheng tcp://127.0.0.1:$((base + 1)) dg.nancheng tcp://127.0.0.1:$((base + 2)) " \
    "nodes.tsv: node and endpoint of each broker"
assert_eq "$(wc -l <"$DIR/workers.tsv")" 7 "workers: 1 at the city, 1 + 2 villages at each town"
while IFS=$'\t' read -r name _ _ pid _; do
    pls__pid_alive "$pid" || fail "$name (pid $pid) of workers.tsv is not running"
done <"$DIR/workers.tsv"
while IFS=$'\t' read -r node _ _ pid _; do
    pls__pid_alive "$pid" || fail "broker of $node (pid $pid) of nodes.tsv is not running"
done <"$DIR/nodes.tsv"
got=$(awk -F, 'NR > 1 {split($1, p, "."); print p[2] == "" ? "city" : p[2]}' "$DIR/topology.csv" |
    sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')
assert_eq "$got" "city=1 guancheng=20 nancheng=20 " "rows of topology.csv (a town and its 19 villages each)"

# ---- orders ------------------------------------------------------------------------------
g_ep=$(awk -F'\t' '$1 == "dg.guancheng" {print $2}' "$DIR/nodes.tsv")
ids=()
ids+=("$("$CTL" --broker "$g_ep" submit --service legal_aid --origin dg.guancheng --desc "追讨欠薪")")
ids+=("$("$CTL" --broker "$g_ep" submit --service consult --origin dg.guancheng.v01 --desc "咨询")")
ids+=("$("$CTL" --broker "$TOPO_CITY_EP" submit --service mediation --origin dg --channel hotline \
    --locality dg.nancheng.v02 --desc "邻里纠纷")")
state_all() {
    local id
    for id in "${ids[@]}"; do
        [[ $("$CTL" --broker "$TOPO_CITY_EP" --json show "$id" 2>/dev/null | jq -r .state) == completed ]] ||
            return 1
    done
}
pls_wait_for 60 state_all || fail "orders not completed at the city: ${ids[*]}"
got=$("$CTL" --broker "$g_ep" --json show "${ids[0]}" |
    jq -r '[.events[] | select(.kind == "step_completed") | .node] | join(",")')
assert_eq "$got" "dg.guancheng,dg,dg" "legal aid: review at the town, decide and assign at the city"
got=$("$CTL" --broker "$TOPO_CITY_EP" --json show "${ids[2]}" |
    jq -r '[.events[] | select(.kind == "assigned") | .payload.scope] | join(",")')
assert_eq "$got" "dg.nancheng.v02" "hotline mediation at a village with a worker"

# ---- status, wait-idle, a second start -----------------------------------------------------
out=$(topo status 2>&1) || fail "start-topology.sh status failed: $out"
assert_contains "$out" "processes: 10 running, 0 not running" "status"
assert_contains "$out" "dg.guancheng" "status shows the city's links"
topo wait-idle 60 || fail "wait-idle: the network did not become idle"
if out=$(topo start --build "$PLS_BUILD_DIR" --towns 2 --base-port "$base" \
    --pg-conn "host=$PLS__PG_HOST port=$PLS__PG_PORT user=$PLS__PG_USER" \
    --db-prefix "${PLS_DBNAME}_" 2>&1); then
    fail "a second start while running succeeded"
fi
assert_contains "$out" "still running: stop it first" "second start"

# ---- stop --------------------------------------------------------------------------------
pids=$(cut -f4 "$DIR/nodes.tsv"; cut -f4 "$DIR/workers.tsv")
topo stop 2>"$T/stop.err" || fail "start-topology.sh stop failed: $(cat "$T/stop.err")"
for pid in $pids; do
    pls__pid_alive "$pid" && fail "pid $pid still runs after stop"
done
assert_eq "$(find "$DIR/run" -name '*.pid' | wc -l)" 0 "pid files left after stop"
assert_eq "$(pls_sql_db "host=$PLS__PG_HOST port=$PLS__PG_PORT user=$PLS__PG_USER dbname=${PLS_DBNAME}_dg" \
    "SELECT count(*) FROM orders")" 3 "the city's database after stop (PostgreSQL left running)"
pls_note "PASS"
