#!/usr/bin/env bash
# bench_functional.sh — pls-bench works (short, label integration; the figures come from the
# bench_*.sh benchmarks labelled "long"):
#   - 2,000 orders of every service (--service mixed) through its own broker: every order is
#     completed exactly once — 2,000 orders, all `completed`, each with exactly one `completed`
#     event entry and one `received` entry — and the JSON has every documented field;
#   - --broker mode against a broker the harness started: the broker's RSS is unknown (null);
#   - --queue-only: every order queued, none assigned, memory per queued order reported;
#   - --federation: a town and a city broker (own databases); 400 legal-aid orders submitted
#     at the town (初审 there, 审批 and 指派 at the city) all completed, at the city and in the
#     town's copies, each step once;
#   - usage errors exit 2 with a message, an unreachable broker exits 3.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"

BENCH=$PLS_BUILD_DIR/bench/pls-bench
[[ -x $BENCH ]] || skip "$BENCH not built"
command -v jq >/dev/null || skip "jq not installed"
pls_setup

# bench_run NAME ARGS...: runs pls-bench, JSON in $T/NAME.json, progress in $T/NAME.err.
bench_run() {
    local name=$1
    shift
    local st=0
    "$BENCH" "$@" >"$T/$name.json" 2>"$T/$name.err" || st=$?
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/$name.err"; then
        cat "$T/$name.err" >&2
        fail "sanitizer report from pls-bench ($name)"
    fi
    return "$st"
}

json() { jq -r "$1" "$T/$2.json"; }

# ---- 2,000 mixed orders through pls-bench's own broker -------------------------------
bench_run mixed --db "$PLS_DB" --orders 2000 --service mixed --workers 4 --concurrency 16 \
    --submitters 8 --window 4 --broker-log "$T/mixed-broker.log" --stall-timeout 120 ||
    {
        cat "$T/mixed.err" "$T/mixed.json" >&2
        tail -n 40 "$T/mixed-broker.log" >&2
        fail "pls-bench --service mixed failed"
    }
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/mixed-broker.log"; then
    fail "sanitizer report in the broker started by pls-bench ($T/mixed-broker.log)"
fi
jq -e . "$T/mixed.json" >/dev/null || fail "pls-bench printed no JSON object"
for f in orders seconds orders_per_s commits rows_written broker_peak_rss_kb; do
    [[ $(json ".$f | type" mixed) == number ]] || fail "JSON field $f missing or not a number"
done
for f in submit_ack_ms submit_to_assign_ms submit_to_complete_ms; do
    for p in p50 p99 max; do
        [[ $(json ".$f.$p | type" mixed) == number ]] || fail "JSON field $f.$p missing"
    done
done
assert_eq "$(json .orders mixed)" 2000 "orders in the JSON"
assert_eq "$(json .completed mixed)" 2000 "completed orders in the JSON"
assert_eq "$(json .error mixed)" null "error in the JSON"
assert_eq "$(json '.commits > 0 and .rows_written >= 2000 and .broker_peak_rss_kb > 0' mixed)" \
    true "commits, rows and RSS are measured"
assert_eq "$(json '.submit_ack_ms.p50 <= .submit_to_complete_ms.p50' mixed)" true \
    "an order is answered before it completes"
assert_eq "$(json '.brokers[0] | .commit_ms_p50 > 0 and .commit_ms_p50 <= .commit_ms_p99
    and .commit_ms_p99 <= .commit_ms_max' mixed)" true "the broker's commit times are reported"

# What a user of the store would see: every order completed exactly once.
assert_eq "$(pls_sql "SELECT count(*) FROM orders")" 2000 "orders stored"
assert_eq "$(pls_sql "SELECT count(*) FROM orders WHERE state <> 'completed'")" 0 \
    "orders not completed"
assert_eq "$(pls_sql "SELECT count(DISTINCT service) FROM orders")" 12 "services submitted"
assert_eq "$(pls_sql "SELECT count(*) FROM (SELECT o.id FROM orders o LEFT JOIN event_entries e
    ON e.order_id = o.id AND e.kind = 'completed' GROUP BY o.id HAVING count(e.kind) <> 1) x")" 0 \
    "orders without exactly one completed event"
assert_eq "$(pls_sql "SELECT count(*) FROM event_entries WHERE kind = 'received'")" 2000 \
    "received events"
assert_eq "$(pls_sql "SELECT count(*) FROM event_entries WHERE kind = 'completed'")" 2000 \
    "completed events"
# every step's assignment was accepted and completed once (no lease expired, nothing redone)
assert_eq "$(pls_sql "SELECT count(*) FROM event_entries WHERE kind IN ('lease_expired',
    'requeued', 'failed')")" 0 "redone steps"
assert_eq "$(pls_sql "SELECT count(*) FILTER (WHERE kind = 'assigned') = count(*) FILTER (WHERE
    kind = 'step_completed') FROM event_entries")" t "assignments vs completed steps"
left=$(pgrep -f "pls-broker .*--db $PLS_DB" || true)
[[ -z $left ]] || fail "pls-bench left its broker running (pid $left)"

# ---- --broker: a running broker --------------------------------------------------------
DB2=$(pls_createdb running)
pls_start_broker b dg --db "$DB2"
bench_run running --broker "$(pls_endpoint b)" --orders 300 --workers 2 --concurrency 8 \
    --submitters 2 --window 8 || {
    cat "$T/running.err" "$T/running.json" >&2
    fail "pls-bench --broker failed"
}
assert_eq "$(json .completed running)" 300 "completed orders (--broker)"
assert_eq "$(json .broker_peak_rss_kb running)" null "RSS of a broker we did not start"
assert_eq "$(json .config.own_broker running)" false "own_broker (--broker)"
assert_eq "$(pls_sql_db "$DB2" "SELECT count(*) FROM orders WHERE state = 'completed'")" 300 \
    "orders completed (--broker)"

# ---- --queue-only ---------------------------------------------------------------------
DB3=$(pls_createdb queue)
bench_run queue --db "$DB3" --queue-only --orders 1000 --submitters 4 --window 8 \
    --broker-log "$T/queue-broker.log" || {
    cat "$T/queue.err" "$T/queue.json" >&2
    fail "pls-bench --queue-only failed"
}
assert_eq "$(json .answered queue)" 1000 "answered submits (--queue-only)"
assert_eq "$(json .completed queue)" null "completed (--queue-only)"
assert_eq "$(json .submit_to_assign_ms queue)" null "assign latency (--queue-only)"
assert_eq "$(json '.queued_bytes_per_order | type' queue)" number "memory per queued order"
assert_eq "$(json .broker_open_orders queue)" 1000 "open orders in the broker"
assert_eq "$(pls_sql_db "$DB3" "SELECT count(*) FROM orders WHERE state = 'queued'")" 1000 \
    "queued orders (--queue-only)"
assert_eq "$(pls_sql_db "$DB3" "SELECT count(*) FROM orders WHERE length(descr) = 200")" 1000 \
    "200-byte descriptions"

# ---- --federation: a town and its city, each on its own database ---------------------
TOWN_DB=$(pls_createdb fed_town)
CITY_DB=$(pls_createdb fed_city)
bench_run fed --db "$TOWN_DB" --city-db "$CITY_DB" --federation --orders 400 --workers 4 \
    --concurrency 16 --submitters 4 --window 4 --broker-log "$T/fed-broker.log" \
    --stall-timeout 120 || {
    cat "$T/fed.err" "$T/fed.json" >&2
    tail -n 40 "$T/fed-broker.log" "$T/fed-broker.log.city" >&2
    fail "pls-bench --federation failed"
}
for log in "$T/fed-broker.log" "$T/fed-broker.log.city"; do
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
        fail "sanitizer report in a broker started by pls-bench ($log)"
    fi
done
assert_eq "$(json .completed fed)" 400 "completed orders (--federation)"
assert_eq "$(json .config.service fed)" legal_aid "the default service of a federation run"
assert_eq "$(json '[.brokers[].node] | join(" ")' fed)" "dg.humen dg" "the brokers of the run"
assert_eq "$(json '.brokers[1].completions' fed)" 400 "orders completed by the city"
# legal aid received at a town: 初审 at the town, 审批 and 指派 at the city; the town's copy
# and the city's order agree, each step completed once
for db in "$TOWN_DB" "$CITY_DB"; do
    assert_eq "$(pls_sql_db "$db" "SELECT count(*) FILTER (WHERE state = 'completed') || '/' ||
        count(*) FROM orders")" 400/400 "orders completed in $db"
    assert_eq "$(pls_sql_db "$db" "SELECT count(*) FROM (SELECT order_id FROM event_entries
        GROUP BY 1 HAVING count(*) FILTER (WHERE kind = 'step_completed') <> 3
        OR count(*) FILTER (WHERE kind = 'completed') <> 1) x")" 0 \
        "orders without exactly 3 completed steps and 1 completion in $db"
done
assert_eq "$(pls_sql_db "$CITY_DB" "SELECT string_agg(DISTINCT step || ':' || node, ' ' ORDER BY
    step || ':' || node) FROM event_entries WHERE kind = 'step_completed'")" "0:dg.humen 1:dg 2:dg" \
    "where each step was completed"
left=$(pgrep -f "pls-broker .*--db ($TOWN_DB|$CITY_DB)" || true)
[[ -z $left ]] || fail "pls-bench left a broker running (pid $left)"

# ---- usage and unreachable brokers ---------------------------------------------------
st=0
"$BENCH" --orders 10 >/dev/null 2>"$T/usage.err" || st=$?
assert_eq "$st" 2 "exit status without --db or --broker"
assert_contains "$(cat "$T/usage.err")" "exactly one of --db CONNINFO"
st=0
"$BENCH" --db "$PLS_DB" --orders lots >/dev/null 2>"$T/usage.err" || st=$?
assert_eq "$st" 2 "exit status for a bad number"
assert_contains "$(cat "$T/usage.err")" "--orders: expected a number from 1 to"
st=0
"$BENCH" --db "$PLS_DB" --federation >/dev/null 2>"$T/usage.err" || st=$?
assert_eq "$st" 2 "exit status for --federation without the city's database"
assert_contains "$(cat "$T/usage.err")" "--city-db CONNINFO"
help=$("$BENCH" --help) # not piped into grep -q: pls-bench would die of SIGPIPE under pipefail
assert_contains "$help" "--queue-only"
assert_contains "$help" "--federation"
st=0
"$BENCH" --broker "tcp://127.0.0.1:$(pls_free_port)" --orders 5 >"$T/down.json" \
    2>"$T/down.err" || st=$?
assert_eq "$st" 3 "exit status for an unreachable broker"
assert_contains "$(cat "$T/down.err")" "no answer to status"
