#!/usr/bin/env bash
# test_rules_calendar.sh — working days (DESIGN §9, issue 4): limits computed on the rule clock
# against the holiday calendar (deploy/calendar/cn-holidays.csv, Asia/Shanghai), as a user sees
# them in `plsctl --json show` (.limits.due_at):
#   - across a holiday: a consult queued on 2026-09-30 (the day before 国庆) is due for 签收 at
#     the end of 2026-10-08 (1 working day: 1–7 October are holidays);
#   - a make-up working Saturday (调休) counts: queued on Friday 2026-02-13, the 签收 limit ends
#     with Saturday 2026-02-14; an exam answer (5 working days) signed for that Friday ends on
#     2026-02-27 (14, 24, 25, 26, 27 February), one signed for on 2026-09-30 on 2026-10-13
#     (8, 9, Saturday 10, 12, 13 October);
#   - a plain weekend: queued on Friday 2026-03-13, due at the end of Monday 2026-03-16;
#   - calendar days count holidays: a mediation (30 days) signed for on 2026-09-30 ends with
#     2026-10-30; an urgent order's 签收 limit is one hour, even on a holiday;
#   - a year without calendar data falls back to Monday–Friday (a 签收 limit from Friday
#     2035-09-28 ends with Monday 2035-10-01, which will be 国庆) and `status --json` warns about
#     2035 and 2036; in 2025 (2025 and 2026 known) there is no warning;
#   - `plsctl clock` on a broker started without --test-clock is refused (403, with why).
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_rules_calendar.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/test_rules_lib.sh"

rules_setup
rules_broker dg dg
# signs for every exam and mediation offered: their step limits start at once
rules_worker signer dg dg exam,mediation

# submit_at TIME SERVICE [ARGS...]: moves the rule clock to TIME (Shanghai) and submits.
submit_at() {
    local at=$1 svc=$2
    shift 2
    rules_clock_at dg "$at"
    pls_ctl_at dg submit --service "$svc" --origin dg --desc "$svc at $at" "$@"
}

# check_due ID KIND WANT WHAT: the order's current limit is of KIND and due at WANT (Shanghai).
check_due() {
    local id=$1 kind=$2 want=$3 what=$4
    if [[ $kind == step ]]; then
        rules_wait_state dg "$id" in_progress
    fi
    assert_eq "$(rules_show dg "$id" .limits.kind)" "$kind" "$what: limit kind"
    assert_eq "$(rules_due dg "$id")" "$want" "$what: due"
    # the order's due_at is the current limit's
    assert_eq "$(rules_sh "$(rules_ms "$(rules_show dg "$id" .due_at)")")" "$want" "$what: .due_at"
    pls_note "$what: $kind limit due $want (Shanghai)"
}

# ---- 2025: both years known, no warning ----------------------------------------------------
rules_clock_at dg 2025-06-03T10:00:00
assert_eq "$(pls_ctl_at dg --json status | jq -c .warnings)" "[]" "status warnings in 2025"

# ---- a make-up working Saturday: 2026-02-14 (春节调休上班) ------------------------------------
id=$(submit_at 2026-02-13T10:00:00 consult)
check_due "$id" sign 2026-02-15T00:00:00 "consult queued Fri 2026-02-13 (签收, 1 wd: Sat 02-14 works)"
started=$(rules_ms "$(rules_show dg "$id" .limits.started_at)")
ref=$(rules_ms 2026-02-13T10:00:00)
((started >= ref && started < ref + 60000)) ||
    fail "签收 limit started at $(rules_sh "$started"), not when queued at 2026-02-13T10:00"
id=$(submit_at 2026-02-13T10:00:00 exam)
check_due "$id" step 2026-02-28T00:00:00 "exam signed for Fri 2026-02-13 (5 wd: 14, 24, 25, 26, 27 Feb)"

# ---- across a holiday: 国庆 2026 (1–7 October off, Saturday 10 October works) ----------------
id=$(submit_at 2026-09-30T10:00:00 consult)
check_due "$id" sign 2026-10-09T00:00:00 "consult queued Wed 2026-09-30 (签收 across 国庆)"
id=$(submit_at 2026-09-30T10:00:00 exam)
check_due "$id" step 2026-10-14T00:00:00 "exam signed for 2026-09-30 (5 wd: 8, 9, Sat 10, 12, 13 Oct)"
id=$(submit_at 2026-09-30T10:00:00 mediation)
check_due "$id" step 2026-10-31T00:00:00 "mediation signed for 2026-09-30 (30 calendar days)"
id=$(submit_at 2026-10-09T15:00:00 consult)
check_due "$id" sign 2026-10-11T00:00:00 "consult queued Fri 2026-10-09 (签收 ends with Sat 10-10)"
id=$(submit_at 2026-10-02T10:00:00 consult --priority urgent)
rules_wait_state dg "$id" queued
started=$(rules_ms "$(rules_show dg "$id" .limits.started_at)")
((started >= $(rules_ms 2026-10-02T10:00:00) && started < $(rules_ms 2026-10-02T10:01:00))) ||
    fail "urgent consult: 签收 limit started at $(rules_sh "$started")"
assert_eq "$(($(rules_ms "$(rules_show dg "$id" .limits.due_at)") - started))" 3600000 \
    "urgent consult queued on a holiday: 签收 limit (ms from queued to due)"
pls_note "urgent consult queued on a holiday: due $(rules_due dg "$id") (1 hour)"

# ---- a plain weekend --------------------------------------------------------------------------
id=$(submit_at 2026-03-13T17:30:00 consult)
check_due "$id" sign 2026-03-17T00:00:00 "consult queued Fri 2026-03-13 (签收 over a weekend)"

# ---- a year without calendar data: Monday–Friday, with a warning ------------------------------
id=$(submit_at 2035-09-28T10:00:00 consult)
check_due "$id" sign 2035-10-02T00:00:00 "consult queued Fri 2035-09-28 (no 2035 data: Mon 10-01 works)"
warnings=$(pls_ctl_at dg --json status | jq -r '.warnings | join("\n")')
assert_contains "$warnings" "no holiday calendar for 2035: working days count Monday to Friday" \
    "status warning for 2035"
assert_contains "$warnings" "no holiday calendar for 2036" "status warning for the next year"
pls_note "status warnings in 2035: $warnings"
# the plain status says it too
assert_contains "$(pls_ctl_at dg status)" "no holiday calendar for 2035" "plsctl status (text)"

# ---- the rule clock is moved only on a test broker --------------------------------------------
pls_start_broker plain dg --db "$(pls_createdb plain)"
rules_refused plain 403 "the rule clock can be moved only on a broker started with --test-clock" \
    clock --offset 1d
