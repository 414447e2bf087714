#!/usr/bin/env bash
# shellcheck disable=SC2154 # BROKER_<name> variables are set by pls_start_broker
# test_harness_pg.sh — tests the integration-test harness (tests/lib/harness.sh) and the
# private PostgreSQL of deploy/pg.sh, without any PLS binary:
#   - the test database is durable as configured: fsync and synchronous_commit are on;
#   - a committed row survives a crash of PostgreSQL (pg.sh stop -m immediate) and restart;
#   - ports, waiting, assertions, process start/kill/exit status;
#   - pls_start_broker with a fixed port and with tcp://127.0.0.1:* (a stand-in broker);
#   - a failing test ends every process it started, children included, prints their logs;
#   - a sanitizer report in a process log fails a test whose script passed;
#   - a test killed with SIGKILL still has its private PostgreSQL removed (pg.sh watch).
# With the suite's PostgreSQL (PLS_TEST_PGHOST set) the crash part runs in a second run of
# this script with a private server (PLS_HARNESS_PRIVATE=1).
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_harness_pg.sh
# shellcheck source=../lib/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"

check_durable_db() {
    assert_eq "$(pls_sql 'SHOW fsync')" on "fsync"
    assert_eq "$(pls_sql 'SHOW synchronous_commit')" on "synchronous_commit"
    assert_eq "$(pls_sql 'SHOW full_page_writes')" on "full_page_writes"
    pls_sql "CREATE TABLE harness_check (id int PRIMARY KEY, note text NOT NULL)"
    pls_sql "INSERT INTO harness_check VALUES (1, '首问负责')"
    assert_eq "$(pls_sql 'SELECT note FROM harness_check WHERE id = 1')" "首问负责" "row read back"
}

# ---- private PostgreSQL: crash and restart ------------------------------------------------
if [[ ${PLS_HARNESS_PRIVATE:-0} == 1 || -z ${PLS_TEST_PGHOST:-} ]]; then
    pls_setup --private-pg
    check_durable_db
    port=$(cat "$PLS_PG_DIR/port")
    [[ $port != 5432 ]] || fail "private PostgreSQL on port 5432"
    assert_contains "$PLS_DB" "host=$PLS_PG_DIR port=$port dbname=$PLS_DBNAME"
    assert_eq "$(pls_sql 'SHOW listen_addresses')" 127.0.0.1 "listen_addresses"
    # TCP on 127.0.0.1 works as well as the socket.
    assert_eq "$(pls_sql_db "host=127.0.0.1 port=$port dbname=$PLS_DBNAME user=postgres" \
        'SELECT count(*) FROM harness_check')" 1 "row over TCP"

    pls_sql "INSERT INTO harness_check VALUES (2, 'committed before the crash')"
    pls_pg_stop -m immediate
    if pls_sql 'SELECT 1' 2>/dev/null; then
        fail "PostgreSQL still answers after stop -m immediate"
    fi
    pls_pg_start
    assert_eq "$(pls_sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM harness_check")" "1,2" \
        "rows after crash and restart"
    grep -q 'database system was interrupted' "$PLS_PG_DIR/data/postgresql.log" ||
        fail "PostgreSQL's log shows no crash recovery"
    [[ ${PLS_HARNESS_PRIVATE:-0} == 1 ]] && exit 0
else
    pls_setup
    check_durable_db
    [[ -z $PLS_PG_DIR ]] || fail "a private PostgreSQL was started although PLS_TEST_PGHOST is set"
    pls_note "crash and restart with a private PostgreSQL (nested run)"
    out=$(PLS_HARNESS_PRIVATE=1 bash "${BASH_SOURCE[0]}" 2>&1) || {
        echo "$out" >&2
        fail "nested run with a private PostgreSQL failed"
    }
    assert_contains "$out" "PASS: test_harness_pg"
    private_dir=$(grep -o 'private PostgreSQL /tmp/pls-pg\.[A-Za-z0-9]*' <<<"$out" | awk '{print $3}')
    [[ -n $private_dir ]] || fail "nested run did not report its private PostgreSQL"
    [[ ! -e $private_dir ]] || fail "private PostgreSQL dir $private_dir left behind"
fi

# ---- ports, waiting, assertions ------------------------------------------------------------
p1=$(pls_free_port)
p2=$(pls_free_port)
[[ $p1 =~ ^[0-9]+$ && $p2 =~ ^[0-9]+$ ]] || fail "free ports not numbers: $p1 $p2"
assert_ne "$p1" "$p2" "two free ports"
((p1 >= 20000 && p1 < 32768)) || fail "port $p1 outside 20000-32767"
[[ -z $(ss -Htln "( sport = :$p1 )") ]] || fail "port $p1 is in use"

pls_wait_for 5 true || fail "pls_wait_for true"
start=$SECONDS
if pls_wait_for 1 false 2>/dev/null; then fail "pls_wait_for false succeeded"; fi
((SECONDS - start <= 3)) || fail "pls_wait_for 1 took $((SECONDS - start))s"

rc=0
(assert_eq a b "expected failure") 2>"$T/assert.err" || rc=$?
assert_eq "$rc" 1 "assert_eq exit status"
assert_contains "$(cat "$T/assert.err")" "expected failure: expected 'b', got 'a'"
rc=0
(skip "not here") 2>/dev/null || rc=$?
assert_eq "$rc" 77 "skip exit status"
assert_contains "abc" "b"
assert_not_contains "abc" "d"

# ---- processes -----------------------------------------------------------------------------
pls_start sleeper sleep 300
pls_alive sleeper || fail "sleeper not alive"
pls_kill sleeper
assert_eq "$PLS_EXIT_STATUS" 143 "status of a process ended by TERM"
pls_alive sleeper && fail "sleeper alive after pls_kill"

pls_start quitter bash -c 'echo bye; exit 3'
pls_wait_exit quitter 10 || fail "quitter did not exit"
assert_eq "$PLS_EXIT_STATUS" 3 "exit status of quitter"
assert_contains "$(cat "$(pls_logfile quitter)")" "bye"

pls_start stopper sleep 300
pls_kill stopper STOP
pls_alive stopper || fail "a stopped process counts as alive"
pls_kill stopper CONT
pls_kill stopper KILL
assert_eq "$PLS_EXIT_STATUS" 137 "status of a process ended by KILL"

# A stand-in broker: logs what pls-broker logs, keeps a child process, ignores nothing.
fake=$T/fakebuild
mkdir -p "$fake/broker" "$fake/workers" "$fake/cli"
cat >"$fake/broker/pls-broker" <<'EOF'
#!/usr/bin/env bash
while (($#)); do
    case $1 in
    --node) node=$2; shift ;;
    --listen) ep=$2; shift ;;
    esac
    shift
done
[[ $ep == *:\* ]] && ep=${ep%:\*}:41234
sleep 0.3
echo "pls-broker[$node] info: listening on $ep" >&2
echo "args ok" >&2
echo "pls-broker[$node] info: ready: 0 open orders" >&2
sleep 300 &
echo "child $!" >&2
wait
EOF
cat >"$fake/workers/pls-worker" <<'EOF'
#!/usr/bin/env bash
echo "worker args: $*" >&2
exec sleep 300
EOF
cat >"$fake/cli/plsctl" <<'EOF'
#!/usr/bin/env bash
echo "$*"
EOF
chmod +x "$fake/broker/pls-broker" "$fake/workers/pls-worker" "$fake/cli/plsctl"
real_build=$PLS_BUILD_DIR
PLS_BUILD_DIR=$fake

pls_start_broker dg dg --lease-ms 500
assert_eq "$BROKER_dg" "$(pls_endpoint dg)"
assert_eq "$PLS_BROKER" "$BROKER_dg" "first broker is PLS_BROKER"
[[ $BROKER_dg =~ ^tcp://127\.0\.0\.1:[0-9]+$ ]] || fail "endpoint $BROKER_dg"
log=$(cat "$(pls_logfile dg)")
assert_contains "$log" "--node dg --listen $BROKER_dg --db $PLS_DB --insecure --lease-ms 500"

pls_start_broker any dg.humen --listen 'tcp://127.0.0.1:*'
assert_eq "$BROKER_any" "tcp://127.0.0.1:41234" "endpoint read from the log"
assert_eq "$PLS_BROKER" "$BROKER_dg" "PLS_BROKER stays the first broker"

pls_start_worker w1 --node dg --dept consult --builtin noop
pls_wait_log w1 5 "worker args: --broker $BROKER_dg --node dg" || fail "worker args"
assert_eq "$(pls_ctl status)" "--broker $BROKER_dg status"
assert_eq "$(pls_ctl_at any --json status)" "--broker $BROKER_any --json status"

# Restarting a broker keeps its port and its log.
first=$BROKER_dg
pls_kill dg
pls_start_broker dg dg
assert_eq "$BROKER_dg" "$first" "restarted broker endpoint"
assert_eq "$(grep -c 'listening on' "$(pls_logfile dg)")" 2 "one log for both runs"
PLS_BUILD_DIR=$real_build

# Runs a test script on this test's PostgreSQL (whichever it is), to save an initdb.
nested() {
    PLS_TEST_PGHOST=$PLS__PG_HOST PLS_TEST_PGPORT=$PLS__PG_PORT PLS_TEST_PGUSER=$PLS__PG_USER \
        bash "$@"
}

# ---- a failing test cleans up and shows its logs -------------------------------------------
nested=$T/nested_fail.sh
cat >"$nested" <<EOF
source "$PLS_SOURCE_DIR/tests/lib/harness.sh"
pls_setup
PLS_BUILD_DIR=$fake
pls_start_broker nb dg
pls_start_worker nw --node dg --dept consult --builtin noop
pls_start orphan_maker bash -c 'sleep 300 & echo "grandchild \$!"; wait'
pls_wait_log orphan_maker 5 grandchild
echo "pids \$(pls_pid nb) \$(pls_pid nw) \$(pls_pid orphan_maker)"
echo "grandchildren \$(grep -ho '^child [0-9]*\|^grandchild [0-9]*' "\$T"/*.log | awk '{print \$2}' | tr '\n' ' ')"
echo "db \$PLS_DBNAME"
fail "on purpose"
EOF
rc=0
out=$(PLS_BUILD_DIR=$real_build nested "$nested" 2>&1) || rc=$?
assert_eq "$rc" 1 "exit status of a failing test"
assert_contains "$out" "FAIL: nested_fail.sh:"
assert_contains "$out" "on purpose"
assert_contains "$out" "last 60 lines of"
assert_contains "$out" "listening on tcp://127.0.0.1:"
assert_contains "$out" "worker args: --broker"
read -ra pids <<<"$(grep '^pids ' <<<"$out" | cut -d' ' -f2-)"
read -ra grandchildren <<<"$(grep '^grandchildren ' <<<"$out" | cut -d' ' -f2-)"
((${#pids[@]} == 3 && ${#grandchildren[@]} == 2)) || fail "nested run output: $out"
for pid in "${pids[@]}" "${grandchildren[@]}"; do
    pls__pid_alive "$pid" && fail "pid $pid left running by a failed test"
done
kept=$(grep -o 'logs kept in /[^ ]*' <<<"$out" | awk '{print $4}')
[[ -n $kept && -f $kept/nb.log ]] || fail "failed test's logs not kept: $out"
# Workers are stopped before brokers (a worker drains while its broker answers).
worker_gone=$(sed -n 's/^=== \([0-9:.]*\) exited.*/\1/p' "$kept/nw.log")
broker_termed=$(sed -n 's/^=== \([0-9:.]*\) harness sends SIGTERM at exit/\1/p' "$kept/nb.log")
[[ -n $worker_gone && -n $broker_termed && ! $broker_termed < $worker_gone ]] ||
    fail "broker got SIGTERM at $broker_termed, before its worker exited at $worker_gone"
rm -rf "$kept"

# ---- a sanitizer report fails a passing test -----------------------------------------------
nested=$T/nested_asan.sh
cat >"$nested" <<EOF
source "$PLS_SOURCE_DIR/tests/lib/harness.sh"
pls_setup
pls_start leaky bash -c 'echo "==1==ERROR: LeakSanitizer: detected memory leaks"; sleep 300'
pls_wait_log leaky 5 LeakSanitizer
EOF
rc=0
out=$(nested "$nested" 2>&1) || rc=$?
assert_eq "$rc" 1 "exit status of a test with a sanitizer report"
assert_contains "$out" "sanitizer report in leaky's log"
kept=$(grep -o 'logs kept in /[^ ]*' <<<"$out" | awk '{print $4}')
[[ -n $kept ]] && rm -rf "$kept"

# ---- a test killed with SIGKILL (no exit trap) still loses its private PostgreSQL ----------
nested=$T/nested_kill.sh
cat >"$nested" <<EOF
source "$PLS_SOURCE_DIR/tests/lib/harness.sh"
pls_setup --private-pg
echo "pgdir \$PLS_PG_DIR"
kill -KILL \$\$
EOF
out=$(nested "$nested" 2>&1) || true
killed_dir=$(grep '^pgdir ' <<<"$out" | awk '{print $2}')
[[ -n $killed_dir ]] || fail "killed nested test did not start: $out"
pls_wait_for 30 test ! -e "$killed_dir" || fail "watchdog left $killed_dir behind"
rm -rf "$(grep -o '/tmp/pls-test\.[A-Za-z0-9]*' <<<"$out" | head -n 1)"

pls_note "harness ok"
