#!/usr/bin/env bash
# test_single_worker_stall.sh — a worker that stalls past its lease and comes back keeps serving:
#   - an auto worker (concurrency 1, --exec handler waiting on a FIFO) holds order A;
#   - the worker stalls (SIGSTOP) past the lease: the broker forgets it and re-queues A, which the
#     desk then withdraws;
#   - the worker resumes (SIGCONT), its handler finishes: it sends Ready listing A (stale by now)
#     and reports A's outcome, which the broker answers; the worker holds nothing any more;
#   - a new order B must then go to that worker, alive and idle, and complete.
# The same happens to every worker whose reports crossed a broker SIGKILL (outcomes committed,
# answers lost): test_single_broker_kill.sh shows it as a worker that takes nothing after the
# restart, in some runs.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_single_worker_stall.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/single.sh"

LEASE_MS=3000

single_setup
pls_start_broker dg dg --lease-ms "$LEASE_MS"
go=$T/go
mkfifo "$go" # the handler waits for a writer (one process: nothing forks while it is signalled)
pls_start_worker wa --node dg --dept consult --concurrency 1 --name auto-1 \
    --exec "exec cat '$go' >/dev/null"
pls_wait_log wa 20 'ready at' || fail "worker not ready"

a=$(pls_ctl submit --service consult --origin dg --desc "工资拖欠咨询")
pls_wait_for 20 pls_order_state_is "$a" in_progress || fail "order $a not in progress"

pls_kill wa STOP
gone() { [[ $(pls_ctl --json status | jq '[.workers[] | select(.name == "auto-1" and .alive)] | length') == 0 ]]; }
pls_wait_for 20 gone || fail "the stalled worker is still alive for the broker"
pls_wait_for 10 pls_order_state_is "$a" queued || fail "order $a not re-queued: $(pls_order_state "$a")"
pls_ctl withdraw "$a" --note "市民撤回" >/dev/null
assert_eq "$(pls_order_state "$a")" withdrawn "order $a"

echo "done" >"$go" # the handler ends while the worker is still stopped
pls_kill wa CONT
pls_wait_log wa 20 'ready again' || fail "the resumed worker did not send Ready again"
sleep 2 # its report of A is answered
st=$(pls_ctl --json status)
pls_note "resumed worker in status: $(jq -c '.workers[] | select(.name == "auto-1") | {alive, held, credit}' <<<"$st")"
assert_eq "$(jq -r '.workers[] | select(.name == "auto-1") | .alive' <<<"$st")" true "the resumed worker is alive"

t0=$(single_now_ms)
b=$(pls_ctl submit --service consult --origin dg --desc "劳动仲裁时效咨询")
if ! pls_wait_for 15 pls_order_state_is "$b" in_progress; then
    st=$(pls_ctl --json status)
    fail "order $b is $(pls_order_state "$b") 15 s after submit, with worker auto-1 alive and idle:" \
        "$(jq -c '.workers[] | select(.name == "auto-1") | {alive, held, credit}' <<<"$st")," \
        "consult at dg: $(jq -c '.departments[] | select(.dept == "consult") | {queued, assigned, in_progress, workers_a}' <<<"$st")"
fi
pls_note "order B assigned to the resumed worker after $(($(single_now_ms) - t0)) ms"
