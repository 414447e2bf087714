#!/usr/bin/env bash
# run-demo.sh — build PLS Dispatch and run a small command center on this machine.
#
# Usage: bash deploy/run-demo.sh [start|stop|status|reset]
#
#   start (default)  install dependencies, build (Release, in build-release/), start a
#                    PostgreSQL 15 of our own, the city broker "dg" on tcp://127.0.0.1:7700
#                    and noop workers for every department (A post and B post at the city,
#                    and the town dg.humen), submit about 20 demonstration orders, show the
#                    status and one order, and print what to try next.
#                    Re-running it stops the old broker and workers first; the database
#                    (and the orders in it) is kept.
#   stop             stop the workers, the broker and PostgreSQL
#   status           which processes run, and plsctl status
#   reset            stop everything and delete the demo's database and logs
#
# Files: var/log/*.log (one per process), var/run/*.pid, var/pg (the PostgreSQL directory:
# data, socket and port file). PostgreSQL runs as the "postgres" user when we are root, and
# that user cannot enter a clone under /root: then var/pg is a symlink to /var/tmp/pls-demo/pg.
# The database is pls_dg; authentication is "trust" on the socket and on 127.0.0.1 — a demo
# on a single-user machine, not a deployment.
#
# Environment: PLS_DEMO_PORT (broker port, default 7700), PLS_DEMO_PGPORT (PostgreSQL port on
# first start, default 25432, never 5432), PLS_DEMO_WAIT (seconds to let the workers handle the
# orders before the status is shown, default 3), PLS_JOBS (parallel build jobs, default 2).
#
# To extend (federation: town brokers with --parent), add start_broker / start_worker calls
# to start_network and, if they need databases, create_db calls; stop_all stops whatever
# var/run names.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VAR=$ROOT/var
LOGDIR=$VAR/log
RUNDIR=$VAR/run
BUILD=$ROOT/build-release
BROKER_BIN=$BUILD/broker/pls-broker
WORKER_BIN=$BUILD/workers/pls-worker
CTL_BIN=$BUILD/cli/plsctl
PG_SH=$ROOT/deploy/pg.sh
PORT=${PLS_DEMO_PORT:-7700}
CITY_EP=tcp://127.0.0.1:$PORT
DB=pls_dg

# Every department of the catalog (sql/002_catalog.sql).
ALL_DEPTS=(consult legal_aid mediation lawyer notary_guide notary_admin forensic_guide
    forensic_admin pro_mediation exam resettlement video_visit counsel lawyer_admin grassroots
    discipline)
# The departments a town command center has.
TOWN_DEPTS=(consult mediation legal_aid lawyer notary_guide forensic_guide resettlement
    video_visit)

say() { echo "== run-demo: $*" >&2; }
die() {
    echo "run-demo: $*" >&2
    exit 1
}
join_by() {
    local IFS=$1
    shift
    echo "$*"
}

# ---- PostgreSQL --------------------------------------------------------------------------

# Prints the PostgreSQL directory: var/pg, or (root, and user postgres cannot reach var/ or the
# socket path would be too long) /var/tmp/pls-demo/pg with var/pg a symlink to it.
pg_dir() {
    mkdir -p "$VAR"
    if [[ -L $VAR/pg ]]; then
        local target
        target=$(readlink -f "$VAR/pg")
        mkdir -p "$target"
        echo "$target"
        return
    fi
    local reachable=1
    if ((EUID == 0)); then
        chmod 0755 "$VAR"
        runuser -u postgres -- test -x "$VAR" 2>/dev/null || reachable=0
    fi
    if ((reachable && ${#VAR} < 80)); then
        mkdir -p "$VAR/pg"
        echo "$VAR/pg"
        return
    fi
    local alt=/var/tmp/pls-demo/pg
    mkdir -p "$alt"
    chmod 0755 /var/tmp/pls-demo
    [[ -d $VAR/pg ]] && { rmdir "$VAR/pg" 2>/dev/null || true; }
    [[ -e $VAR/pg ]] && die "$VAR/pg exists but user postgres cannot use it: remove it"
    ln -s "$alt" "$VAR/pg"
    say "user postgres cannot use $VAR: PostgreSQL lives in $alt (symlink var/pg)"
    echo "$alt"
}

start_pg() {
    PGDIR=$(pg_dir)
    local port=
    if [[ ! -f $PGDIR/port ]]; then
        port=${PLS_DEMO_PGPORT:-25432}
        [[ -z $(ss -Htln "( sport = :$port )") ]] || port=
    fi
    say "PostgreSQL in $PGDIR"
    bash "$PG_SH" start "$PGDIR" ${port:+"$port"} >/dev/null
}

# create_db NAME: creates the database if needed and prints its conninfo.
create_db() {
    bash "$PG_SH" createdb "$PGDIR" "$1"
    bash "$PG_SH" conninfo "$PGDIR" "$1"
}

# ---- processes ---------------------------------------------------------------------------

# True if the pid file $1 names a running PLS process.
pid_running() {
    local pid cmd
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmd == *pls-* ]]
}

# spawn NAME CMD...: runs CMD detached (own session), log var/log/NAME.log, pid var/run/NAME.pid.
spawn() {
    local name=$1
    shift
    mkdir -p "$LOGDIR" "$RUNDIR"
    pid_running "$RUNDIR/$name.pid" && die "$name is already running"
    echo "=== $(date '+%F %T') start: $*" >>"$LOGDIR/$name.log"
    setsid "$@" </dev/null >>"$LOGDIR/$name.log" 2>&1 &
    echo $! >"$RUNDIR/$name.pid"
}

# start_broker NAME NODE PORT [ARGS...]: starts a broker and waits until it listens.
start_broker() {
    local name=$1 node=$2 port=$3
    shift 3
    [[ -z $(ss -Htln "( sport = :$port )") ]] ||
        die "port $port is taken by another program (ss -ltnp 'sport = :$port' shows which)"
    local log=$LOGDIR/$name.log lines=0
    [[ -f $log ]] && lines=$(wc -l <"$log")
    spawn "$name" "$BROKER_BIN" --node "$node" --listen "tcp://127.0.0.1:$port" --insecure "$@"
    local deadline=$((SECONDS + 30))
    until [[ $(tail -n +$((lines + 1)) "$log") == *"listening on"* ]] ||
        (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if ! pid_running "$RUNDIR/$name.pid"; then
            tail -n 20 "$log" >&2
            die "broker $name exited while starting (log: $log)"
        fi
        ((SECONDS < deadline)) || die "broker $name not listening after 30 s (log: $log)"
        sleep 0.2
    done
    say "broker $name ($node) listening on tcp://127.0.0.1:$port"
}

# start_worker NAME ARGS...: starts a pls-worker.
start_worker() {
    local name=$1
    shift
    spawn "$name" "$WORKER_BIN" "$@"
}

# Stops what var/run names: workers first, then brokers; TERM, then KILL after 10 s.
stop_all() {
    local f pid pids=() kind
    for kind in worker broker; do
        pids=()
        for f in "$RUNDIR"/"$kind"-*.pid; do
            [[ -e $f ]] || continue
            if pid_running "$f"; then
                pid=$(cat "$f")
                kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
                say "stopping $(basename "$f" .pid) (pid $pid)"
            fi
            rm -f "$f"
        done
        local deadline=$((SECONDS + 10))
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

check_workers() {
    local f bad=0
    for f in "$RUNDIR"/worker-*.pid; do
        [[ -e $f ]] || continue
        if ! pid_running "$f"; then
            bad=1
            say "worker $(basename "$f" .pid) exited; its log says:"
            tail -n 5 "$LOGDIR/$(basename "$f" .pid).log" >&2
        fi
    done
    return "$bad"
}

# The network: the city broker and its workers. (Federation adds town brokers here.)
start_network() {
    local conn
    conn=$(create_db "$DB")
    start_broker broker-dg dg "$PORT" --db "$conn"
    local all town
    all=$(join_by , "${ALL_DEPTS[@]}")
    town=$(join_by , "${TOWN_DEPTS[@]}")
    start_worker worker-dg-a --broker "$CITY_EP" --node dg --dept "$all" --builtin noop --concurrency 8
    start_worker worker-dg-b --broker "$CITY_EP" --node dg --dept "$all" --role B --builtin noop \
        --concurrency 8
    start_worker worker-humen --broker "$CITY_EP" --node dg.humen --dept "$town" --builtin noop \
        --concurrency 8
    sleep 1
    check_workers || say "some workers did not start (see above)"
}

# ---- demonstration orders ----------------------------------------------------------------

ctl() {
    "$CTL_BIN" --broker "$CITY_EP" --operator "${PLS_OPERATOR:-demo-desk}" "$@"
}

# A made-up resident ID number with a valid check digit (GB 11643): region 441900 (Dongguan).
fake_id() {
    local body i sum=0 w=(7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) check=10X98765432
    body=$(printf '441900%04d%02d%02d%03d' $((1950 + $1 * 7 % 55)) $((1 + $1 % 12)) \
        $((1 + $1 * 3 % 28)) $((100 + $1)))
    for ((i = 0; i < 17; i++)); do
        sum=$((sum + ${body:i:1} * w[i]))
    done
    echo "$body${check:sum%11:1}"
}

N_OK=0
N_FAIL=0
IDS=()
# submit N SERVICE ORIGIN LOCALITY DESC [EXTRA ARGS...]: one order with made-up citizen data.
submit() {
    local n=$1 service=$2 origin=$3 locality=$4 desc=$5
    shift 5
    local names=(陈志强 李秀英 王建华 张丽娟 刘伟 黄美玲 周国平 吴晓燕 徐海涛 孙丽 马俊 朱红梅
        胡斌 郭芳 何军 林小燕 罗明 梁静 谢强 宋雪)
    local args=(--service "$service" --origin "$origin" --desc "$desc"
        --name "${names[n % ${#names[@]}]}" --phone "1380769$(printf '%04d' "$n")"
        --id-type resident_id --id-number "$(fake_id "$n")")
    [[ $locality == - ]] || args+=(--locality "$locality")
    local out err
    err=$(mktemp)
    if out=$(ctl submit "${args[@]}" "$@" 2>"$err"); then
        N_OK=$((N_OK + 1))
        IDS+=("$out")
        printf '  %-16s %-20s %s\n' "$service" "$origin" "$out" >&2
    else
        N_FAIL=$((N_FAIL + 1))
        printf '  %-16s %-20s FAILED: %s\n' "$service" "$origin" "$(tr '\n' ' ' <"$err")" >&2
    fi
    rm -f "$err"
}

submit_orders() {
    say "submitting demonstration orders (service, intake desk, order id)"
    submit 1 consult dg - "劳动合同到期不续签, 能否要求经济补偿? (labour contract not renewed)" --channel hotline
    submit 2 consult dg.humen dg.humen "租房押金被房东扣留 (landlord keeps the deposit)"
    submit 3 consult dg.humen.baisha dg.humen.baisha "宅基地边界问题咨询 (homestead boundary)"
    submit 4 legal_aid dg.humen dg.humen "农民工追讨欠薪, 申请法律援助 (unpaid wages)" \
        --applicant-category migrant_worker --category wage_arrears --priority urgent
    submit 5 legal_aid dg - "被羁押人员家属申请法律援助 (detained applicant)" --detained --priority urgent
    submit 6 mediation dg.humen dg.humen "邻里噪音纠纷 (neighbours' noise dispute)" --counterparty "楼上住户"
    submit 7 mediation dg - "物业费纠纷 (property fee dispute)"
    submit 8 lawyer dg.humen dg.humen "需要律师代写起诉状 (a statement of claim)"
    submit 9 notary dg.humen dg.humen "办理继承公证需要哪些材料 (inheritance notarisation)"
    submit 10 forensic dg.humen dg.humen "交通事故伤残等级鉴定 (disability appraisal)"
    submit 11 pro_mediation dg - "医疗纠纷, 申请医调委调解 (medical dispute)"
    submit 12 exam dg - "法律职业资格考试报名条件 (exam eligibility)" --channel web
    submit 13 resettlement dg.humen dg.humen "刑满释放人员就业帮扶 (help finding work)" --confidential
    submit 14 prison_video dg.humen dg.humen "预约与服刑亲属视频会见 (video visit)" --site dg.humen
    submit 15 village_counsel dg.humen.baisha dg.humen.baisha "村集体土地租赁合同审查 (lease review)"
    submit 16 complaint dg - "律师收费后未出庭 (lawyer did not appear)" --subject lawyer
    submit 17 consult dg - "工伤认定流程 (work injury)" --channel hotline --priority urgent
    submit 18 mediation dg.humen dg.humen "工厂与多名工人工资纠纷 (group wage dispute)" \
        --group-risk --priority urgent
    submit 19 lawyer dg - "离婚诉讼律师服务 (divorce case)" --applicant-category women
    submit 20 consult dg.humen dg.humen "老年人赡养问题 (support of an elderly parent)" \
        --applicant-category elderly --channel platform --key "demo-platform-$(date +%Y%m%d)-20"
    say "submitted $N_OK orders, $N_FAIL refused"
    printf '%s\n' "${IDS[@]}" >"$VAR/demo-orders.txt"
}

# ---- commands ----------------------------------------------------------------------------

next_steps() {
    local conn
    conn=$(bash "$PG_SH" conninfo "$PGDIR" "$DB")
    cat <<EOF

PLS Dispatch demo is running.
  broker:    dg (city command center) on $CITY_EP, database "$conn"
  workers:   worker-dg-a, worker-dg-b (B post) at dg; worker-humen at dg.humen — all --builtin noop
  logs:      $LOGDIR/*.log        order ids: $VAR/demo-orders.txt

Try:
  export PLS_BROKER=$CITY_EP PATH=$BUILD/cli:\$PATH
  plsctl status                            # orders by state, departments, workers
  plsctl list --state completed            # find orders (also --service, --node, --date)
  plsctl show ${IDS[0]:-ID}
  plsctl --json show ${IDS[0]:-ID} | jq .events
  plsctl submit --service consult --origin dg.humen --desc "a question" --name 张三 --phone 13800000000
  plsctl post away consult dg              # route consult at dg to the B post
  plsctl post back consult dg
The database behind it:
  psql "$conn"
Staff custody (a person signs and reports): start a worker with --custody staff, e.g.
  $WORKER_BIN --broker $CITY_EP --node dg --dept exam --custody staff --builtin noop &
  plsctl accept ID --as 王五 ; plsctl complete ID --outcome answered --note "已电话答复"
Stop everything:  bash deploy/run-demo.sh stop      Start again: bash deploy/run-demo.sh
EOF
}

cmd_start() {
    bash "$ROOT/deploy/install-deps.sh"
    say "build (Release) in build-release/"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    # Only the three programs: the demo does not need the tests.
    cmake --build "$BUILD" -j "${PLS_JOBS:-2}" --target pls-broker pls-worker plsctl
    local b
    for b in "$BROKER_BIN" "$WORKER_BIN" "$CTL_BIN"; do
        [[ -x $b ]] || die "$b was not built"
    done

    stop_all
    start_pg
    start_network
    submit_orders
    sleep "${PLS_DEMO_WAIT:-3}"
    say "plsctl status"
    ctl status || say "plsctl status failed"
    if ((${#IDS[@]} >= 4)); then
        say "plsctl show ${IDS[3]} (a legal aid order: town review, then city decision)"
        ctl show "${IDS[3]}" || say "plsctl show failed"
    fi
    next_steps
}

cmd_stop() {
    stop_all
    if [[ -e $VAR/pg ]]; then
        bash "$PG_SH" stop "$(readlink -f "$VAR/pg")" 2>/dev/null || true
    fi
    say "stopped"
}

cmd_status() {
    local f
    for f in "$RUNDIR"/*.pid; do
        [[ -e $f ]] || continue
        if pid_running "$f"; then
            echo "$(basename "$f" .pid): running (pid $(cat "$f"))"
        else
            echo "$(basename "$f" .pid): not running"
        fi
    done
    if [[ -e $VAR/pg ]]; then
        echo "postgresql: $(bash "$PG_SH" status "$(readlink -f "$VAR/pg")" || true)"
    fi
    if [[ -x $CTL_BIN ]] && pid_running "$RUNDIR/broker-dg.pid"; then
        ctl status
    fi
}

cmd_reset() {
    cmd_stop
    if [[ -e $VAR/pg ]]; then
        rm -rf "$(readlink -f "$VAR/pg")"
    fi
    rm -rf "$VAR"
    say "demo data removed"
}

case ${1:-start} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
reset) cmd_reset ;;
-h | --help) sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//' ;;
*) die "usage: run-demo.sh [start|stop|status|reset]" ;;
esac
