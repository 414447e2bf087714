# fed.sh — helpers of the federation tests (tests/integration/test_fed_*.sh), on top of
# harness.sh. Source it after harness.sh and call fed_setup instead of pls_setup:
# shellcheck shell=bash
#
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib/fed.sh"
#   fed_setup
#   fed_topology humen changan dongcheng      # $FED_CSV: the city, these towns, their villages
#   fed_start_city                            # broker "dg" (database ${PLS_DBNAME}_dg)
#   fed_start_town humen                      # broker "humen" for dg.humen, --parent the city
#   fed_start_workers dg humen                # every department at each, village workers
#   fed_gen_orders humen 100 hm- >"$T/hm.tsv" # mixed orders for pls-fedload
#   fed_load humen "$T/hm.tsv" "$T/hm.acked"  # submit them; "KEY ID" per acknowledged order
#   fed_wait_completed 120 humen=100 dg=0     # every order completed at its origin and the city
#   fed_check_all                             # the invariants below, at every node
#
# Broker names are the town's last label (humen) and dg for the city; nodes dg.humen, dg.
# Every broker has its own database (pls_createdb) on the test's PostgreSQL and gets $FED_CSV
# as --topology, so the city forwards town steps only to towns of the test.
#
# Invariants checked by fed_check_all (DESIGN §4, §7; issue 3):
#   - in every node's database: no (order, seq) twice in the event log (SQL view
#     event_entries), sequence numbers 1..n without gaps, at most one `completed` entry per
#     order and one `step_completed` per (order, step);
#   - every order a town holds is at the city too, with the same state, owner and event list
#     (seq, kind, node): the origin, the handling node and the city agree;
#   - the city holds exactly the orders taken in at the towns plus its own.

FED_DEPTS=(consult legal_aid mediation lawyer notary_guide notary_admin forensic_guide
    forensic_admin pro_mediation exam resettlement video_visit counsel lawyer_admin grassroots
    discipline)
FED_ALL_DEPTS=$(
    IFS=,
    echo "${FED_DEPTS[*]}"
)
FED_VILLAGE_DEPTS=consult,mediation,counsel
FED_VILLAGE_WORKERS=${FED_VILLAGE_WORKERS:-2} # villages per town with a worker
FED_CITY=dg
FED_CSV=             # the test's topology (fed_topology)
FED_LOAD=            # the pls-fedload binary
FED_RAWSEND=         # the pls-rawsend test tool (raw link messages, malformed ones too)
FED_NAMES=()         # broker names started, city first
declare -A FED_DB=()      # broker name -> conninfo of its database
declare -A FED_NODE=()    # broker name -> node id
declare -A FED_VILLAGES=() # town name -> its villages in the CSV (space-separated)

# fed_setup [--private-pg]: pls_setup and the tools (at exit the harness stops workers and load
# clients before brokers).
fed_setup() {
    pls_setup "$@"
    FED_LOAD=$PLS_BUILD_DIR/tests/integration/fed/pls-fedload
    FED_RAWSEND=$PLS_BUILD_DIR/tests/integration/tools/pls-rawsend
    local tool
    for tool in "$FED_LOAD" "$FED_RAWSEND"; do
        [[ -x $tool ]] || fail "$tool not built (build the whole tree)"
    done
    command -v jq >/dev/null || fail "jq not found (deploy/install-deps.sh installs it)"
}

fed_now_ms() {
    local t=${EPOCHREALTIME/./}
    echo $((t / 1000))
}

# fed_topology TOWN...: writes $T/topology.csv ($FED_CSV): the city, the towns (dg.TOWN) and
# their villages, rows taken from deploy/topology/dongguan.csv.
fed_topology() {
    local src=$PLS_SOURCE_DIR/deploy/topology/dongguan.csv t
    [[ -r $src ]] || fail "$src missing (deploy/gen-topology.sh makes it)"
    FED_CSV=$T/topology.csv
    {
        echo "id,name_zh,name_en,kind"
        grep -E "^$FED_CITY," "$src"
        for t in "$@"; do
            grep -qE "^$FED_CITY\.$t," "$src" || fail "fed_topology: no town $FED_CITY.$t in $src"
            grep -E "^$FED_CITY\.$t(\.[^,]*)?," "$src"
            FED_VILLAGES[$t]=$(grep -oE "^$FED_CITY\.$t\.[^,]+" "$src" | tr '\n' ' ')
        done
    } >"$FED_CSV"
}

# fed_start_city [ARGS...]: the city broker "dg" on its own database.
fed_start_city() {
    [[ -n $FED_CSV ]] || fail "fed_topology first"
    if [[ -z ${FED_DB[dg]:-} ]]; then
        FED_DB[dg]=$(pls_createdb dg)
        FED_NODE[dg]=$FED_CITY
        FED_NAMES+=(dg)
    fi
    pls_start_broker dg "$FED_CITY" --db "${FED_DB[dg]}" --topology "$FED_CSV" "$@"
}

# fed_start_town TOWN [ARGS...]: the broker of dg.TOWN, child of the city.
fed_start_town() {
    local t=$1
    shift
    if [[ -z ${FED_DB[$t]:-} ]]; then
        FED_DB[$t]=$(pls_createdb "$t")
        FED_NODE[$t]=$FED_CITY.$t
        FED_NAMES+=("$t")
    fi
    pls_start_broker "$t" "$FED_CITY.$t" --db "${FED_DB[$t]}" --parent "$(pls_endpoint dg)" \
        --topology "$FED_CSV" "$@"
}

# fed_start_workers NAME...: at each broker, one noop worker of every department for its own
# node; at towns also workers of consult, mediation and counsel for the first
# $FED_VILLAGE_WORKERS villages. Waits until every broker lists its workers (a village step is
# routed to the village only when a worker of the village ever registered there).
fed_start_workers() {
    local name v k n
    for name in "$@"; do
        n=1
        pls_start_worker "w_$name" --broker "$(pls_endpoint "$name")" --node "${FED_NODE[$name]}" \
            --dept "$FED_ALL_DEPTS" --builtin noop --concurrency 4 --name "w-$name"
        k=0
        for v in ${FED_VILLAGES[$name]:-}; do
            ((k < FED_VILLAGE_WORKERS)) || break
            pls_start_worker "w_${name}_${v##*.}" --broker "$(pls_endpoint "$name")" --node "$v" \
                --dept "$FED_VILLAGE_DEPTS" --builtin noop --concurrency 4 --name "w-${v#*.}"
            k=$((k + 1))
            n=$((n + 1))
        done
        pls_wait_for 30 fed__workers_at "$name" "$n" || fail "broker $name does not list $n workers"
    done
}

fed__workers_at() {
    local got
    got=$(pls_ctl_at "$1" --json status 2>/dev/null | jq '[.workers[] | select(.alive)] | length') ||
        return 1
    ((got >= $2))
}

# fed_village TOWN I: the I-th village (1-based) of TOWN in the CSV. Villages 1..$FED_VILLAGE_WORKERS
# have workers; the others' village steps go to the town.
fed_village() {
    local vs
    read -ra vs <<<"${FED_VILLAGES[$1]}"
    ((${#vs[@]} >= $2)) || fail "town $1 has only ${#vs[@]} villages"
    echo "${vs[$2 - 1]}"
}

# fed_sql NAME SQL: runs SQL on broker NAME's database (unaligned tuples).
fed_sql() {
    pls_sql_db "${FED_DB[$1]}" "$2" "${@:3}"
}

# ---- orders ------------------------------------------------------------------------------

# fed_gen_orders TOWN N PREFIX: N mixed orders taken in at dg.TOWN (or at its village desks),
# as pls-fedload input lines (KEY SERVICE ORIGIN LOCALITY CHANNEL SITE PRIORITY DESC): every
# service of the catalog, legal aid crossing to the city, consults and mediations of villages
# with and without workers, village counsel, prison video with and without a chosen site,
# city-only services. Keys PREFIX1 .. PREFIXN.
fed_gen_orders() {
    local t=$1 n=$2 prefix=$3 town=$FED_CITY.$1
    local v1 v2 v3 v4
    v1=$(fed_village "$t" 1)
    v2=$(fed_village "$t" 2)
    v3=$(fed_village "$t" 3)
    v4=$(fed_village "$t" 4)
    awk -v n="$n" -v p="$prefix" -v T="$town" -v v1="$v1" -v v2="$v2" -v v3="$v3" -v v4="$v4" \
        -v city="$FED_CITY" 'BEGIN {
        OFS = "\t"
        # service origin locality channel site priority
        pat[0]  = "consult|" T "|" T "|desk|-|normal"
        pat[1]  = "consult|" v1 "|" v1 "|desk|-|normal"
        pat[2]  = "consult|" T "|" v3 "|desk|-|normal"
        pat[3]  = "legal_aid|" T "|" T "|desk|-|normal"
        pat[4]  = "mediation|" v2 "|" v2 "|desk|-|normal"
        pat[5]  = "mediation|" T "|" T "|desk|-|normal"
        pat[6]  = "lawyer|" T "|" T "|desk|-|normal"
        pat[7]  = "notary|" T "|" T "|web|-|normal"
        pat[8]  = "forensic|" T "|" T "|desk|-|normal"
        pat[9]  = "resettlement|" T "|" T "|desk|-|normal"
        pat[10] = "prison_video|" T "|" T "|desk|" city ".humen|normal"
        pat[11] = "prison_video|" T "|" T "|desk|-|normal"
        pat[12] = "village_counsel|" v1 "|" v1 "|desk|-|normal"
        pat[13] = "exam|" T "|" T "|web|-|normal"
        pat[14] = "pro_mediation|" T "|" T "|desk|-|normal"
        pat[15] = "complaint|" T "|" T "|desk|-|normal"
        pat[16] = "consult|" T "|" v4 "|web|-|urgent"
        pat[17] = "legal_aid|" v2 "|" v2 "|desk|-|urgent"
        pat[18] = "consult|" v2 "|" v2 "|platform|-|normal"
        pat[19] = "mediation|" T "|" v4 "|desk|-|normal"
        for (i = 1; i <= n; i++) {
            split(pat[i % 20], f, "|")
            print p i, f[1], f[2], f[3], f[4], f[5], f[6], "federation test order " p i " (" f[1] ")"
        }
    }'
}

# fed_gen_hotline N PREFIX TOWN...: N orders of the 12348 hotline taken in at the city with the
# locality a village (or a town) of the TOWNs: consults, mediations, legal aid.
fed_gen_hotline() {
    local n=$1 prefix=$2 t locs=()
    shift 2
    for t in "$@"; do
        locs+=("$(fed_village "$t" 1)" "$(fed_village "$t" 3)" "$FED_CITY.$t")
    done
    awk -v n="$n" -v p="$prefix" -v city="$FED_CITY" -v L="${locs[*]}" 'BEGIN {
        OFS = "\t"
        nl = split(L, loc, " ")
        split("consult consult mediation legal_aid consult", svc, " ")
        for (i = 1; i <= n; i++) {
            s = svc[(i % 5) + 1]
            print p i, s, city, loc[(i % nl) + 1], "hotline", "-", "normal", \
                "12348 hotline call " p i " (" s ")"
        }
    }'
}

# fed_load NAME IN OUT [pls-fedload ARGS...]: submits the orders of file IN to broker NAME and
# waits; "KEY ID" per acknowledged order is appended to OUT. Fails unless all were acknowledged.
fed_load() {
    local name=$1 in=$2 out=$3
    shift 3
    "$FED_LOAD" --broker "$(pls_endpoint "$name")" --in "$in" --out "$out" "$@" ||
        fail "pls-fedload at $name: not every order of $in was acknowledged"
}

# fed_load_start PROC NAME IN OUT [ARGS...]: the same in the background, as harness process
# PROC (pls_wait_exit PROC ... waits for it; its summary is in its log).
fed_load_start() {
    local proc=$1 name=$2 in=$3 out=$4
    shift 4
    pls_start "$proc" "$FED_LOAD" --broker "$(pls_endpoint "$name")" --in "$in" --out "$out" "$@"
}

# fed_load_wait PROC TIMEOUT_S: waits for a background load; fails unless it acknowledged all.
fed_load_wait() {
    pls_wait_exit "$1" "$2" || fail "load $1 still running after $2 s"
    ((PLS_EXIT_STATUS == 0)) ||
        fail "load $1: not every order was acknowledged ($(tail -n 1 "$(pls_logfile "$1")"))"
    pls_note "$1: $(grep '^fedload:' "$(pls_logfile "$1")" | tail -n 1)"
}

# ---- waiting and checks ------------------------------------------------------------------

# fed_count NAME [WHERE]: orders in NAME's database (matching WHERE).
fed_count() {
    fed_sql "$1" "SELECT count(*) FROM orders${2:+ WHERE $2}"
}

# fed_completed_ok NAME=N...: true when each origin NAME holds exactly N orders it took in
# (intake_node) and all are completed, and the city holds the sum of them all, all completed.
fed_completed_ok() {
    local arg name n total=0 got
    for arg in "$@"; do
        name=${arg%%=*}
        n=${arg#*=}
        total=$((total + n))
        got=$(fed_sql "$name" "SELECT count(*) FILTER (WHERE state = 'completed') || ' ' || count(*)
            FROM orders WHERE intake_node = '${FED_NODE[$name]}'") || return 1
        [[ $got == "$n $n" ]] || return 1
    done
    got=$(fed_sql dg "SELECT count(*) FILTER (WHERE state = 'completed') || ' ' || count(*)
        FROM orders") || return 1
    [[ $got == "$total $total" ]]
}

# fed_progress NAME...: one line of counts per broker (state: number), for the log.
fed_progress() {
    local name
    for name in "$@"; do
        pls_note "  $name: $(fed_sql "$name" "SELECT coalesce(string_agg(state || '=' || n, ' ' ORDER BY state), 'none')
            FROM (SELECT state, count(*) AS n FROM orders GROUP BY 1) s")"
    done
}

# fed_wait_completed TIMEOUT_S NAME=N...: waits for fed_completed_ok (see there), showing
# progress every 10 s; fails with the counts of every node on timeout. Polls every
# $FED_POLL_S seconds (0.5).
fed_wait_completed() {
    local timeout=$1 deadline next=$((SECONDS + 10))
    shift
    deadline=$((SECONDS + timeout))
    until fed_completed_ok "$@"; do
        if ((SECONDS >= deadline)); then
            fed_progress "${FED_NAMES[@]}"
            fail "not every order completed within ${timeout}s (expected: $*; the city the sum)"
        fi
        if ((SECONDS >= next)); then
            pls_note "waiting for completion:"
            fed_progress "${FED_NAMES[@]}"
            next=$((SECONDS + 10))
        fi
        sleep "${FED_POLL_S:-0.5}"
    done
    pls_note "every order completed ($*)"
}

# fed_dump NAME FILE [WHERE]: one line per order of NAME's database: id, state, owner and its
# event list "seq:kind:node,..." — what must be equal at every node that holds the order.
fed_dump() {
    fed_sql "$1" "SELECT o.id || ' ' || o.state || ' ' || o.owner || ' ' ||
            string_agg(e.seq || ':' || e.kind || ':' || e.node, ',' ORDER BY e.seq, e.kind)
        FROM orders o JOIN event_entries e ON e.order_id = o.id
        ${3:+WHERE $3}
        GROUP BY o.id, o.state, o.owner" | LC_ALL=C sort >"$2"
}

# fed_check_log NAME: the event-log invariants in NAME's database.
fed_check_log() {
    local name=$1 bad
    bad=$(fed_sql "$name" "SELECT count(*) FROM (SELECT order_id, seq FROM event_entries
        GROUP BY 1, 2 HAVING count(*) > 1) x")
    assert_eq "$bad" 0 "$name: (order, seq) pairs present more than once in the event log"
    bad=$(fed_sql "$name" "SELECT count(*) FROM (SELECT order_id FROM event_entries GROUP BY 1
        HAVING min(seq) <> 1 OR max(seq) <> count(*)) x")
    assert_eq "$bad" 0 "$name: orders whose event sequence numbers are not 1..n"
    bad=$(fed_sql "$name" "SELECT count(*) FROM (SELECT order_id FROM event_entries
        WHERE kind = 'completed' GROUP BY 1 HAVING count(*) > 1) x")
    assert_eq "$bad" 0 "$name: orders with two 'completed' entries"
    bad=$(fed_sql "$name" "SELECT count(*) FROM (SELECT order_id, step FROM event_entries
        WHERE kind = 'step_completed' GROUP BY 1, 2 HAVING count(*) > 1) x")
    assert_eq "$bad" 0 "$name: steps completed twice"
    bad=$(fed_sql "$name" "SELECT count(*) FROM orders o
        WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.order_id = o.id)")
    assert_eq "$bad" 0 "$name: orders without events"
}

# fed_check_all: fed_check_log at every broker; every order a town holds is at the city with
# the same state, owner and events; the city holds exactly the towns' intake plus its own.
fed_check_all() {
    local name sum=0 n missing city_n
    fed_dump dg "$T/dump.dg"
    for name in "${FED_NAMES[@]}"; do
        fed_check_log "$name"
        # "completed today" (status) counts orders by finished_at: copies and Forwards too
        assert_eq "$(fed_count "$name" "state = 'completed' AND finished_at IS NULL")" 0 \
            "$name: completed orders without a finish time"
        n=$(fed_count "$name" "intake_node = '${FED_NODE[$name]}'")
        sum=$((sum + n))
        [[ $name == dg ]] && continue
        fed_dump "$name" "$T/dump.$name"
        # every line of the town's dump must be in the city's, identical
        missing=$(LC_ALL=C comm -23 "$T/dump.$name" "$T/dump.dg" | wc -l)
        if ((missing)); then
            LC_ALL=C comm -23 "$T/dump.$name" "$T/dump.dg" | head -n 5 >&2
            fail "$name: $missing orders differ from the city's copy or are missing there (first ones above; compare $T/dump.$name and $T/dump.dg)"
        fi
    done
    city_n=$(fed_count dg)
    assert_eq "$city_n" "$sum" "orders at the city = orders taken in at the towns + its own"
    pls_note "checked: $city_n orders at the city, the towns' copies agree, no duplicates"
}

# fed_acked_present NAME FILE: every order in FILE ("KEY ID" lines) is in NAME's database.
fed_acked_present() {
    local name=$1 file=$2 n got
    n=$(wc -l <"$file")
    got=$({
        printf "SELECT count(*) FROM orders WHERE id = ANY('{"
        cut -d' ' -f2 "$file" | paste -sd,
        printf "}'::uuid[]);\n"
    } | pls__psql -Atq -d "${FED_DB[$name]}" -f -)
    assert_eq "$got" "$n" "$name: acknowledged orders of $(basename "$file") found"
}

# fed_latency NAME: "p50 p99 max" of received -> completed in ms at origin NAME for the
# orders it took in.
fed_latency() {
    fed_sql "$1" "WITH t AS (
            SELECT r.order_id, extract(epoch FROM c.at - r.at) * 1000 AS ms
            FROM event_entries r JOIN event_entries c ON c.order_id = r.order_id
            JOIN orders o ON o.id = r.order_id
            WHERE r.kind = 'received' AND c.kind = 'completed'
              AND o.intake_node = '${FED_NODE[$1]}')
        SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)) || ' ' ||
               round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)) || ' ' || round(max(ms))
        FROM t"
}

# fed_compare_shows FILE: FILE has lines "ID NAME_A NAME_B"; `plsctl --json show ID` at the two
# brokers must give the same state, owner, origin and events (seq, kind, node). Runs 4 at a
# time; fails naming the first differences.
fed_compare_shows() {
    local list=$1 id a b
    while read -r id a b; do
        echo "$id $(pls_endpoint "$a") $(pls_endpoint "$b") $a $b"
    done <"$list" >"$list.ep"
    # shellcheck disable=SC2016 # expanded by the inner bash
    FED_JQ='{state, node, origin, events: [.events[] | {seq, kind, node}]}' \
        xargs -P 4 -L 1 bash -c '
        x=$("$0" --broker "$2" --json show "$1" 2>&1 | jq -c "$FED_JQ" 2>&1)
        y=$("$0" --broker "$3" --json show "$1" 2>&1 | jq -c "$FED_JQ" 2>&1)
        if [[ -z $x || $x != "$y" ]]; then
            printf "order %s\n  at %s: %s\n  at %s: %s\n" "$1" "$4" "$x" "$5" "$y"
        fi' "$PLS_BUILD_DIR/cli/plsctl" <"$list.ep" >"$list.diff"
    if [[ -s $list.diff ]]; then
        head -n 9 "$list.diff" >&2
        fail "plsctl show differs between nodes for $(grep -c '^order' "$list.diff") of $(wc -l <"$list") pairs (first ones above; all in $list.diff)"
    fi
}

# fed_link NAME PEER FIELD: a field of NAME's link to PEER in `plsctl --json status`.
fed_link() {
    pls_ctl_at "$1" --json status | jq -r --arg p "$2" --arg f "$3" \
        '.links[] | select(.peer == $p) | .[$f]'
}

# fed__link_down NAME: NAME's link to the city says it is not connected (for pls_wait_for).
fed__link_down() {
    [[ $(fed_link "$1" "$FED_CITY" connected 2>/dev/null) == false ]]
}

# fed__links_idle: at every broker every link is connected with an empty outbox.
fed__links_idle() {
    local name bad
    for name in "${FED_NAMES[@]}"; do
        bad=$(pls_ctl_at "$name" --json status 2>/dev/null |
            jq '[.links[] | select(.connected != true or .outbox != 0)] | length') || return 1
        [[ $bad == 0 ]] || return 1
    done
}
