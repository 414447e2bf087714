#!/usr/bin/env bash
# test_single_bad_input.sh — bad input is refused with a reason a person can act on, changes
# nothing, and the broker keeps serving everyone else:
#   - a garbage frame (400), two frames (400), a 300 KiB envelope (413), and an 8 MiB frame
#     (over ZMQ_MAXMSGSIZE, 1 MiB: the broker drops that connection, no answer, and logs a
#     closed connection — libzmq gives neither the reason nor the peer's address);
#   - an unknown service (404 'unknown service'), a malformed node id (plsctl refuses it itself,
#     exit 2; sent anyway: 400 'not a node id'), a 200 kB description (plsctl: exit 2; sent
#     anyway: 413 'desc: longer than 16384 bytes');
#   - a worker report with a wrong token or a stale attempt (409, the order unchanged), then the
#     right ones (200: the step completes);
#   - the one-time notice (一次告知): after the citizen's supplement a second need-info is not
#     sent but held for an operator (DESIGN §9: the answer says so, the order stays in
#     progress), a third while it is held is refused (409 naming the one-time notice), the
#     operator refuses the held one; one need_info event in all; an outcome the step does not
#     have (400 listing the step's outcomes);
#   - requeue of a completed order (409 with its state) and of an order in progress (409);
#     show of an unknown order (404); a worker for an unknown department (refused, exits 1);
#   - after all that the broker is up and a normal order completes.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_single_bad_input.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/single.sh"

single_setup
pls_start_broker dg dg
pls_start_worker noop --node dg --dept consult --builtin noop --name noop-consult
pls_start_worker staff --node dg --dept mediation --custody staff --builtin sign --name staff-med
pls_wait_log noop 20 'ready at' || fail "noop worker not ready"
pls_wait_log staff 20 'ready at' || fail "staff worker not ready"
blog=$(pls_logfile dg)

# expect_refusal WHAT EXIT_STATUS TEXT... -- PLSCTL ARGS: plsctl exits with EXIT_STATUS, nothing
# on stdout, and stderr contains every TEXT.
expect_refusal() {
    local what=$1 want_rc=$2 texts=() out err rc t
    shift 2
    while [[ $1 != -- ]]; do
        texts+=("$1")
        shift
    done
    shift
    single_ctl_capture out err rc "$@"
    assert_eq "$rc" "$want_rc" "$what: plsctl exit status (stderr: $err)"
    assert_eq "$out" "" "$what: stdout"
    for t in "${texts[@]}"; do
        assert_contains "$err" "$t" "$what"
    done
    pls_note "$what: exit $rc: $(head -n 1 <<<"$err")"
}

# ---- frames -------------------------------------------------------------------------------------
r=$(single_rawsend frame --bytes 100)
[[ $r == "400 malformed frame"* ]] || fail "garbage frame: got '$r'"
pls_note "garbage frame of 100 bytes: $r"
r=$(single_rawsend frame --bytes 16 --frames 2)
[[ $r == "400 "*"exactly one frame"* ]] || fail "two frames: got '$r'"
pls_note "two frames: $r"
r=$(single_rawsend frame --bytes $((300 * 1024)) --fill 0)
[[ $r == "413 "*"larger than 262144"* ]] || fail "300 KiB envelope: got '$r'"
pls_note "300 KiB envelope: $r"
# the broker logs every closed connection: count them once the ones before have closed
closed() { grep -c 'a connection to .* closed' "$blog" || true; }
sleep 1
n0=$(closed)
r=$(single_rawsend --timeout-ms 10000 frame --bytes $((8 * 1024 * 1024)))
assert_eq "$r" disconnected "8 MiB frame: the broker drops the connection without an answer"
pls_note "8 MiB frame: $r"
pls_alive dg || fail "the broker died of the 8 MiB frame"
grep -q 'refused a frame of 102400 bytes\|refused a frame of 100 bytes' "$blog" ||
    fail "the broker did not log the garbage frame"
more_closed() { (($(closed) > n0)); }
pls_wait_for 10 more_closed ||
    fail "the broker did not log the connection it dropped for the 8 MiB frame"
pls_note "broker log: $(grep 'a connection to .* closed' "$blog" | tail -n 1)"

# ---- submits ------------------------------------------------------------------------------------
expect_refusal "unknown service" 1 "404" "unknown service divorce" -- \
    submit --service divorce --origin dg --desc "离婚财产分割咨询"
expect_refusal "malformed node id (plsctl)" 2 "--origin" "not a node id" -- \
    submit --service consult --origin 'DG..Humen' --desc "x"
r=$(single_rawsend submit --service consult --origin 'DG..Humen' --desc x)
[[ $r == "400 origin: not a node id"* ]] || fail "malformed node id sent to the broker: got '$r'"
pls_note "malformed node id sent to the broker: $r"
r=$(single_rawsend submit --service consult --origin dg --locality 'dg.humen.' --desc x)
[[ $r == "400 locality: not a node id"* ]] || fail "malformed locality sent to the broker: got '$r'"
big=$T/desc.txt
printf '%.0s劳动争议' $(seq 1 17000) >"$big"       # 204,000 bytes of UTF-8
single_ctl_capture out err rc submit --service consult --origin dg --desc - <"$big"
assert_eq "$rc" 2 "200 kB description (plsctl): exit status"
assert_contains "$err" "longer than 16384 bytes" "200 kB description (plsctl)"
pls_note "200 kB description (plsctl): exit $rc: $(head -n 1 <<<"$err")"
r=$(single_rawsend submit --service consult --origin dg --desc-bytes 200000)
assert_eq "$r" "413 desc: longer than 16384 bytes" "200 kB description sent to the broker"
pls_note "200 kB description sent to the broker: $r"
assert_eq "$(pls_sql "SELECT count(*) FROM orders")" 0 "orders made by the bad submits"

# ---- a worker's report with a wrong token or a stale attempt ------------------------------------
id=$(pls_ctl submit --service mediation --origin dg --desc "邻里噪音纠纷调解")
pls_wait_for 20 pls_order_state_is "$id" in_progress || fail "order $id not signed for"
tok=$(single_show "$id" '[.events[] | select(.kind == "assigned")] | last | .payload.token' | tr -d '"')
attempt=$(single_show "$id" .attempt)
[[ $tok =~ ^[0-9a-f]{16}$ ]] || fail "no lease token in the assigned event of $id: '$tok'"
n_events=$(single_show "$id" '.events | length')
wrong=$(printf '%016x' $((0x${tok:0:8} ^ 0x5a5a5a5a)))${tok:8}
r=$(single_rawsend report --dept mediation --scope dg "$id" "$attempt" "$wrong" settled)
assert_eq "$r" "409 wrong token for this assignment" "report with a wrong token"
pls_note "report with a wrong token: $r"
r=$(single_rawsend report --dept mediation --scope dg "$id" $((attempt + 1)) "$tok" settled)
[[ $r == "409 stale attempt $((attempt + 1))"* ]] || fail "report with a stale attempt: got '$r'"
pls_note "report with a stale attempt: $r"
r=$(single_rawsend report --dept mediation --scope dg "$id" 0 "$tok" settled)
[[ $r == "400 attempt"* ]] || fail "report without an attempt: got '$r'"
assert_eq "$(pls_order_state "$id")" in_progress "order $id after the bad reports"
assert_eq "$(single_show "$id" '.events | length')" "$n_events" "events of $id after the bad reports"
r=$(single_rawsend report --dept mediation --scope dg "$id" "$attempt" "$tok" no_such_outcome)
[[ $r == "400 unknown outcome no_such_outcome"* ]] || fail "report of an unknown outcome: got '$r'"
pls_note "report of an unknown outcome: $r"
r=$(single_rawsend report --dept mediation --scope dg "$id" "$attempt" "$tok" settled)
[[ $r == "200 "* ]] || fail "report with the right attempt and token: got '$r'"
pls_wait_for 10 pls_order_state_is "$id" completed || fail "order $id not completed by the right report"
assert_eq "$(single_show "$id" '.steps[0].outcome' | tr -d '"')" settled "outcome of $id"
pls_note "report with the right token: $r; order completed"

# ---- the one-time notice (一次告知) --------------------------------------------------------------
id2=$(pls_ctl submit --service mediation --origin dg --desc "宅基地边界纠纷")
pls_wait_for 20 pls_order_state_is "$id2" in_progress || fail "order $id2 not signed for"
pls_ctl --operator 陈调解员 need-info "$id2" --items 身份证复印件 --items 宅基地使用证 >/dev/null
assert_eq "$(pls_order_state "$id2")" waiting_citizen "after the one-time notice"
pls_ctl supplement "$id2" --text "已补交身份证复印件和宅基地使用证" >/dev/null
assert_eq "$(pls_order_state "$id2")" in_progress "after the supplement"
# a second notice is not sent: it is held for an operator's approval (DESIGN §9); a third,
# while one is held, is refused
out=$(pls_ctl --operator 陈调解员 need-info "$id2" --items 村委会证明)
assert_contains "$out" "一次告知" "second need-info: plsctl's answer"
assert_contains "$out" "held" "second need-info: plsctl's answer"
pls_note "second need-info: exit 0: $out"
assert_eq "$(pls_order_state "$id2")" in_progress "after the held second notice (the clock runs on)"
expect_refusal "third need-info while one is held" 1 "409" "one-time notice" -- \
    --operator 陈调解员 need-info "$id2" --items 土地承包合同
assert_eq "$(single_count_kind "$id2" need_info)" 1 "need_info events (notices sent to the citizen)"
out=$(pls_ctl --operator 指挥中心值班员 need-info refuse "$id2" --note "材料已齐，继续调解")
pls_note "need-info refuse: $out"
assert_eq "$(pls_order_state "$id2")" in_progress "after the held notice was refused"
assert_eq "$(single_count_kind "$id2" need_info)" 1 "need_info events after the refusal"
expect_refusal "outcome the step does not have" 1 "400" "unknown outcome answered" "settled" -- \
    complete "$id2" --outcome answered
pls_ctl complete "$id2" --outcome settled --note "双方达成协议" >/dev/null
assert_eq "$(pls_order_state "$id2")" completed "order $id2"

# ---- requeue, show, workers ---------------------------------------------------------------------
number2=$(single_show "$id2" .number | tr -d '"')
expect_refusal "requeue of a completed order" 1 "409" "completed" "requeue" -- requeue "$id2"
id3=$(pls_ctl submit --service mediation --origin dg --desc "物业费纠纷")
pls_wait_for 20 pls_order_state_is "$id3" in_progress || fail "order $id3 not signed for"
expect_refusal "requeue of an order in progress" 1 "409" "in_progress" -- requeue "$id3"
assert_eq "$(pls_order_state "$id3")" in_progress "order $id3 after the refused requeue"
expect_refusal "requeue by order number" 1 "409" "$number2" "completed" -- requeue "$number2"
expect_refusal "show of an unknown order" 1 "404" -- show 01a20000-0000-7000-8000-000000000000

pls_start_worker bogus --node dg --dept consult,matchmaking --builtin noop --name bogus
pls_wait_exit bogus 20 || fail "a worker of an unknown department keeps running"
assert_eq "$PLS_EXIT_STATUS" 1 "exit status of a worker of an unknown department"
grep -q "unknown department matchmaking" "$(pls_logfile bogus)" ||
    fail "the refused worker does not say why: $(tail -n 3 "$(pls_logfile bogus)")"
pls_note "worker for an unknown department: exit 1: $(grep -m1 'unknown department' "$(pls_logfile bogus)")"

# ---- and everyone else is still served -----------------------------------------------------------
pls_alive dg || fail "the broker is not running"
t0=$(single_now_ms)
ok=$(pls_ctl submit --service consult --origin dg --desc "工伤认定咨询")
pls_wait_for 20 pls_order_state_is "$ok" completed || fail "a normal order is not completed after the bad input"
pls_note "after the bad input a normal order completed in $(($(single_now_ms) - t0)) ms"
pls_ctl complete "$id3" --outcome refused >/dev/null
assert_eq "$(single_completed_twice)" 0 "orders completed twice"
assert_eq "$(pls_sql "SELECT count(*) FROM orders")" 4 "orders in the database"
