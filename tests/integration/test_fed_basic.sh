#!/usr/bin/env bash
# test_fed_basic.sh — a city (dg), three towns (dg.humen, dg.changan, dg.dongcheng, each with
# --parent the city) and village scopes, every broker on its own database, noop workers for
# every department at every node and for consult, mediation and counsel at two villages of
# each town:
#   - orders of every service taken in at each town (and at its village desks) and 12348
#     hotline orders taken in at the city with village localities all complete;
#   - where the steps went: legal aid reviewed at the town, decided and assigned at the city
#     (the citizen's personal data going to the city with the hand-over);
#     village consults at the village when it has a worker, else at the town; hotline orders
#     at the town of their locality; prison video at the chosen site's town;
#   - `plsctl --json show` at the origin, at every command center that handled the order and at
#     the city give the same `state` and the same events (seq, kind, node);
#   - the city holds exactly the towns' orders plus its own, and every town's copy of an order
#     equals the city's; no (order, seq) twice, no order with two `completed` entries and no
#     step completed twice in any node's database (SQL view event_entries);
#   - a finished order that reaches a node by Forward keeps a finish time there: through
#     pls_forwards() directly, and through the brokers (the city loses its copy of a completed
#     order, the citizen rates it at the town, the city asks for and gets a Forward);
#   - `plsctl status` at the city lists the three links, connected, with empty outboxes, and
#     `status --tree` has the three towns.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_fed_basic.sh
# Knobs: FED_ORDERS_PER_TOWN (default 40), FED_HOTLINE (default 15).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/fed.sh"

PER_TOWN=${FED_ORDERS_PER_TOWN:-40}
HOTLINE=${FED_HOTLINE:-15}
((HOTLINE >= 12)) || HOTLINE=12 # calls 10 and 12 are checked below
TOWNS=(humen changan dongcheng)

fed_setup
fed_topology "${TOWNS[@]}"
fed_start_city
for t in "${TOWNS[@]}"; do
    fed_start_town "$t"
done
fed_start_workers dg "${TOWNS[@]}"

# ---- orders ------------------------------------------------------------------------------
declare -A origin_of=() # order id -> broker name of its intake
for t in "${TOWNS[@]}"; do
    fed_gen_orders "$t" "$PER_TOWN" "basic-$t-" >"$T/$t.tsv"
    fed_load "$t" "$T/$t.tsv" "$T/$t.acked"
done
fed_gen_hotline "$HOTLINE" "call-" "${TOWNS[@]}" >"$T/dg.tsv"
fed_load dg "$T/dg.tsv" "$T/dg.acked"

# A few through plsctl itself: a village desk's consult, a prison video at a chosen site,
# a hotline legal-aid application of a detained person with a village locality.
v1=$(fed_village humen 1)
ctl_ids=()
ctl_ids+=("$(pls_ctl_at humen submit --service consult --origin "$v1" --desc "宅基地边界问题咨询")")
ctl_ids+=("$(pls_ctl_at changan submit --service prison_video --origin dg.changan \
    --site dg.dongcheng --desc "预约与服刑亲属视频会见")")
ctl_ids+=("$(pls_ctl_at dg submit --service legal_aid --origin dg --locality "$v1" \
    --channel hotline --detained --priority urgent --desc "被羁押人员家属申请法律援助")")
# and a legal-aid application with the citizen's personal data at a town: the city decides
# it, so the data goes to the city with the hand-over (a Forward)
ctl_ids+=("$(pls_ctl_at humen submit --service legal_aid --origin dg.humen --desc "工伤赔偿法律援助申请" \
    --name "李小明" --phone 13800138000 --id-type resident_id --id-number 441900199001011234)")
for id in "${ctl_ids[@]}"; do
    [[ $id =~ ^[0-9a-f-]{36}$ ]] || fail "plsctl submit printed '$id', not an order id"
done
printf 'ctl-1 %s\n' "${ctl_ids[0]}" >>"$T/humen.acked"
printf 'ctl-2 %s\n' "${ctl_ids[1]}" >>"$T/changan.acked"
printf 'ctl-3 %s\n' "${ctl_ids[2]}" >>"$T/dg.acked"
printf 'ctl-4 %s\n' "${ctl_ids[3]}" >>"$T/humen.acked"

for name in "${TOWNS[@]}" dg; do
    while read -r _ id; do origin_of[$id]=$name; done <"$T/$name.acked"
done

fed_wait_completed 180 humen=$((PER_TOWN + 2)) changan=$((PER_TOWN + 1)) \
    dongcheng="$PER_TOWN" dg=$((HOTLINE + 1))
for name in "${TOWNS[@]}" dg; do
    fed_acked_present "$name" "$T/$name.acked"
    fed_acked_present dg "$T/$name.acked"
done

# ---- where the steps went ----------------------------------------------------------------
# scopes_of NAME ID: "service scopes nodes" of an order as `show --json` at NAME tells it: the
# scope of each assignment (the `assigned` events' payload: where a step was really handled;
# a village step without a village worker is handled at the town, while steps[].scope keeps
# the planned village) and the command center that completed each step.
scopes_of() {
    pls_ctl_at "$1" --json show "$2" | jq -r '[.service,
        ([.events[] | select(.kind == "assigned") | .payload.scope] | join(",")),
        ([.events[] | select(.kind == "step_completed") | .node] | join(","))] | join(" ")'
}
key_id() { awk -v k="$2" '$1 == k {print $2}' "$T/$1.acked"; }

# pattern 3: legal aid at dg.humen: review at the town, decide and assign at the city
got=$(scopes_of humen "$(key_id humen basic-humen-3)")
assert_eq "$got" "legal_aid dg.humen,dg,dg dg.humen,dg,dg" "legal aid from a town"
# the citizen's data at the city, which decided the order (it came by Forward), as given
assert_eq "$(scopes_of humen "${ctl_ids[3]}")" "legal_aid dg.humen,dg,dg dg.humen,dg,dg" \
    "legal aid with personal data"
assert_eq "$(fed_sql dg "SELECT concat_ws(' ', name, phone, id_type, id_number) FROM citizens
    WHERE order_id = '${ctl_ids[3]}'")" "李小明 13800138000 resident_id 441900199001011234" \
    "personal data at the city after the hand-over"
# pattern 1: consult at village 1 (it has a worker): handled at the village scope, by the town
got=$(scopes_of humen "$(key_id humen basic-humen-1)")
assert_eq "$got" "consult $v1 dg.humen" "consult of a village with a worker"
# pattern 2: consult with the locality village 3 (no worker there): the town scope
got=$(scopes_of humen "$(key_id humen basic-humen-2)")
assert_eq "$got" "consult dg.humen dg.humen" "consult of a village without a worker"
# pattern 10: prison video from changan with the site dg.humen
got=$(scopes_of changan "$(key_id changan basic-changan-10)")
assert_eq "$got" "prison_video dg.humen dg.humen" "prison video at the chosen site"
# pattern 13: exam (a city service) from dongcheng
got=$(scopes_of dongcheng "$(key_id dongcheng basic-dongcheng-13)")
assert_eq "$got" "exam dg dg" "exam taken in at a town"
# hotline call 12: mediation with the locality of changan's first village (a worker there);
# call 10: consult, locality humen's third village (no worker: the town)
got=$(scopes_of dg "$(key_id dg call-12)")
assert_eq "$got" "mediation $(fed_village changan 1) dg.changan" "hotline mediation, village locality"
got=$(scopes_of dg "$(key_id dg call-10)")
assert_eq "$got" "consult dg.humen dg.humen" "hotline consult, locality a village without worker"
# the plsctl prison video: site dg.dongcheng
got=$(scopes_of dg "${ctl_ids[1]}")
assert_eq "$got" "prison_video dg.dongcheng dg.dongcheng" "prison video --site dg.dongcheng"
# the detained applicant's legal aid at the city: the town review is skipped (received at
# the city); decided and assigned at the city
got=$(pls_ctl_at dg --json show "${ctl_ids[2]}" | jq -r '[.state, .origin, .locality,
    ([.events[] | select(.kind == "step_completed") | .node] | join(","))] | join(" ")')
assert_eq "$got" "completed dg $v1 dg,dg" "hotline legal aid of a detained applicant"

# ---- the same order everywhere -----------------------------------------------------------
# For every order: plsctl show --json at the origin and at each other command center named in
# its events (the handling towns) equals the city's: the same state and events (seq, kind,
# node).
: >"$T/pairs"
for id in "${!origin_of[@]}"; do
    [[ ${origin_of[$id]} == dg ]] || echo "$id ${origin_of[$id]} dg" >>"$T/pairs"
done
fed_sql dg "SELECT DISTINCT e.order_id, e.node FROM event_entries e JOIN orders o ON o.id = e.order_id
    WHERE e.node <> 'dg' AND e.node <> o.intake_node" -F ' ' |
    while read -r id node; do
        if [[ -n ${FED_DB[${node#dg.}]:-} ]]; then echo "$id ${node#dg.} dg"; fi
    done >>"$T/pairs"
fed_compare_shows "$T/pairs"
pls_note "show --json identical at origin, handling nodes and city: ${#origin_of[@]} orders, $(wc -l <"$T/pairs") comparisons"

fed_check_all

# ---- a Forward of an order that is already finished ----------------------------------------
# (a copy asked for after the order completed): it counts in "completed today" where it
# arrives. pls_forwards() is given what the broker builds for one (a completed order's row,
# with the finish time the broker sets), inside a transaction that is rolled back.
# (The SQL half; the brokers' half follows.)
got=$(fed_sql humen "BEGIN;
    SELECT pls_forwards(ARRAY[jsonb_populate_record(o, jsonb_build_object(
        'id', gen_random_uuid(), 'idem_key', 'fwd-finished-test', 'number', 'FWD-TEST-1',
        'intake_node', 'dg', 'finished_at', now(), 'owner', 'dg'))], '{}'::citizens[])
    FROM orders o WHERE o.state = 'completed' AND o.intake_node = 'dg.humen' LIMIT 1;
    SELECT (SELECT count(*) FROM orders WHERE number = 'FWD-TEST-1' AND finished_at IS NOT NULL)
        || ' ' || (SELECT sum(n) FROM done_counts) - (SELECT count(*) FROM orders
        WHERE state IN ('completed', 'closed', 'rating_review') AND finished_at IS NOT NULL
          AND dept IS NOT NULL AND scope IS NOT NULL);
    ROLLBACK;" | tail -n 1)
assert_eq "$got" "1 0" "a finished order arriving by Forward: its finish time kept, done_counts exact"

# The same through the brokers: the city loses its copy of an order dg.humen completed (the
# row and its events go, the counters with them), the citizen rates the order at dg.humen,
# and the city, getting an Event for an order it does not hold, asks dg.humen for a Forward:
# the order comes back closed, with a finish time, and the city's counters stay exact.
lost=$(fed_sql humen "SELECT id FROM orders WHERE state = 'completed' AND service = 'consult'
    AND intake_node = 'dg.humen' AND owner = 'dg.humen' LIMIT 1")
[[ -n $lost ]] || fail "no completed consult order of dg.humen to lose at the city"
fed_sql dg "BEGIN;
    UPDATE state_counts s SET n = s.n - 1 FROM orders o
        WHERE o.id = '$lost' AND s.state = o.state AND NOT s.owned;
    UPDATE done_counts d SET n = d.n - 1 FROM orders o
        WHERE o.id = '$lost' AND d.day = (o.finished_at AT TIME ZONE 'Asia/Shanghai')::date
          AND d.dept = o.dept AND d.scope = o.scope;
    DELETE FROM events WHERE order_id = '$lost';
    DELETE FROM orders WHERE id = '$lost';
    COMMIT;" >/dev/null
pls_ctl_at humen rate "$lost" --attitude 5 --efficiency 5 --competence 5 >/dev/null ||
    fail "rating $lost at dg.humen"
city_has_closed() { [[ $(fed_sql dg "SELECT state FROM orders WHERE id = '$lost'") == closed ]]; }
pls_wait_for 30 city_has_closed || fail "the city did not get order $lost back by Forward"
got=$(fed_sql dg "SELECT (finished_at IS NOT NULL)::text || ' ' || (SELECT sum(n) FROM done_counts) - (
        SELECT count(*) FROM orders WHERE state IN ('completed', 'closed', 'rating_review')
          AND finished_at IS NOT NULL AND dept IS NOT NULL AND scope IS NOT NULL)
    FROM orders WHERE id = '$lost'")
assert_eq "$got" "true 0" "order $lost back at the city by Forward: finish time set, done_counts exact"
assert_eq "$(fed_sql dg "SELECT count(*) FROM event_entries WHERE order_id = '$lost' AND kind = 'rated'")" 1 \
    "the city has the rating of order $lost"

# ---- status ------------------------------------------------------------------------------
st=$(pls_ctl_at dg --json status)
for t in "${TOWNS[@]}"; do
    got=$(jq -c --arg p "dg.$t" '.links[] | select(.peer == $p) | {role, connected, outbox}' <<<"$st")
    assert_eq "$got" '{"role":"child","connected":true,"outbox":0}' "city's link to dg.$t"
    got=$(fed_link "$t" dg connected)
    assert_eq "$got" true "dg.$t's link to the city"
done
total=$(jq '[.orders[]] | add' <<<"$st")
assert_eq "$total" "$(fed_count dg)" "status orders at the city = its database"
tree=$(pls_ctl_at dg --json status --tree)
got=$(jq -r '[.nodes[].node] | sort | join(" ")' <<<"$tree")
assert_eq "$got" "dg.changan dg.dongcheng dg.humen" "status --tree nodes at the city"
pls_ctl_at dg status --tree >"$T/tree.txt" || fail "plsctl status --tree"
assert_contains "$(cat "$T/tree.txt")" "== dg.humen ==" "status --tree text"
pls_note "PASS: $((3 * PER_TOWN + HOTLINE + 3)) orders"
