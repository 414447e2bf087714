#!/usr/bin/env bash
# run-demo.sh — build PLS Dispatch and run a small network of command centers on this machine.
#
# Usage: bash deploy/run-demo.sh [start] [--full | --towns SPEC] | stop | status | reset
#
#   start (default)  install dependencies, build (Release, in build-release/), start a
#                    PostgreSQL 15 of our own and, with deploy/start-topology.sh, the city
#                    broker "dg" on tcp://127.0.0.1:7700 and three town brokers (dg.humen on
#                    :7724, dg.changan on :7723, dg.dongcheng on :7703; --parent the city),
#                    each on its own database, with noop workers for every department (an A
#                    post and a B post at the city, one at each town, consult/mediation/counsel
#                    at two villages of each town); submit about 20 demonstration orders at the
#                    towns, their village desks and the city's hotline, wait for them, show the
#                    city's status with the whole tree and one order at its origin and at the
#                    city, and print what to try next.
#                    Re-running it stops the old brokers and workers first; the databases (and
#                    the orders in them) are kept.
#     --full         the Dongguan-sized network instead: the city and all 32 towns of
#                    deploy/topology/dongguan.csv (590 village scopes), ports 7700-7732
#     --towns SPEC   other towns: a number N (the first N of the CSV) or humen,changan,...
#   stop             stop the workers, the brokers and PostgreSQL
#   status           which processes run, and plsctl status at the city
#   reset            stop everything and delete the demo's databases and logs
#
# Files: var/log/*.log (one per process), var/run/*.pid, var/topology.csv and var/nodes.tsv
# (the network, see deploy/start-topology.sh), var/pg (the PostgreSQL directory: data, socket
# and port file). PostgreSQL runs as the "postgres" user when we are root, and that user cannot
# enter a clone under /root: then var/pg is a symlink to /var/tmp/pls-demo/pg. The databases
# are pls_dg, pls_dg_humen, ...; authentication is "trust" on the socket and on 127.0.0.1 — a
# demo on a single-user machine, not a deployment.
#
# Environment: PLS_DEMO_PORT (the city's port, default 7700; town i of the CSV gets PORT+i),
# PLS_DEMO_PGPORT (PostgreSQL port on first start, default 25432, never 5432), PLS_DEMO_WAIT
# (seconds to wait at least before the status is shown, default 3; the script also waits until
# the network is idle, at most 60 s), PLS_JOBS (parallel build jobs, default 2).
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
TOPO_SH=$ROOT/deploy/start-topology.sh
DEMO_TOWNS=humen,changan,dongcheng
FULL=0

say() { echo "== run-demo: $*" >&2; }
die() {
    echo "run-demo: $*" >&2
    exit 1
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

# ---- processes ---------------------------------------------------------------------------

# True if the pid file $1 names a running PLS process.
pid_running() {
    local pid cmd
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmd == *pls-* ]]
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

# The network: deploy/start-topology.sh starts the city, the towns and the workers, with
# var/ as its directory (var/run/*.pid, var/log/*.log, var/nodes.tsv, var/topology.csv).
start_network() {
    local towns=$DEMO_TOWNS conc=8
    if ((FULL)); then
        towns=all
        conc=4
    fi
    bash "$TOPO_SH" start --dir "$VAR" --build "$BUILD" --towns "$towns" --base-port "$PORT" \
        --pg-conn "host=$PGDIR port=$(cat "$PGDIR/port") user=postgres" --db-prefix pls_ \
        --city-b-post --concurrency "$conc" --village-workers 2 --log-level warn
    check_workers || say "some workers did not start (see above)"
}

# The broker endpoint that takes orders from desk NODE: its town's broker when the town runs
# one, else the city's.
endpoint_for() {
    local town
    town=$(cut -d. -f1-2 <<<"$1")
    awk -F'\t' -v t="$town" -v c="$CITY_EP" '$1 == t {e = $2} END {print e ? e : c}' \
        "$VAR/nodes.tsv"
}

# ---- demonstration orders ----------------------------------------------------------------

ctl() {
    "$CTL_BIN" --broker "$CITY_EP" --operator "${PLS_OPERATOR:-demo-desk}" "$@"
}

# ctl_at ENDPOINT ARGS...: plsctl at another broker.
ctl_at() {
    local ep=$1
    shift
    "$CTL_BIN" --broker "$ep" --operator "${PLS_OPERATOR:-demo-desk}" "$@"
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
declare -A ORIGIN_EP=() # order id -> the endpoint of the broker that took it in
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
    local out err ep
    ep=$(endpoint_for "$origin")
    err=$(mktemp)
    if out=$(ctl_at "$ep" submit "${args[@]}" "$@" 2>"$err"); then
        N_OK=$((N_OK + 1))
        IDS+=("$out")
        ORIGIN_EP[$out]=$ep
        printf '  %-16s %-20s %-18s %s\n' "$service" "$origin" "${locality/#-/$origin}" "$out" >&2
    else
        N_FAIL=$((N_FAIL + 1))
        printf '  %-16s %-20s FAILED: %s\n' "$service" "$origin" "$(tr '\n' ' ' <"$err")" >&2
    fi
    rm -f "$err"
}

# Orders at the towns' desks, at village desks (workstations attached to their town's broker)
# and at the city (hotline, web), over every service: legal aid crosses from a town to the
# city, a prison video goes to the chosen site's town, hotline orders with a village
# locality go down to the village's town.
submit_orders() {
    say "submitting demonstration orders (service, intake desk, locality, order id)"
    submit 1 consult dg dg.humen.v01 "劳动合同到期不续签, 能否要求经济补偿? (labour contract not renewed)" --channel hotline
    submit 2 consult dg.humen - "租房押金被房东扣留 (landlord keeps the deposit)"
    submit 3 consult dg.humen.v01 - "宅基地边界问题咨询 (homestead boundary)"
    submit 4 legal_aid dg.humen - "农民工追讨欠薪, 申请法律援助 (unpaid wages)" \
        --applicant-category migrant_worker --category wage_arrears --priority urgent
    submit 5 legal_aid dg - "被羁押人员家属申请法律援助 (detained applicant)" --detained --priority urgent
    submit 6 mediation dg.humen - "邻里噪音纠纷 (neighbours' noise dispute)" --counterparty "楼上住户"
    submit 7 mediation dg dg.changan.v02 "物业费纠纷 (property fee dispute)" --channel hotline
    submit 8 lawyer dg.changan - "需要律师代写起诉状 (a statement of claim)"
    submit 9 notary dg.dongcheng - "办理继承公证需要哪些材料 (inheritance notarisation)"
    submit 10 forensic dg.humen - "交通事故伤残等级鉴定 (disability appraisal)"
    submit 11 pro_mediation dg - "医疗纠纷, 申请医调委调解 (medical dispute)"
    submit 12 exam dg - "法律职业资格考试报名条件 (exam eligibility)" --channel web
    submit 13 resettlement dg.changan - "刑满释放人员就业帮扶 (help finding work)" --confidential
    submit 14 prison_video dg.changan - "预约与服刑亲属视频会见 (video visit)" --site dg.humen
    submit 15 village_counsel dg.humen.v02 - "村集体土地租赁合同审查 (lease review)"
    submit 16 complaint dg - "律师收费后未出庭 (lawyer did not appear)" --subject lawyer
    submit 17 consult dg dg.dongcheng.v05 "工伤认定流程 (work injury)" --channel hotline --priority urgent
    submit 18 mediation dg.humen - "工厂与多名工人工资纠纷 (group wage dispute)" \
        --group-risk --priority urgent
    submit 19 lawyer dg - "离婚诉讼律师服务 (divorce case)" --applicant-category women
    # A provincial-platform order number as the idempotency key: a second run on the same day
    # gets the same order back (a duplicate), as the platform resending it would.
    submit 20 consult dg.humen - "老年人赡养问题 (support of an elderly parent)" \
        --applicant-category elderly --channel platform --key "demo-platform-$(date +%Y%m%d)-20"
    submit 21 mediation dg.dongcheng.v01 - "土地承包经营权纠纷 (land contract dispute)"
    submit 22 legal_aid dg.changan.v01 - "工伤赔偿申请法律援助 (work injury compensation)" \
        --applicant-category migrant_worker
    if ((FULL)); then
        # A consult at every other town's desk, and a prison video without a chosen site.
        local t n=23
        for t in $(awk -F'\t' 'NR > 1 {print $1}' "$VAR/nodes.tsv"); do
            case $t in dg.humen | dg.changan | dg.dongcheng) continue ;; esac
            submit "$n" consult "$t" - "${t#dg.}: 劳动争议咨询 (labour dispute)"
            n=$((n + 1))
        done
        submit "$n" prison_video dg.qingxi - "预约远程视频会见 (video visit, nearest site)"
    fi
    say "submitted $N_OK orders, $N_FAIL refused"
    printf '%s\n' "${IDS[@]}" >"$VAR/demo-orders.txt"
}

# ---- commands ----------------------------------------------------------------------------

next_steps() {
    local conn towns
    conn=$(bash "$PG_SH" conninfo "$PGDIR" "$DB")
    towns=$(awk -F'\t' 'NR > 1 {printf "%s%s (%s)", (n++ ? ", " : ""), $1, $2}' "$VAR/nodes.tsv")
    ((FULL)) && towns="$(($(wc -l <"$VAR/nodes.tsv") - 1)) towns on ports $((PORT + 1))-$((PORT + 32))"
    cat <<EOF

PLS Dispatch demo is running.
  city:      dg (city command center) on $CITY_EP, database "$conn"
  towns:     $towns
             (each with --parent $CITY_EP and its own database pls_dg_<town>; see $VAR/nodes.tsv)
  workers:   worker-dg (A post) and worker-dg-b (B post) at dg, worker-<town> at each town,
             worker-<town>-v01/-v02 (consult, mediation, counsel) at two villages; all --builtin noop
  logs:      $LOGDIR/*.log        order ids: $VAR/demo-orders.txt

Try:
  export PLS_BROKER=$CITY_EP PATH=$BUILD/cli:\$PATH
  plsctl status                            # orders by state, departments, workers, links
  plsctl status --tree                     # every town's status, as the city sees it
  plsctl list --state completed            # find orders (also --service, --node, --date)
  plsctl show ${IDS[3]:-ID}
  plsctl --json show ${IDS[3]:-ID} | jq .events
  plsctl --broker $(endpoint_for dg.humen) show ${IDS[3]:-ID}   # the same order at dg.humen
  plsctl --broker $(endpoint_for dg.humen) submit --service legal_aid --origin dg.humen \\
      --desc "追讨欠薪" --name 张三 --phone 13800000000
  plsctl submit --service consult --origin dg --channel hotline --locality dg.changan.v01 \\
      --desc "a 12348 call about a village matter"
  plsctl post away consult dg              # route consult at dg to the B post
  plsctl post back consult dg
The databases behind it (pls_dg_humen, ... are on the same server):
  psql "$conn"
Staff custody (a person signs and reports): start a worker with --custody staff, e.g.
  $WORKER_BIN --broker $CITY_EP --node dg --dept exam --custody staff --builtin noop &
  plsctl accept ID --as 王五 ; plsctl complete ID --outcome answered --note "已电话答复"
Stop everything:  bash deploy/run-demo.sh stop      Start again: bash deploy/run-demo.sh$( ((FULL)) && echo " --full")
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
    bash "$TOPO_SH" wait-idle 60 --dir "$VAR" ||
        say "the network is not idle yet: some orders are still moving"
    say "plsctl status (the city)"
    ctl status || say "plsctl status failed"
    if ((FULL)); then
        say "plsctl --json status --tree, summarised (the city's view of every town)"
        ctl --json status --tree | jq -r '.nodes[] | [.node,
            (if .connected then "up" else "DOWN" end), "orders=\([.orders[]] | add // 0)",
            "workers=\(.workers | length)", "summary_age=\(.summary_age_s)s"] | join("  ")' ||
            say "plsctl status --tree failed"
        say "(all of it: plsctl --broker $CITY_EP status --tree)"
    else
        say "plsctl status --tree (the city's view of every town)"
        ctl status --tree | sed -n '/^== /,$p' || say "plsctl status --tree failed"
    fi
    if ((${#IDS[@]} >= 4)); then
        local id=${IDS[3]}
        say "plsctl show $id at its origin dg.humen (${ORIGIN_EP[$id]}): legal aid, reviewed at the town, decided and assigned at the city"
        ctl_at "${ORIGIN_EP[$id]}" show "$id" || say "plsctl show failed"
        say "plsctl show $id at the city: the same history"
        ctl show "$id" || say "plsctl show failed"
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

usage() { die "usage: run-demo.sh [start] [--full | --towns SPEC] | stop | status | reset"; }

CMD=start
case ${1:-} in
start | stop | status | reset)
    CMD=$1
    shift
    ;;
-h | --help)
    sed -n '3,36p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
while (($#)); do
    [[ $CMD == start ]] || usage
    case $1 in
    --full) FULL=1 && shift ;;
    --towns)
        [[ -n ${2:-} ]] || usage
        DEMO_TOWNS=$2
        shift 2
        ;;
    *) usage ;;
    esac
done

case $CMD in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
reset) cmd_reset ;;
esac
