#!/usr/bin/env bash
# test_single_lifecycle.sh — one command center (dg), every service of the catalog, noop workers
# for every department:
#   - orders of all 12 services submitted with plsctl reach `completed`, each step with the
#     step's default outcome, through the departments the catalog names (complaints by subject);
#   - `plsctl --json show` has the fields of DESIGN §3: id number service state step node origin
#     locality, steps[name dept scope outcome], events[] with one entry per kind (kind a string,
#     seq 1..n, the fields of §4);
#   - exactly one `completed` event per order (SQL view event_entries);
#   - idempotency: the same --key with the same content gives the same id (plsctl prints it),
#     both while the order is open and after it completed; the same key with other content is
#     refused: exit 1, "409 key already used ..." on stderr, and still one order for that key.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_single_lifecycle.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/single.sh"

single_setup
pls_start_broker dg dg

# ---- idempotency while the order is open (no worker yet: it stays queued) ------------------
key_open=desk-ticket-open-$$
id1=$(pls_ctl submit --service consult --origin dg --key "$key_open" --desc "劳动合同纠纷咨询")
[[ $id1 =~ ^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] ||
    fail "plsctl submit printed '$id1', not a UUIDv7"
id2=$(pls_ctl submit --service consult --origin dg --key "$key_open" --desc "劳动合同纠纷咨询")
assert_eq "$id2" "$id1" "same key, same content, order open: plsctl prints the same id"
dup=$(pls_ctl --json submit --service consult --origin dg --key "$key_open" --desc "劳动合同纠纷咨询")
assert_eq "$(jq -r .id <<<"$dup")" "$id1" "--json submit id of the duplicate"
assert_eq "$(jq -r .duplicate <<<"$dup")" true "--json submit says duplicate"
single_ctl_capture out err rc submit --service consult --origin dg --key "$key_open" --desc "另一个问题"
assert_eq "$rc" 1 "same key, other content (open order): exit status"
assert_eq "$out" "" "nothing on stdout for a refused submit"
assert_contains "$err" "409" "same key, other content (open order)"
assert_contains "$err" "key already used" "same key, other content (open order)"
pls_note "open order, same key other content: $err"
assert_eq "$(pls_sql "SELECT count(*) FROM orders WHERE idem_key = '$key_open'")" 1 "orders with key $key_open"
assert_eq "$(pls_order_state "$id1")" queued "state before any worker"

# ---- workers for every department; one order of every service --------------------------------
pls_start_worker wa --node dg --dept "$SINGLE_ALL_DEPTS" --builtin noop --concurrency 4 --name noop-a
pls_start_worker wb --node dg --dept "$SINGLE_ALL_DEPTS" --builtin noop --concurrency 4 --name noop-b

declare -A svc_of=() extra_of=()
ids=("$id1")
svc_of[$id1]=consult
submit() { # submit SERVICE [ARGS...]
    local svc=$1 id origin=(--origin dg)
    shift
    [[ " $* " == *" --origin"* ]] && origin=()
    id=$(pls_ctl submit --service "$svc" "${origin[@]}" --desc "$svc: 公共法律服务测试" "$@")
    [[ -n $id ]] || fail "submit $svc printed no id"
    ids+=("$id")
    svc_of[$id]=$svc
    extra_of[$id]="$*"
}
t0=$(single_now_ms)
for svc in "${SINGLE_SERVICES[@]}"; do
    submit "$svc"
done
submit legal_aid --origin=dg.humen # received at a town: the review step is not skipped
submit complaint --subject lawyer
submit complaint --subject notary
submit complaint --subject mediator
submit complaint --subject staff
submit complaint --about "$id1"
submit prison_video --site dg.humen --name 张三 --phone 13812345678
submit consult --priority urgent --channel hotline --locality dg.humen.baisha

for id in "${ids[@]}"; do
    pls_wait_for 30 pls_order_state_is "$id" completed ||
        fail "${svc_of[$id]} order $id ${extra_of[$id]} not completed: $(pls_order_state "$id")"
done
pls_note "${#ids[@]} orders of ${#SINGLE_SERVICES[@]} services completed in $(($(single_now_ms) - t0)) ms"

# ---- what show --json says about each ---------------------------------------------------------
# The default outcome of each step, and the steps each service goes through from a dg desk.
declare -A default_outcomes=(
    [consult]=answered [legal_aid]="- granted assigned" [mediation]=settled [lawyer]="done"
    [notary]="guided referred" [forensic]="guided referred" [pro_mediation]=settled
    [exam]=answered [resettlement]="done" [prison_video]=booked [village_counsel]=given
    [complaint]=upheld)
declare -A step_depts=(
    [consult]=consult [legal_aid]="legal_aid legal_aid legal_aid" [mediation]=mediation
    [lawyer]=lawyer [notary]="notary_guide notary_admin" [forensic]="forensic_guide forensic_admin"
    [pro_mediation]=pro_mediation [exam]=exam [resettlement]=resettlement
    [prison_video]=video_visit [village_counsel]=counsel [complaint]=discipline)
declare -A complaint_dept=([--subject lawyer]=lawyer_admin [--subject notary]=notary_admin
    [--subject mediator]=grassroots [--subject staff]=discipline)

# One jq pass per order turns the document into named facts (jq is slow to start; the test runs
# under sanitizers on two cores).
facts_jq='
  def all_have(f): map(. as $x | f | all(. as $k | $x | has($k))) | all;
  . as $doc | [
    (["id","number","service","state","step","node","origin","locality","steps","events"]
       | map(. as $k | $doc | has($k)) | all),
    .id, .number, .service, .state, .node, .origin, .locality,
    (.steps | all_have(["name","dept","scope","outcome"])),
    ([.steps[] | .outcome // "-"] | join(" ")),
    ([.steps[].dept] | join(" ")),
    ([.steps[].scope] | join(" ")),
    ([.steps[] | .skipped] | map(tostring) | join(" ")),
    ([.events[] | select(.kind == "queued") | .payload.scope] | join(" ")),
    ([.events[] | (.kind | type) == "string"] | all),
    (.events | all_have(["seq","at","node","actor","kind","from","to","step","attempt","payload"])),
    ([.events[].seq] == [range(1; (.events | length) + 1)]),
    ([.events[].kind] | join(" ")),
    ([.steps[] | select(.skipped | not)] | length),
    ([.events[] | select(.kind == "completed")] | length),
    ([.events[] | select(.kind == "step_completed")] | length),
    ([.events[] | select(.kind == "assigned")] | length),
    ([.events[] | select(.kind == "assigned") | .payload.token | test("^[0-9a-f]{16}$")] | all),
    (.events[-1].to)
  ] | map(tostring) | join("\u001f")'

for id in "${ids[@]}"; do
    svc=${svc_of[$id]}
    extra=${extra_of[$id]:-}
    what="$svc order $id${extra:+ ($extra)}"
    doc=$(pls_ctl --json show "$id")
    IFS=$'\x1f' read -r has_fields f_id f_number f_service f_state f_node f_origin f_locality steps_ok \
        outcomes depts scopes skipped queued_at kinds_strings events_ok seq_ok kinds n_live \
        n_completed n_step_completed n_assigned tokens_ok last_to \
        < <(jq -r "$facts_jq" <<<"$doc") || fail "$what: show --json: $doc"

    [[ $has_fields == true ]] || fail "$what: show --json lacks a field of §3: $doc"
    assert_eq "$f_id" "$id" "$what: id"
    [[ $f_number =~ ^DG-[0-9]{8}-[0-9]{4,}$ ]] || fail "$what: number $f_number is not DG-YYYYMMDD-NNNN"
    assert_eq "$f_service" "$svc" "$what: service"
    assert_eq "$f_state" completed "$what: state"
    assert_eq "$f_node" dg "$what: node (owner)"
    case $extra in
    --origin=dg.humen) want_origin=dg.humen want_locality=dg.humen ;;
    *"--locality dg.humen.baisha"*) want_origin=dg want_locality=dg.humen.baisha ;;
    *) want_origin=dg want_locality=dg ;;
    esac
    assert_eq "$f_origin" "$want_origin" "$what: origin"
    assert_eq "$f_locality" "$want_locality" "$what: locality"

    # steps: name, dept, scope, outcome (the default one; a skipped step has none)
    [[ $steps_ok == true ]] || fail "$what: a step lacks name, dept, scope or outcome"
    want_outcomes=${default_outcomes[$svc]}
    want_depts=${step_depts[$svc]}
    if [[ $svc == legal_aid && $extra == --origin=dg.humen ]]; then
        want_outcomes="pass granted assigned" # 初审 at the town is not skipped
    fi
    if [[ $svc == complaint && -n $extra && -n ${complaint_dept[$extra]:-} ]]; then
        want_depts=${complaint_dept[$extra]}
    fi
    assert_eq "$outcomes" "$want_outcomes" "$what: step outcomes"
    assert_eq "$depts" "$want_depts" "$what: step departments"
    if [[ $svc == prison_video ]]; then
        # designated sites (洪梅 虎门 东城 东坑 樟木头): the chosen one, else one of them
        if [[ $extra == *"--site dg.humen"* ]]; then
            assert_eq "$scopes" dg.humen "$what: the chosen site"
        else
            [[ " dg.hongmei dg.humen dg.dongcheng dg.dongkeng dg.zhangmutou " == *" $scopes "* ]] ||
                fail "$what: planned at $scopes, not a designated site"
        fi
    elif [[ $extra != *dg.humen* ]]; then
        [[ " $scopes " =~ ^(\ dg)+\ $ ]] || fail "$what: step scopes '$scopes' (a city desk's orders stay at dg)"
    fi
    # where it was queued: dg, the only scope with workers (a town or village without workers of
    # the department falls back towards this node, DESIGN §5)
    [[ " $queued_at " =~ ^(\ dg)+\ $ ]] || fail "$what: queued at '$queued_at', not at dg"
    if [[ $svc == legal_aid && -z $extra ]]; then
        assert_eq "$skipped" "true false false" "$what: 初审 skipped when received at the city"
    fi

    # events: one entry per kind, kind a string, seq 1..n, the fields of DESIGN §4
    [[ $kinds_strings == true ]] || fail "$what: an event kind is not a string"
    [[ $events_ok == true ]] || fail "$what: an event lacks a field of §4"
    [[ $seq_ok == true ]] || fail "$what: event seq is not 1..n"
    [[ $kinds == "received queued "* ]] || fail "$what: events begin '$kinds'"
    [[ $kinds == *" step_completed completed" ]] || fail "$what: events end '$kinds'"
    assert_eq "$n_completed" 1 "$what: completed events in show ($kinds)"
    assert_eq "$n_step_completed" "$n_live" "$what: step_completed events ($kinds)"
    assert_eq "$n_assigned" "$n_live" "$what: one assignment per step ($kinds)"
    [[ $tokens_ok == true ]] || fail "$what: an assigned event carries no lease token"
    assert_eq "$last_to" completed "$what: last event's to-state"
done

# and the event log itself (SQL), not only the documents
assert_eq "$(pls_sql "SELECT count(*) FROM orders o WHERE (SELECT count(*) FROM event_entries e
    WHERE e.order_id = o.id AND e.kind = 'completed') <> 1")" 0 "orders without exactly one completed entry"

assert_eq "$(single_completed_twice)" 0 "orders completed twice"
assert_eq "$(pls_sql "SELECT count(*) FROM orders")" "${#ids[@]}" "orders in the database"
assert_eq "$(pls_sql "SELECT count(*) FROM event_entries WHERE kind = 'completed'")" "${#ids[@]}" \
    "completed entries in the event log"

# The personal data given with the prison_video order is masked in show.
doc=$(pls_ctl --json show "${ids[-2]}")
assert_eq "$(jq -r .citizen.phone <<<"$doc")" "*******5678" "masked phone"
assert_not_contains "$doc" 13812345678 "show --json leaks the phone number"

# ---- idempotency after completion (the order left the broker's memory) ------------------------
key_done=hotline-call-done-$$
a=$(pls_ctl submit --service exam --origin dg --key "$key_done" --desc "法律职业资格考试报名咨询")
pls_wait_for 20 pls_order_state_is "$a" completed || fail "order $a not completed"
b=$(pls_ctl submit --service exam --origin dg --key "$key_done" --desc "法律职业资格考试报名咨询")
assert_eq "$b" "$a" "same key, same content, order completed: plsctl prints the same id"
single_ctl_capture out err rc submit --service exam --origin dg --key "$key_done" --desc "别的内容"
assert_eq "$rc" 1 "same key, other content (completed order): exit status"
assert_contains "$err" "409" "same key, other content (completed order)"
assert_contains "$err" "key already used" "same key, other content (completed order)"
pls_note "completed order, same key other content: $err"
assert_eq "$(pls_sql "SELECT count(*) FROM orders WHERE idem_key = '$key_done'")" 1 "orders with key $key_done"
assert_eq "$(single_count_kind "$a" completed)" 1 "completed entries of the resubmitted order"

# status agrees: every order completed, none open
st=$(pls_ctl --json status)
assert_eq "$(jq -r '.orders.completed' <<<"$st")" "$((${#ids[@]} + 1))" "status: completed orders"
assert_eq "$(jq -r '[.orders | to_entries[] | select(.key != "completed") | .value] | add // 0' <<<"$st")" 0 \
    "status: orders in other states"
# the store's commit times over the last minute: the batches that wrote these orders, with
# p50 <= p99 <= max, in the JSON and on the Broker line of the status view
assert_eq "$(jq -r '.broker | .commits_last_min > 0 and .commits_last_min <= .batches
    and .commit_ms_p50 > 0 and .commit_ms_p50 <= .commit_ms_p99
    and .commit_ms_p99 <= .commit_ms_max and .commit_ms_max < 60000' <<<"$st")" true \
    "status: commit times of the last minute"
assert_contains "$(pls_ctl status)" "commit_ms_p99=" "status view: commit times"
# "completed today" per department and scope (kept by triggers, sql/005) = the orders finished
# today (Asia/Shanghai) in the database; read again if a day ended between the two reads
today_st='' today_db=''
today_matches() {
    today_st=$(pls_ctl --json status | jq -r '[.departments[] | select(.completed_today > 0)
        | "\(.dept) \(.scope) \(.completed_today)"] | sort | join(", ")')
    today_db=$(pls_sql "SELECT coalesce(string_agg(dept || ' ' || scope || ' ' || n, ', '
            ORDER BY dept || ' ' || scope), '')
        FROM (SELECT dept, scope, count(*) n FROM orders WHERE state = 'completed'
              AND (finished_at AT TIME ZONE 'Asia/Shanghai')::date
                  = (now() AT TIME ZONE 'Asia/Shanghai')::date GROUP BY 1, 2) x")
    [[ $today_st == "$today_db" ]]
}
pls_wait_for 5 today_matches || true
assert_eq "$today_st" "$today_db" "status: completed today per department and scope"
[[ -n $today_db ]] || pls_note "no order completed today (Asia/Shanghai): the day ended during the test"
pls_note "lifecycle: $((${#ids[@]} + 1)) orders, ${#SINGLE_SERVICES[@]} services, ${#SINGLE_DEPTS[@]} departments, all completed once"
