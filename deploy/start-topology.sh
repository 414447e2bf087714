#!/usr/bin/env bash
# start-topology.sh — run a network of command centers on this machine: the city broker, town
# brokers connected to it (--parent), one database per broker on one local PostgreSQL, and
# noop workers for every department at every node and at some village scopes.
#
# Usage:
#   bash deploy/start-topology.sh start [options]
#   bash deploy/start-topology.sh stop|status|wait-idle [--dir DIR]
#
# start options:
#   --csv FILE            topology, CSV id,name_zh,name_en,kind (default
#                         deploy/topology/dongguan.csv, made by deploy/gen-topology.sh)
#   --towns SPEC          which towns get a broker: all (default), a number N (the first N
#                         towns of the CSV) or a list: humen,changan,dongcheng (or dg.humen,...)
#   --dir DIR             state, logs and pid files (default var/topology)
#   --build DIR           where the programs are built (default build-release)
#   --base-port P         the city listens on 127.0.0.1:P, the town in row i of the CSV's
#                         towns on P+i (default 7700: dg 7700, dg.humen 7724, ...)
#   --pg-conn CONNINFO    use this PostgreSQL server ("host=... port=... user=...", no dbname)
#   --pg-dir DIR          else start one with deploy/pg.sh in DIR (default DIR/pg, or
#                         /var/tmp/pls-topology/<hash>/pg when user postgres cannot reach DIR)
#   --db-prefix P         database of node dg.humen: P + dg_humen (default pls_)
#   --village-workers K   villages per town with a worker of consult,mediation,counsel (the
#                         first K of the town's villages in the CSV; default 2)
#   --concurrency N       credit of each worker (default 4)
#   --city-concurrency N  credit of the city's worker (default 32: every town's city steps --
#                         legal aid decisions, referrals, exam, complaints -- meet there)
#   --log-level L         brokers' and workers' log level (default warn)
#   --city-b-post         also a B-post worker at the city (as the single-node demo had)
#
# What start does: writes DIR/topology.csv (the city, the chosen towns and their villages:
# every broker gets it as --topology, so the city forwards only to towns that run), creates
# the databases, starts the city, then the towns (in parallel), waits until each answers
# `plsctl status`, then starts the workers and waits until every broker lists them.
# Refuses to start while processes of DIR still run (stop first).
#
# Files in DIR: topology.env (sourceable: TOPO_CITY_EP, TOPO_CSV, TOPO_PG_CONN, TOPO_PG_DIR,
# TOPO_DB_PREFIX, TOPO_BUILD), nodes.tsv (one line per broker: node, endpoint, database
# conninfo, pid, log), workers.tsv (name, scope, broker endpoint, pid, log), run/NAME.pid,
# log/NAME.log (brokers broker-<town>, workers worker-<town>[-<village>]).
#
# stop: TERM the workers, then the brokers (KILL after 10 s); stops PostgreSQL when start
# started it. status: each process, then `plsctl status` at the city. wait-idle [SECONDS]:
# waits until no broker has open orders or unsent link messages (exit 1 on timeout).
#
# Machine notes (2 cores): 33 brokers and ~100 workers fit when idle; keep the log level at
# warn and worker concurrency modest. Each broker keeps 1-2 PostgreSQL connections.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_SH=$ROOT/deploy/pg.sh
ALL_DEPTS=consult,legal_aid,mediation,lawyer,notary_guide,notary_admin,forensic_guide,forensic_admin,pro_mediation,exam,resettlement,video_visit,counsel,lawyer_admin,grassroots,discipline
VILLAGE_DEPTS=consult,mediation,counsel

say() { echo "== start-topology: $*" >&2; }
die() {
    echo "start-topology: $*" >&2
    exit 1
}

# ---- options -----------------------------------------------------------------------------

CMD=${1:-}
(($#)) && shift
CSV=$ROOT/deploy/topology/dongguan.csv
TOWNS=all
DIR=$ROOT/var/topology
BUILD=$ROOT/build-release
BASE_PORT=7700
PG_CONN=
PG_DIR=
DB_PREFIX=pls_
VILLAGE_WORKERS=2
CONCURRENCY=4
CITY_CONCURRENCY=32
LOG_LEVEL=warn
CITY_B=0
WAIT_S=300
while (($#)); do
    case $1 in
    --csv) CSV=${2:?--csv FILE} && shift 2 ;;
    --towns) TOWNS=${2:?--towns SPEC} && shift 2 ;;
    --dir) DIR=${2:?--dir DIR} && shift 2 ;;
    --build) BUILD=${2:?--build DIR} && shift 2 ;;
    --base-port) BASE_PORT=${2:?--base-port P} && shift 2 ;;
    --pg-conn) PG_CONN=${2:?--pg-conn CONNINFO} && shift 2 ;;
    --pg-dir) PG_DIR=${2:?--pg-dir DIR} && shift 2 ;;
    --db-prefix) DB_PREFIX=${2:?--db-prefix P} && shift 2 ;;
    --village-workers) VILLAGE_WORKERS=${2:?--village-workers K} && shift 2 ;;
    --concurrency) CONCURRENCY=${2:?--concurrency N} && shift 2 ;;
    --city-concurrency) CITY_CONCURRENCY=${2:?--city-concurrency N} && shift 2 ;;
    --log-level) LOG_LEVEL=${2:?--log-level L} && shift 2 ;;
    --city-b-post) CITY_B=1 && shift ;;
    -h | --help)
        sed -n '3,47p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    [0-9]*) [[ $CMD == wait-idle ]] || die "unexpected argument '$1'"; WAIT_S=$1 && shift ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
BROKER_BIN=$BUILD/broker/pls-broker
WORKER_BIN=$BUILD/workers/pls-worker
CTL_BIN=$BUILD/cli/plsctl
RUNDIR=$DIR/run
LOGDIR=$DIR/log

# ---- processes ---------------------------------------------------------------------------

# True if the pid file $1 names a running PLS process.
pid_running() {
    local pid cmd
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmd == *pls-* ]]
}

# spawn NAME CMD...: runs CMD detached (own session), log LOGDIR/NAME.log, pid RUNDIR/NAME.pid.
spawn() {
    local name=$1
    shift
    pid_running "$RUNDIR/$name.pid" && die "$name is already running"
    echo "=== $(date '+%F %T') start: $*" >>"$LOGDIR/$name.log"
    setsid "$@" </dev/null >>"$LOGDIR/$name.log" 2>&1 &
    echo $! >"$RUNDIR/$name.pid"
}

# Stops what RUNDIR names: workers first, then brokers; TERM, then KILL after 10 s.
stop_processes() {
    local f pid pids kind deadline
    for kind in worker broker; do
        pids=()
        for f in "$RUNDIR"/"$kind"-*.pid; do
            [[ -e $f ]] || continue
            if pid_running "$f"; then
                pid=$(cat "$f")
                kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
            fi
            rm -f "$f"
        done
        ((${#pids[@]})) && say "stopping ${#pids[@]} ${kind}s"
        deadline=$((SECONDS + 10))
        for pid in "${pids[@]}"; do
            while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
            if kill -0 "$pid" 2>/dev/null; then
                kill -KILL "$pid" 2>/dev/null || true
                say "killed pid $pid (did not stop within 10 s)"
            fi
        done
    done
    return 0
}

ctl() {
    "$CTL_BIN" --timeout 2 --operator start-topology "$@"
}

# ---- topology ----------------------------------------------------------------------------

# node_short dg.humen -> humen; dg -> dg
node_short() {
    local n=$1
    [[ $n == *.* ]] && n=${n#*.}
    echo "${n//./-}"
}

db_of() {
    local n=${1//./_}
    echo "$DB_PREFIX$n"
}

# Reads the CSV: CITY, ALL_TOWNS (file order), VILLAGES_OF[town] (space-separated).
declare -A VILLAGES_OF=() PORT_OF=()
ALL_TOWNS=()
CITY=
read_csv() {
    [[ -r $CSV ]] || die "cannot read the topology $CSV (make it with deploy/gen-topology.sh)"
    local id rest kind dots depth i=0 a b
    while IFS=, read -r id rest; do
        [[ -z $id || $id == \#* || $id == id ]] && continue
        kind=${rest##*,}
        kind=${kind%$'\r'}
        dots=${id//[^.]/}
        depth=$((${#dots} + 1))
        if ((depth == 1)); then
            [[ -z $CITY ]] || die "$CSV: two cities ($CITY and $id)"
            CITY=$id
        elif ((depth == 2)) && [[ $kind != village ]]; then
            ALL_TOWNS+=("$id")
            i=$((i + 1))
            PORT_OF[$id]=$((BASE_PORT + i))
        elif ((depth >= 3)); then
            IFS=. read -r a b _ <<<"$id"
            VILLAGES_OF[$a.$b]+="$id "
        fi
    done <"$CSV"
    [[ -n $CITY ]] || die "$CSV: no city (a row with an id like dg)"
    PORT_OF[$CITY]=$BASE_PORT
}

# Picks TOWNS from --towns.
TOWNS_RUN=()
pick_towns() {
    local t
    if [[ $TOWNS == all ]]; then
        TOWNS_RUN=("${ALL_TOWNS[@]}")
    elif [[ $TOWNS =~ ^[0-9]+$ ]]; then
        ((TOWNS <= ${#ALL_TOWNS[@]})) || die "--towns $TOWNS: $CSV has ${#ALL_TOWNS[@]} towns"
        TOWNS_RUN=("${ALL_TOWNS[@]:0:TOWNS}")
    else
        local IFS=,
        for t in $TOWNS; do
            [[ $t == "$CITY".* ]] || t=$CITY.$t
            [[ -n ${PORT_OF[$t]:-} ]] || die "--towns: $t is not a town of $CSV"
            TOWNS_RUN+=("$t")
        done
    fi
}

write_topology() {
    local t v
    {
        echo "id,name_zh,name_en,kind"
        grep -E "^$CITY," "$CSV"
        for t in "${TOWNS_RUN[@]}"; do
            grep -E "^${t//./\\.}(\.[^,]*)?," "$CSV"
        done
    } >"$DIR/topology.csv.tmp"
    mv "$DIR/topology.csv.tmp" "$DIR/topology.csv"
}

# ---- PostgreSQL --------------------------------------------------------------------------

pg_dir_default() {
    local d=$DIR/pg
    if ((EUID == 0)); then
        chmod 0755 "$DIR"
        if ! runuser -u postgres -- test -x "$DIR" 2>/dev/null || ((${#d} > 80)); then
            d=/var/tmp/pls-topology/$(echo -n "$DIR" | md5sum | cut -c1-12)/pg
            mkdir -p "$d"
            chmod 0755 /var/tmp/pls-topology "$(dirname "$d")"
        fi
    fi
    mkdir -p "$d"
    echo "$d"
}

start_pg() {
    PG_OWNED=0
    if [[ -n $PG_CONN ]]; then
        return
    fi
    [[ -n $PG_DIR ]] || PG_DIR=$(pg_dir_default)
    mkdir -p "$PG_DIR"
    PG_DIR=$(cd "$PG_DIR" && pwd -P)
    say "PostgreSQL in $PG_DIR"
    bash "$PG_SH" start "$PG_DIR" >/dev/null
    PG_CONN="host=$PG_DIR port=$(cat "$PG_DIR/port") user=postgres"
    PG_OWNED=1
}

psql_pg() {
    local psql=/usr/lib/postgresql/15/bin/psql
    [[ -x $psql ]] || psql=psql
    "$psql" -X -v ON_ERROR_STOP=1 -Atq -d "$PG_CONN dbname=${1}" "${@:2}"
}

create_db() {
    local name=$1
    [[ $name =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "bad database name '$name'"
    if [[ -z $(psql_pg postgres -c "SELECT 1 FROM pg_database WHERE datname = '$name'") ]]; then
        psql_pg postgres -c "CREATE DATABASE $name"
    fi
}

# ---- start -------------------------------------------------------------------------------

# wait_ready NAME NODE EP: until plsctl status answers (the broker has loaded its state).
wait_ready() {
    local name=$1 node=$2 ep=$3 deadline=$((SECONDS + 60))
    until ctl --broker "$ep" status >/dev/null 2>&1; do
        if ! pid_running "$RUNDIR/$name.pid"; then
            tail -n 20 "$LOGDIR/$name.log" >&2
            die "broker $name ($node) exited while starting (log: $LOGDIR/$name.log)"
        fi
        ((SECONDS < deadline)) || die "broker $name ($node) not answering on $ep after 60 s"
        sleep 0.3
    done
}

start_broker() { # start_broker NODE [--parent EP]
    local node=$1 name port ep
    shift
    name=broker-$(node_short "$node")
    port=${PORT_OF[$node]}
    ep=tcp://127.0.0.1:$port
    [[ -z $(ss -Htln "( sport = :$port )") ]] ||
        die "port $port (for $node) is taken (ss -ltnp 'sport = :$port' shows by whom)"
    create_db "$(db_of "$node")"
    spawn "$name" "$BROKER_BIN" --node "$node" --listen "$ep" \
        --db "$PG_CONN dbname=$(db_of "$node")" --topology "$DIR/topology.csv" --insecure \
        --log-level "$LOG_LEVEL" "$@"
    printf '%s\t%s\t%s\t%s\t%s\n' "$node" "$ep" "$PG_CONN dbname=$(db_of "$node")" \
        "$(cat "$RUNDIR/$name.pid")" "$LOGDIR/$name.log" >>"$DIR/nodes.tsv"
}

start_worker() { # start_worker NAME SCOPE EP DEPTS [ARGS...]
    local name=$1 scope=$2 ep=$3 depts=$4
    shift 4
    spawn "$name" "$WORKER_BIN" --broker "$ep" --node "$scope" --dept "$depts" --builtin noop \
        --concurrency "$CONCURRENCY" --log-level "$LOG_LEVEL" --name "$name" "$@"
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$scope" "$ep" "$(cat "$RUNDIR/$name.pid")" \
        "$LOGDIR/$name.log" >>"$DIR/workers.tsv"
}

# wait_workers EP N: until the broker at EP lists N live workers (120 s; then the workers of
# EP that are not listed are named, with the end of their logs).
wait_workers() {
    local ep=$1 n=$2 deadline=$((SECONDS + 120)) got=0 listed name scope wep pid log
    while :; do
        listed=$(ctl --broker "$ep" --json status 2>/dev/null |
            jq -r '.workers[] | select(.alive) | .name' 2>/dev/null || true)
        got=$(grep -c . <<<"$listed" || true)
        ((got >= n)) && return 0
        if ((SECONDS >= deadline)); then
            while IFS=$'\t' read -r name scope wep pid log; do
                [[ $wep == "$ep" ]] || continue
                grep -qxF "$name" <<<"$listed" && continue
                say "worker $name ($scope, pid $pid$(kill -0 "$pid" 2>/dev/null || echo ", exited")) is not listed by $ep; its log ends:"
                tail -n 5 "$log" >&2
            done <"$DIR/workers.tsv"
            die "the broker at $ep lists $got of $n workers after 120 s"
        fi
        sleep 0.5
    done
}

cmd_start() {
    local b
    for b in "$BROKER_BIN" "$WORKER_BIN" "$CTL_BIN"; do
        [[ -x $b ]] || die "$b is not built (cmake -B $BUILD && make -C $BUILD)"
    done
    command -v jq >/dev/null || die "jq not found: run deploy/install-deps.sh"
    mkdir -p "$RUNDIR" "$LOGDIR"
    local f
    for f in "$RUNDIR"/*.pid; do
        [[ -e $f ]] || continue
        pid_running "$f" && die "$(basename "$f" .pid) of $DIR is still running: stop it first"
        rm -f "$f"
    done
    read_csv
    pick_towns
    write_topology
    start_pg
    : >"$DIR/nodes.tsv"
    : >"$DIR/workers.tsv"
    local city_ep=tcp://127.0.0.1:${PORT_OF[$CITY]}
    cat >"$DIR/topology.env" <<EOF
# Written by deploy/start-topology.sh start; read by stop, status and the tests.
TOPO_CITY=$(printf '%q' "$CITY")
TOPO_CITY_EP=$(printf '%q' "$city_ep")
TOPO_CSV=$(printf '%q' "$DIR/topology.csv")
TOPO_PG_CONN=$(printf '%q' "$PG_CONN")
TOPO_PG_DIR=$(printf '%q' "$([[ $PG_OWNED == 1 ]] && echo "$PG_DIR")")
TOPO_DB_PREFIX=$(printf '%q' "$DB_PREFIX")
TOPO_BUILD=$(printf '%q' "$BUILD")
TOPO_TOWNS=$(printf '%q' "${TOWNS_RUN[*]}")
EOF

    say "city $CITY on $city_ep, ${#TOWNS_RUN[@]} towns; logs in $LOGDIR"
    start_broker "$CITY"
    wait_ready "broker-$CITY" "$CITY" "$city_ep"
    local t
    for t in "${TOWNS_RUN[@]}"; do
        start_broker "$t" --parent "$city_ep"
    done
    for t in "${TOWNS_RUN[@]}"; do
        wait_ready "broker-$(node_short "$t")" "$t" "tcp://127.0.0.1:${PORT_OF[$t]}"
    done
    say "${#TOWNS_RUN[@]} town brokers ready"

    # Workers: every department at every broker's own node; consult, mediation and counsel at
    # the first VILLAGE_WORKERS villages of each town.
    local n_city=1 v k ep nw=0
    start_worker "worker-$CITY" "$CITY" "$city_ep" "$ALL_DEPTS" --concurrency "$CITY_CONCURRENCY"
    if ((CITY_B)); then
        start_worker "worker-$CITY-b" "$CITY" "$city_ep" "$ALL_DEPTS" --role B \
            --concurrency "$CITY_CONCURRENCY"
        n_city=2
    fi
    declare -A expect=()
    for t in "${TOWNS_RUN[@]}"; do
        ep=tcp://127.0.0.1:${PORT_OF[$t]}
        start_worker "worker-$(node_short "$t")" "$t" "$ep" "$ALL_DEPTS"
        expect[$t]=1
        k=0
        for v in ${VILLAGES_OF[$t]:-}; do
            ((k < VILLAGE_WORKERS)) || break
            start_worker "worker-$(node_short "$v")" "$v" "$ep" "$VILLAGE_DEPTS"
            k=$((k + 1))
            expect[$t]=$((expect[$t] + 1))
        done
    done
    nw=$((n_city))
    wait_workers "$city_ep" "$n_city"
    for t in "${TOWNS_RUN[@]}"; do
        wait_workers "tcp://127.0.0.1:${PORT_OF[$t]}" "${expect[$t]}"
        nw=$((nw + expect[$t]))
    done
    say "$((${#TOWNS_RUN[@]} + 1)) brokers and $nw workers running (state: $DIR)"
}

load_env() {
    [[ -r $DIR/topology.env ]] || die "no topology was started in $DIR (no topology.env)"
    # shellcheck disable=SC1091
    source "$DIR/topology.env"
    CTL_BIN=$TOPO_BUILD/cli/plsctl
}

cmd_stop() {
    stop_processes
    if [[ -r $DIR/topology.env ]]; then
        load_env
        if [[ -n $TOPO_PG_DIR ]]; then
            bash "$PG_SH" stop "$TOPO_PG_DIR" 2>/dev/null || true
            say "PostgreSQL stopped"
        fi
    fi
}

cmd_status() {
    load_env
    local f up=0 down=0
    for f in "$RUNDIR"/*.pid; do
        [[ -e $f ]] || continue
        if pid_running "$f"; then
            up=$((up + 1))
        else
            down=$((down + 1))
            echo "$(basename "$f" .pid): not running (log: $LOGDIR/$(basename "$f" .pid).log)"
        fi
    done
    echo "processes: $up running, $down not running"
    ctl --broker "$TOPO_CITY_EP" status
}

# Open orders and unsent link messages of every broker: 0 when the network is idle.
busy_count() {
    local node ep rest total=0 n
    while IFS=$'\t' read -r node ep rest; do
        n=$(ctl --broker "$ep" --json status 2>/dev/null |
            jq '.broker.open_orders + ([.links[].outbox] | add // 0)' 2>/dev/null) || n=1
        [[ $n =~ ^[0-9]+$ ]] || n=1
        total=$((total + n))
    done <"$DIR/nodes.tsv"
    echo "$total"
}

cmd_wait_idle() {
    load_env
    local deadline=$((SECONDS + WAIT_S)) n
    while :; do
        n=$(busy_count)
        ((n == 0)) && return 0
        if ((SECONDS >= deadline)); then
            say "still $n open orders or unsent link messages after $WAIT_S s"
            return 1
        fi
        sleep 1
    done
}

case $CMD in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
wait-idle) cmd_wait_idle ;;
-h | --help | help) sed -n '3,47p' "$0" | sed 's/^# \{0,1\}//' ;;
*) die "usage: start-topology.sh start|stop|status|wait-idle [options] (see --help)" ;;
esac
