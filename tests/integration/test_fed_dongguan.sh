#!/usr/bin/env bash
# test_fed_dongguan.sh — the Dongguan-sized network on this machine (issue 3; ctest label long):
# the city and its 32 town brokers started by deploy/start-topology.sh from
# deploy/topology/dongguan.csv (590 village scopes), a database per broker on one PostgreSQL,
# a noop worker for every department at every broker's node and consult/mediation/counsel
# workers at two villages of each town; 20,000 orders end to end: FED_PER_TOWN (600) mixed
# orders at each town and the rest as 12348 hotline orders at the city with village
# localities all over the city, every load client submitting as fast as its window allows.
#
# Checks: every order completes; the city holds each exactly once with the same history as
# its origin and handling towns; no duplicate events, no double completion (fed_check_all).
# Reports (stderr, and $T/figures.txt kept with PLS_KEEP_TMP=1): orders/s from the first
# `received` to the last `completed` in the event logs, p50/p99 of received -> completed at
# the origin, and the brokers' total memory (sum of VmRSS now and of VmHWM, the peak).
#
# Knobs: FED_ORDERS (20000), FED_PER_TOWN (600), FED_WINDOW (outstanding submits per client,
# 32), FED_RATE (orders/s over all clients, open loop; default 0: as fast as the windows
# allow, which measures capacity, the latencies then being mostly queueing), FED_DONE_S
# (seconds for completion, 1800), FED_VILLAGE_WORKERS (2).
# Run: PLS_BUILD_DIR=build-release bash tests/integration/test_fed_dongguan.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/fed.sh"

ORDERS=${FED_ORDERS:-20000}
PER_TOWN=${FED_PER_TOWN:-600}
WINDOW=${FED_WINDOW:-32}
RATE=${FED_RATE:-0}
DONE_S=${FED_DONE_S:-1800}
TOPO=$PLS_SOURCE_DIR/deploy/start-topology.sh
CSV=$PLS_SOURCE_DIR/deploy/topology/dongguan.csv

fed_setup
DIR=$T/topo
mapfile -t TOWN_IDS < <(awk -F, 'NR > 1 && $1 ~ /^dg\.[a-z_0-9]+$/ && $NF != "village" {print $1}' "$CSV")
TOWNS=("${TOWN_IDS[@]#dg.}")
((${#TOWNS[@]} == 32)) || fail "$CSV has ${#TOWNS[@]} towns, not 32"
HOTLINE=$((ORDERS - 32 * PER_TOWN))
((HOTLINE >= 0)) || fail "FED_ORDERS=$ORDERS < 32 x FED_PER_TOWN=$PER_TOWN"
fed_topology "${TOWNS[@]}" # FED_VILLAGES for the order generators

# 33 free ports in a row below the ephemeral range.
base=
for _ in $(seq 20); do
    p=$(pls_free_port)
    ((p + 32 < 32768)) || continue
    busy=$(ss -Htln | awk -v lo="$p" -v hi=$((p + 32)) '{n = split($4, a, ":"); x = a[n] + 0}
        x >= lo && x <= hi' | wc -l)
    if ((busy == 0)); then
        base=$p
        break
    fi
done
[[ -n $base ]] || fail "no 33 free ports in a row"

topo() { bash "$TOPO" "$@" --dir "$DIR"; }
pls_on_exit topo stop
t0=$SECONDS
topo start --build "$PLS_BUILD_DIR" --csv "$CSV" --towns all --base-port "$base" \
    --pg-conn "host=$PLS__PG_HOST port=$PLS__PG_PORT user=$PLS__PG_USER" \
    --db-prefix "${PLS_DBNAME}_" --village-workers "$FED_VILLAGE_WORKERS" --concurrency 4 \
    --log-level warn 2>"$T/start.err" ||
    {
        cat "$T/start.err" >&2
        fail "start-topology.sh start failed (logs in $DIR/log)"
    }
pls_note "$(tail -n 1 "$T/start.err") in $((SECONDS - t0)) s"

# The brokers as fed.sh knows them (names: dg and the towns' short names).
while IFS=$'\t' read -r node ep db _ _; do
    name=${node#dg.}
    [[ $node == dg ]] && name=dg
    FED_NAMES+=("$name")
    FED_NODE[$name]=$node
    FED_DB[$name]=$db
    printf -v "BROKER_$name" '%s' "$ep"
done <"$DIR/nodes.tsv"
((${#FED_NAMES[@]} == 33)) || fail "nodes.tsv lists ${#FED_NAMES[@]} brokers, not 33"
pls_note "$(grep -c ',village$' "$DIR/topology.csv") village scopes; $(wc -l <"$DIR/workers.tsv") workers"

# ---- the load ----------------------------------------------------------------------------
for t in "${TOWNS[@]}"; do
    fed_gen_orders "$t" "$PER_TOWN" "dgn-$t-" >"$T/$t.tsv"
done
fed_gen_hotline "$HOTLINE" "dgn-call-" "${TOWNS[@]}" >"$T/dg.tsv"
pls_note "submitting $ORDERS orders: $PER_TOWN at each of the 32 towns, $HOTLINE hotline orders at the city"
t_load=$SECONDS
for name in "${FED_NAMES[@]}"; do
    [[ -s $T/$name.tsv ]] || continue
    rate=()
    if [[ $RATE != 0 ]]; then
        rate=(--rate "$(awk -v r="$RATE" -v n="$(wc -l <"$T/$name.tsv")" -v t="$ORDERS" \
            'BEGIN {printf "%.3f", r * n / t}')")
    fi
    fed_load_start "load_$name" "$name" "$T/$name.tsv" "$T/$name.acked" --window "$WINDOW" \
        --deadline-s "$DONE_S" "${rate[@]}"
done
for name in "${FED_NAMES[@]}"; do
    [[ -s $T/$name.tsv ]] || continue
    fed_load_wait "load_$name" "$DONE_S"
done
pls_note "all $ORDERS orders acknowledged in $((SECONDS - t_load)) s"

expect=(dg="$HOTLINE")
for t in "${TOWNS[@]}"; do
    expect+=("$t=$PER_TOWN")
done
FED_POLL_S=3 fed_wait_completed "$DONE_S" "${expect[@]}"
t_done=$SECONDS
pls_note "all completed $((t_done - t_load)) s after the load began"

# ---- figures -----------------------------------------------------------------------------
rss=0 hwm=0 wrss=0
while IFS=$'\t' read -r _ _ _ pid _; do
    rss=$((rss + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")))
    hwm=$((hwm + $(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")))
done <"$DIR/nodes.tsv"
while IFS=$'\t' read -r _ _ _ pid _; do
    wrss=$((wrss + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")))
done <"$DIR/workers.tsv"
# Per order at its origin: received at and completed at (epoch ms).
: >"$T/latency"
for name in "${FED_NAMES[@]}"; do
    fed_sql "$name" "SELECT (extract(epoch FROM r.at) * 1000)::bigint, (extract(epoch FROM c.at) * 1000)::bigint
        FROM event_entries r JOIN event_entries c ON c.order_id = r.order_id
        JOIN orders o ON o.id = r.order_id
        WHERE r.kind = 'received' AND c.kind = 'completed' AND o.intake_node = '${FED_NODE[$name]}'" \
        -F ' ' >>"$T/latency"
done
n_lat=$(wc -l <"$T/latency")
assert_eq "$n_lat" "$ORDERS" "orders with a received and a completed entry at their origin"
read -r first last < <(awk 'NR == 1 {f = $1; l = $2} {if ($1 < f) f = $1; if ($2 > l) l = $2}
    END {print f, l}' "$T/latency")
ops=$(awk -v n="$ORDERS" -v f="$first" -v l="$last" 'BEGIN {printf "%.0f", n * 1000 / (l - f)}')
read -r p50 p99 pmax < <(awk '{print $2 - $1}' "$T/latency" | sort -n |
    awk '{a[NR] = $1} END {i50 = int(NR * 0.50); i99 = int(NR * 0.99); if (i50 < 1) i50 = 1;
        if (i99 < 1) i99 = 1; print a[i50], a[i99], a[NR]}')
mode="closed loop, window $WINDOW per client"
[[ $RATE == 0 ]] || mode="open loop at $RATE orders/s"
figures="Dongguan-sized network ($mode): 33 brokers ($(wc -l <"$DIR/workers.tsv") workers, \
$(grep -c ',village$' "$DIR/topology.csv") village scopes), $ORDERS orders ($PER_TOWN at each town, \
$HOTLINE hotline at the city): $ops orders/s (first received to last completed: \
$(((last - first) / 1000)) s); received -> completed at the origin p50 ${p50} ms, p99 ${p99} ms, \
max ${pmax} ms; brokers' memory: VmRSS total $((rss / 1024)) MiB, VmHWM total $((hwm / 1024)) MiB; \
workers' VmRSS total $((wrss / 1024)) MiB"
echo "$figures" >"$T/figures.txt"
pls_note "$figures"
# Where the time went: the gaps between consecutive events of the orders, by the node that
# logged the later one and the transition, slowest first (from the city's copies, which have
# every order's history).
fed_sql dg "WITH e AS (SELECT node, kind, at, lag(at) OVER w AS prev, lag(kind) OVER w AS pk
        FROM event_entries WINDOW w AS (PARTITION BY order_id ORDER BY seq))
    SELECT node, pk || ' -> ' || kind, count(*),
        round(avg(extract(epoch FROM at - prev))::numeric, 3) AS avg_s,
        round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM at - prev))::numeric, 3),
        round(max(extract(epoch FROM at - prev))::numeric, 3)
    FROM e WHERE prev IS NOT NULL GROUP BY 1, 2 ORDER BY 4 DESC LIMIT 8" -F ' ' |
    awk 'BEGIN {print "  node  transition  count  avg_s  p99_s  max_s"} {print "  " $0}' >"$T/breakdown.txt"
pls_note "slowest transitions (by average; at the node of the later event):"
cat "$T/breakdown.txt" >&2

fed_check_all
for name in "${FED_NAMES[@]}"; do
    [[ -s $T/$name.acked ]] || continue
    fed_acked_present dg "$T/$name.acked"
done
pls_note "PASS: $figures"
