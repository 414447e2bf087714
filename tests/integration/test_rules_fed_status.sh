#!/usr/bin/env bash
# test_rules_fed_status.sh — yellow (催办), red (督办) and supervised counts across a city and two
# towns (DESIGN §9, §10, issue 4). Brokers dg (city), dg.humen and dg.changan (--parent the
# city), each on its own database and with --test-clock; staff-custody `sign` workers for some
# departments (their orders sit in_progress, step limits running), none for others (orders sit
# queued, 签收 limits running); a failing handler at changan (--max-attempts 1). Each broker's
# rule clock is moved on its own (only an order's owner decides its alarms):
#
#   node     orders (created at, Shanghai)                         clock moved to   alarms
#   humen    2 lawyer   2026-03-02 10:00, signed (5 wd: 03-09)     2026-03-15 12:00 red (one then completed)
#            3 lawyer   2026-03-09 10:00, signed (due 03-16)                        yellow (80 % = 03-15 11:36)
#            2 mediation 2026-03-09 10:00, unsigned (签收 03-10)                    red
#            1 mediation 2026-03-15 12:00, unsigned                                 none
#   changan  2 resettlement 2026-03-09 10:00, signed (due 03-16)   2026-03-10 20:00 none
#            3 mediation    2026-03-09 10:00, unsigned (03-10)                      yellow (16:24)
#            1 forensic     2026-03-09 10:00, handler fails        (failed: 督办)   none (its step
#                                                                            limit stops)
#   dg       1 exam     2026-03-02 10:00, signed (due 03-09)       2026-03-12 12:00 red
#            1 exam     2026-03-05 10:00, signed (due 03-12)                        yellow (03-11 11:36)
#            1 exam     2026-03-09 10:00, signed (due 03-16)                        none
#            1 pro_mediation 2026-03-09 10:00, unsigned (03-10)                     red
#
# `plsctl --json status` at each node must report, per (dept, scope): yellow and red = the open
# orders it owns there with that alarm raised (red wins); supervised = the supervision records
# held at that node whose order is still open — at a town none (records go to the parent), at
# the city its own red orders and the towns' red and failed ones. The expected counts are
# computed twice and both must equal status: from the table above, and from each node's
# database (the alarm events of the open orders it owns; the `supervised` events of open
# orders in every node's database). Also: every supervision record at the city names an
# order with a `supervised` event at its owner, and none is left at a town; `plsctl list
# --overdue` lists a town's own overdue orders, and at the city the whole tree's; rating a
# town's order at the city is refused (409: its first desk rates it).
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_rules_fed_status.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/test_rules_lib.sh"

rules_setup
NODES=(dg humen changan)
declare -A NODE=([dg]=dg [humen]=dg.humen [changan]=dg.changan) DB=()
cat >"$T/topology.csv" <<'CSV'
id,name_zh,name_en,kind
dg,东莞市,Dongguan,city
dg.humen,虎门镇,Humen,town
dg.changan,长安镇,Chang'an,town
CSV
for n in "${NODES[@]}"; do
    DB[$n]=$(pls_createdb "$n")
done
rules_broker dg dg --db "${DB[dg]}" --topology "$T/topology.csv"
rules_broker humen dg.humen --db "${DB[humen]}" --topology "$T/topology.csv" --parent "$(pls_endpoint dg)"
rules_broker changan dg.changan --db "${DB[changan]}" --topology "$T/topology.csv" \
    --parent "$(pls_endpoint dg)" --max-attempts 1

links_up() {
    [[ $(pls_ctl_at dg --json status | jq '[.links[] | select(.connected)] | length') == 2 ]]
}
pls_wait_for 30 links_up || fail "the towns did not connect to the city: $(pls_ctl_at dg --json status | jq -c .links)"

rules_worker sign_dg dg dg exam
rules_worker sign_humen humen dg.humen lawyer
rules_worker sign_changan changan dg.changan resettlement
pls_start_worker fail_changan --broker "$(pls_endpoint changan)" --node dg.changan --dept forensic_guide \
    --exec 'exit 3' --name fail_changan

# submit NAME SERVICE N: N orders of SERVICE at the desk of broker NAME; prints their ids.
submit() {
    local i
    for ((i = 0; i < $3; i++)); do
        pls_ctl_at "$1" submit --service "$2" --origin "${NODE[$1]}" --desc "$2 $i at ${NODE[$1]}"
    done
}
# wait_all NAME STATE IDS...
wait_all() {
    local name=$1 state=$2 id
    shift 2
    for id in "$@"; do
        rules_wait_state "$name" "$id" "$state" 20
    done
}

# ---- orders, on each broker's own clock --------------------------------------------------------
rules_clock_at dg 2026-03-02T10:00:00
mapfile -t exam_early < <(submit dg exam 1)
rules_clock_at dg 2026-03-05T10:00:00
mapfile -t exam_mid < <(submit dg exam 1)
rules_clock_at dg 2026-03-09T10:00:00
mapfile -t exam_late < <(submit dg exam 1)
mapfile -t promed < <(submit dg pro_mediation 1)

rules_clock_at humen 2026-03-02T10:00:00
mapfile -t lawyer_early < <(submit humen lawyer 2)
rules_clock_at humen 2026-03-09T10:00:00
mapfile -t lawyer < <(submit humen lawyer 3)
mapfile -t med_hm < <(submit humen mediation 2)

rules_clock_at changan 2026-03-09T10:00:00
mapfile -t resettle < <(submit changan resettlement 2)
mapfile -t med_ca < <(submit changan mediation 3)
mapfile -t forensic < <(submit changan forensic 1)

got_n="${#exam_early[@]} ${#exam_mid[@]} ${#exam_late[@]} ${#promed[@]} ${#lawyer_early[@]} ${#lawyer[@]}"
got_n+=" ${#med_hm[@]} ${#resettle[@]} ${#med_ca[@]} ${#forensic[@]}"
assert_eq "$got_n" "1 1 1 1 2 3 2 2 3 1" "orders submitted"
wait_all dg in_progress "${exam_early[@]}" "${exam_mid[@]}" "${exam_late[@]}"
wait_all dg queued "${promed[@]}"
wait_all humen in_progress "${lawyer_early[@]}" "${lawyer[@]}"
wait_all humen queued "${med_hm[@]}"
wait_all changan in_progress "${resettle[@]}"
wait_all changan queued "${med_ca[@]}"
wait_all changan failed "${forensic[@]}"
assert_eq "$(rules_due humen "${lawyer[0]}")" 2026-03-17T00:00:00 "humen lawyer: due"
assert_eq "$(rules_due changan "${med_ca[0]}")" 2026-03-11T00:00:00 "changan mediation: 签收 due"

# ---- the clocks move ----------------------------------------------------------------------------
rules_clock_at dg 2026-03-12T12:00:00
rules_clock_at humen 2026-03-15T12:00:00
rules_clock_at changan 2026-03-10T20:00:00
rules_wait_event dg "${exam_early[0]}" supervised
rules_wait_event dg "${promed[0]}" supervised
rules_wait_event dg "${exam_mid[0]}" yellow
for id in "${lawyer_early[@]}" "${med_hm[@]}"; do rules_wait_event humen "$id" supervised; done
for id in "${lawyer[@]}"; do rules_wait_event humen "$id" yellow; done
for id in "${med_ca[@]}"; do rules_wait_event changan "$id" yellow; done
rules_wait_event changan "${forensic[0]}" supervised
# after the clocks moved: a fresh mediation at humen (no alarm), and one red lawyer order done
mapfile -t med_hm_new < <(submit humen mediation 1)
wait_all humen queued "${med_hm_new[@]}"
rules_ok humen "step completed: done" complete "${lawyer_early[1]}" --outcome "done" --note "已服务"
rules_wait_state humen "${lawyer_early[1]}" completed
sleep 1 # alarms are checked every 100 ms: anything wrongly due would have been raised by now

# ---- expected counts (1): from the scenario ------------------------------------------------------
# "NODE DEPT SCOPE" -> "yellow red supervised"; lines not listed are "0 0 0"
declare -A want=(
    ["dg exam dg"]="1 1 1"
    ["dg pro_mediation dg"]="0 1 1"
    ["dg lawyer dg.humen"]="0 0 1"
    ["dg mediation dg.humen"]="0 0 2"
    ["dg forensic_guide dg.changan"]="0 0 1"
    ["humen lawyer dg.humen"]="3 1 0"
    ["humen mediation dg.humen"]="0 2 0"
    ["changan mediation dg.changan"]="3 0 0"
    ["changan forensic_guide dg.changan"]="0 0 0" # failed: under supervision, its limit stopped
    ["changan resettlement dg.changan"]="0 0 0"
)

# ---- expected counts (2): from each node's database ----------------------------------------------
OPEN="('received','forwarded','queued','assigned','in_progress','waiting_citizen','returned','failed')"
# yellow/red of the open orders a node owns: an alarm counts when raised after the current
# limit started (the last queued, accepted, requeued, lease_expired or transferred event), or
# when it is a whole-order alarm; red wins.
alarm_sql() {
    cat <<SQL
WITH mine AS (
    SELECT id, dept, scope FROM orders WHERE owner = '$1' AND state IN $OPEN),
start AS (
    SELECT e.order_id, max(e.seq) AS seq FROM event_entries e JOIN mine m ON m.id = e.order_id
    WHERE e.kind IN ('queued','accepted','requeued','lease_expired','transferred') GROUP BY 1),
al AS (
    SELECT m.id, m.dept, m.scope,
        bool_or(e.kind = 'red' AND (e.seq > s.seq OR e.payload ->> 'limit' = 'whole')) AS red,
        bool_or(e.kind = 'yellow' AND (e.seq > s.seq OR e.payload ->> 'limit' = 'whole')) AS yellow
    FROM mine m JOIN start s ON s.order_id = m.id JOIN event_entries e ON e.order_id = m.id
    GROUP BY 1, 2, 3)
SELECT dept, scope, count(*) FILTER (WHERE yellow AND NOT red), count(*) FILTER (WHERE red)
FROM al GROUP BY 1, 2 HAVING count(*) FILTER (WHERE yellow OR red) > 0;
SQL
}
# open orders a node owns with a supervised event (their records belong to the city)
supervised_sql() {
    cat <<SQL
SELECT o.dept, o.scope, count(DISTINCT o.id) FROM orders o JOIN event_entries e ON e.order_id = o.id
WHERE o.owner = '$1' AND o.state IN $OPEN AND e.kind = 'supervised' GROUP BY 1, 2;
SQL
}
declare -A from_db=()
add_db() { # add_db KEY FIELD VALUE
    local cur=${from_db[$1]:-"0 0 0"} y r s
    read -r y r s <<<"$cur"
    case $2 in
    y) y=$3 ;; r) r=$3 ;; s) s=$((s + $3)) ;;
    esac
    from_db[$1]="$y $r $s"
}
compute_from_db() {
    from_db=()
    local n dept scope y r s
    for n in "${NODES[@]}"; do
        while IFS='|' read -r dept scope y r; do
            [[ -n $dept ]] || continue
            add_db "$n $dept $scope" y "$y"
            add_db "$n $dept $scope" r "$r"
        done < <(pls_sql_db "${DB[$n]}" "$(alarm_sql "${NODE[$n]}")")
        while IFS='|' read -r dept scope s; do
            [[ -n $dept ]] || continue
            add_db "dg $dept $scope" s "$s" # every record is kept at the city
        done < <(pls_sql_db "${DB[$n]}" "$(supervised_sql "${NODE[$n]}")")
    done
}

# ---- what status says ------------------------------------------------------------------------
declare -A st_map=()
read_status() {
    st_map=()
    local n dept scope y r s
    for n in "${NODES[@]}"; do
        while read -r dept scope y r s; do
            [[ "$y $r $s" == "0 0 0" ]] && continue
            # shellcheck disable=SC2034 # read through show_map (a nameref)
            st_map["$n $dept $scope"]="$y $r $s"
        done < <(pls_ctl_at "$n" --json status |
            jq -r '.departments[] | [.dept, .scope, .yellow, .red, .supervised] | map(tostring) | join(" ")')
    done
}
# same KEYS... : the two maps (by name) agree on every key of both, zero lines dropped
show_map() {
    local -n m=$1
    local k
    for k in "${!m[@]}"; do
        [[ ${m[$k]} == "0 0 0" ]] || echo "$k: ${m[$k]}"
    done | sort
}
status_matches() {
    read_status
    compute_from_db
    [[ $(show_map st_map) == "$(show_map want)" && $(show_map from_db) == "$(show_map want)" ]]
}
if ! pls_wait_for 20 status_matches; then
    fail "yellow red supervised per node, dept and scope:
expected (scenario):
$(show_map want)
computed from the databases:
$(show_map from_db)
plsctl --json status:
$(show_map st_map)"
fi
pls_note "status at each node = scenario = databases:"
show_map st_map >&2

# ---- alarms are decided by the owner, and the city's copy has them ------------------------------
alarms_of() {
    rules_show "$1" "$2" '[.events[] | select(.kind | IN("yellow", "red", "supervised", "reported"))
        | "\(.seq):\(.kind)@\(.node)"] | join(" ")'
}
for id in "${med_hm[0]}" "${lawyer_early[0]}" "${lawyer[0]}"; do
    own=$(alarms_of humen "$id")
    assert_contains "$own" "@dg.humen" "order $id: alarm events at humen"
    assert_not_contains "$own" "@dg " "order $id: an alarm event decided by the city"
    copy() { [[ $(alarms_of dg "$1") == "$2" ]]; }
    pls_wait_for 15 copy "$id" "$own" || fail "order $id: the city's copy has alarms '$(alarms_of dg "$id")', humen '$own'"
done
got=$(pls_ctl_at dg --json status | jq -c '.departments[] | select(.dept == "mediation" and .scope == "dg.humen")
    | [.elsewhere, .queued, .yellow, .red, .supervised]')
assert_eq "$got" "[true,0,0,0,2]" "the city's status line for mediation at dg.humen (supervision only)"

# ---- the supervision records -----------------------------------------------------------------
for n in humen changan; do
    assert_eq "$(pls_sql_db "${DB[$n]}" "SELECT count(*) FROM supervisions")" 0 "supervision records kept at $n"
done
got_rec=$(pls_sql_db "${DB[dg]}" "SELECT node || ' ' || coalesce(dept, '-') || ' ' || coalesce(scope, '-') || ' ' || kind
    FROM supervisions ORDER BY 1")
want_rec=$(
    {
        echo "dg exam dg red"
        echo "dg pro_mediation dg red"
        echo "dg.changan forensic_guide dg.changan failed"
        for id in "${lawyer_early[@]}"; do echo "dg.humen lawyer dg.humen red"; done
        for id in "${med_hm[@]}"; do echo "dg.humen mediation dg.humen red"; done
    } | sort
)
assert_eq "$got_rec" "$want_rec" "supervision records at the city"
for n in "${NODES[@]}"; do
    for id in $(pls_sql_db "${DB[dg]}" "SELECT order_id FROM supervisions WHERE node = '${NODE[$n]}'"); do
        assert_eq "$(rules_count "$n" "$id" supervised)" 1 "order $id: supervised events at its owner ${NODE[$n]}"
    done
done

# ---- plsctl list --overdue: a town's own, the whole tree at the city ----------------------------
# past a due time by the node's own rule clock; the city's clock (2026-03-12 12:00) is past the
# 签收 limits of changan's mediations (due 2026-03-11); the failed order's step limit stopped when
# it failed (it is under supervision instead), so it is not overdue
overdue() {
    pls_ctl_at "$1" --json list --overdue | jq -r '[.orders[].id] | sort | join(" ")'
}
sorted() { printf '%s\n' "$@" | sort | paste -sd ' '; }
assert_eq "$(overdue humen)" "$(sorted "${lawyer_early[0]}" "${med_hm[@]}")" "list --overdue at humen"
assert_eq "$(overdue changan)" "" "list --overdue at changan"
assert_eq "$(overdue dg)" "$(sorted "${exam_early[@]}" "${promed[@]}" "${lawyer_early[0]}" "${med_hm[@]}" \
    "${med_ca[@]}")" "list --overdue at the city"

# ---- the first desk rates ------------------------------------------------------------------------
done_number=$(rules_show humen "${lawyer_early[1]}" .number)
copied() { [[ $(rules_show dg "${lawyer_early[1]}" .state 2>/dev/null) == completed ]]; }
pls_wait_for 15 copied || fail "the city's copy of ${lawyer_early[1]} is not completed"
rules_refused dg 409 "order $done_number belongs to dg.humen (its first desk): rate and review it there" \
    rate "${lawyer_early[1]}" --attitude 4 --efficiency 4 --competence 4
rules_ok humen "rated and closed" rate "${lawyer_early[1]}" --attitude 4 --efficiency 4 --competence 4
