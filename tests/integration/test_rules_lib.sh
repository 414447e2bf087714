# test_rules_lib.sh — helpers of the time-limit and feedback tests (tests/integration/
# test_rules_*.sh, issue 4, DESIGN §9), on top of tests/lib/harness.sh. Not a test itself:
# source it after harness.sh and call rules_setup instead of pls_setup:
# shellcheck shell=bash
#
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
#   source "$(dirname "${BASH_SOURCE[0]}")/test_rules_lib.sh"
#   rules_setup
#   rules_broker dg dg                          # pls-broker --test-clock, named dg
#   rules_clock_at dg 2026-09-30T10:00:00       # its rule clock now reads that Shanghai time
#   id=$(pls_ctl_at dg submit --service consult --origin dg --desc '...')
#   rules_show dg "$id" .limits.due_at
#   rules_refused dg 409 'too late: the step was due at' extension request "$id" --days 2 --reason x
#
# Times: every date in these tests is Asia/Shanghai (UTC+8, no daylight saving), written
# 2026-09-30T10:00:00 and converted with an explicit +08:00, so the machine's time zone does
# not matter. The rule clock of a broker started with --test-clock is moved with
# `plsctl clock --offset DURATION`; rules_clock_at computes the offset from `date` at the call.

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    echo "test_rules_lib.sh holds helpers of the test_rules_* tests: source it, do not run it" >&2
    exit 2
fi

RULES_BROKER_ARGS=() # extra arguments of every rules_broker (a test may set it)

# rules_setup [--private-pg]: pls_setup and the tools these tests need.
rules_setup() {
    command -v jq >/dev/null || {
        echo "jq not found (deploy/install-deps.sh installs it)" >&2
        exit 1
    }
    pls_setup "$@"
}

# rules_broker NAME NODE [ARGS...]: a broker with --test-clock (its own database unless ARGS
# give --db).
rules_broker() {
    local name=$1 node=$2
    shift 2
    pls_start_broker "$name" "$node" --test-clock "${RULES_BROKER_ARGS[@]}" "$@"
}

# rules_worker NAME BROKER NODE DEPTS [ARGS...]: a staff-custody worker that signs for (签收)
# every order it is offered and does nothing more: the order stays in_progress, the step's
# limit running.
rules_worker() {
    local name=$1 broker=$2 node=$3 depts=$4
    shift 4
    pls_start_worker "$name" --broker "$(pls_endpoint "$broker")" --node "$node" --dept "$depts" \
        --custody staff --builtin sign --name "$name" "$@"
}

# ---- times --------------------------------------------------------------------------------

# rules_ms SHANGHAI_TIME: epoch milliseconds of 2026-09-30T10:00:00 (Shanghai) or of any ISO
# time with its own offset (2026-10-08T16:00:00Z, 2026-10-09T00:00:00+08:00).
rules_ms() {
    local t=$1
    [[ $t =~ (Z|[+-][0-9][0-9]:?[0-9][0-9])$ ]] || t="$t+08:00"
    date -d "$t" +%s%3N
}

# rules_sh MS: the Shanghai time of epoch milliseconds, 2026-10-09T00:00:00 (seconds).
rules_sh() {
    TZ=UTC date -d "@$((($1 + 8 * 3600000) / 1000))" +%Y-%m-%dT%H:%M:%S
}

rules_now_ms() {
    local t=${EPOCHREALTIME/./}
    echo $((t / 1000))
}

# rules_clock_at NAME SHANGHAI_TIME: moves broker NAME's rule clock so that it reads that time
# now (and runs at normal speed). Checks the broker's answer.
rules_clock_at() {
    local name=$1 want off out
    want=$(rules_ms "$2")
    off=$((want - $(rules_now_ms)))
    out=$(pls_ctl_at "$name" clock --offset "${off}ms") || fail "plsctl clock at $name: $out"
    assert_contains "$out" "rule clock: offset ${off} ms" "plsctl clock at $name"
    pls_note "$name: rule clock at $2 (Shanghai)"
}

# rules_clock_now NAME: prints broker NAME's rule clock, epoch ms (status --json .rule_clock).
rules_clock_now() {
    rules_ms "$(pls_ctl_at "$1" --json status | jq -r .rule_clock.now)"
}

# ---- orders -------------------------------------------------------------------------------

# rules_show NAME ID [JQ]: the order document at broker NAME (plsctl --json show) through jq -r.
rules_show() {
    pls_ctl_at "$1" --json show "$2" | jq -r "${3:-.}"
}

# rules_kinds NAME ID: the kinds of the order's events, space-separated.
rules_kinds() {
    rules_show "$1" "$2" '[.events[].kind] | join(" ")'
}

# rules_count NAME ID KIND: how many events of KIND the order has.
rules_count() {
    pls_ctl_at "$1" --json show "$2" | jq --arg k "$3" '[.events[] | select(.kind == $k)] | length'
}

rules__has_at_least() {
    local n
    n=$(rules_count "$1" "$2" "$3" 2>/dev/null) || return 1
    ((n >= $4))
}

# rules_wait_event NAME ID KIND [N] [TIMEOUT_S]: waits until the order has N (default 1) events
# of KIND.
rules_wait_event() {
    pls_wait_for "${5:-15}" rules__has_at_least "$1" "$2" "$3" "${4:-1}" ||
        fail "order $2 at $1: no $3 event (x${4:-1}) after ${5:-15}s; events: $(rules_kinds "$1" "$2")"
}

# rules_event NAME ID KIND [JQ]: the last event of KIND (through JQ, default the whole event),
# compact JSON, a string raw.
rules_event() {
    pls_ctl_at "$1" --json show "$2" |
        jq -rc --arg k "$3" "[.events[] | select(.kind == \$k)] | last | ${4:-.}"
}

rules__state_is() {
    [[ $(rules_show "$1" "$2" .state 2>/dev/null) == "$3" ]]
}

# rules_wait_state NAME ID STATE [TIMEOUT_S]
rules_wait_state() {
    pls_wait_for "${4:-15}" rules__state_is "$1" "$2" "$3" ||
        fail "order $2 at $1 is $(rules_show "$1" "$2" .state), not $3; events: $(rules_kinds "$1" "$2")"
}

# rules_due NAME ID [FIELD]: a limit's due time (.limits.FIELD, default due_at) in Shanghai time.
rules_due() {
    local v
    v=$(rules_show "$1" "$2" ".limits.${3:-due_at}")
    [[ $v != null && -n $v ]] || {
        echo null
        return 0
    }
    rules_sh "$(rules_ms "$v")"
}

# ---- refusals -----------------------------------------------------------------------------

# rules_refused NAME CODE TEXT ARGS...: plsctl ARGS at broker NAME must be refused: exit status 1,
# nothing on stdout, and "plsctl: CODE ...TEXT..." on stderr. Prints the message.
rules_refused() {
    local name=$1 code=$2 text=$3 rc=0 out err
    shift 3
    pls_ctl_at "$name" "$@" >"$T/refused.out" 2>"$T/refused.err" || rc=$?
    out=$(cat "$T/refused.out")
    err=$(cat "$T/refused.err")
    [[ $rc == 1 ]] || fail "plsctl $* at $name: exit status $rc, expected 1 (refused); stdout: $out; stderr: $err"
    [[ -z $out ]] || fail "plsctl $* at $name: refused but printed on stdout: $out"
    [[ $err == "plsctl: $code "* ]] || fail "plsctl $* at $name: expected status $code, got: $err"
    assert_contains "$err" "$text" "plsctl $* at $name: the reason"
    pls_note "refused as expected: plsctl $1 ...: $err"
}

# rules_ok NAME TEXT ARGS...: plsctl ARGS at broker NAME must succeed and print TEXT.
rules_ok() {
    local name=$1 text=$2 rc=0 out
    shift 2
    out=$(pls_ctl_at "$name" "$@" 2>&1) || rc=$?
    [[ $rc == 0 ]] || fail "plsctl $* at $name: exit status $rc: $out"
    assert_contains "$out" "$text" "plsctl $* at $name"
}

# ---- status -------------------------------------------------------------------------------

# rules_alarm_counts NAME DEPT SCOPE: "yellow red supervised" of that line of status --json at
# broker NAME ("0 0 0" when there is no such line).
rules_alarm_counts() {
    pls_ctl_at "$1" --json status | jq -r --arg d "$2" --arg s "$3" '
        [.departments[] | select(.dept == $d and .scope == $s)] as $l
        | if ($l | length) == 0 then "0 0 0"
          else [($l | map(.yellow) | add), ($l | map(.red) | add), ($l | map(.supervised) | add)]
               | map(tostring) | join(" ") end'
}

rules__counts_are() {
    [[ $(rules_alarm_counts "$1" "$2" "$3" 2>/dev/null) == "$4" ]]
}

# rules_wait_counts NAME DEPT SCOPE "Y R S" [TIMEOUT_S]
rules_wait_counts() {
    pls_wait_for "${5:-15}" rules__counts_are "$1" "$2" "$3" "$4" ||
        fail "status at $1, $2 at $3: yellow red supervised = $(rules_alarm_counts "$1" "$2" "$3"), expected $4"
}
