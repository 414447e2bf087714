#!/usr/bin/env bash
# test_fed_dupkey.sh — an idempotency key used again at a town after its order completed
# (DESIGN §2: same key, same content -> the same order), in a federation: a city and one town
# (dg.humen).
#   - the town answers the second submit with the first order's id (duplicate);
#   - the city stays healthy: no failed batch in its log, its link to the town up, it keeps
#     taking orders, and a later order of the town reaches the city and completes;
#   - the city holds one order for the key, with the town's id; no outbox row at the town is
#     left for an order that does not exist there.
#
# Found by run-demo.sh run twice on one day (its platform key is per day): the town wrote a
# Forward for the new order that lost the key conflict, the city's copy insert then violated
# orders_key and the city failed that batch again and again (every link down, 503 for
# everything). Fixed in the broker by c478da0 (the test passes from there on); it keeps it fixed.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_fed_dupkey.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/fed.sh"

fed_setup
fed_topology humen
fed_start_city
fed_start_town humen
fed_start_workers dg humen

key=platform-$$-20
a=$(pls_ctl_at humen submit --service consult --origin dg.humen --key "$key" --desc "老年人赡养问题")
fed_wait_completed 30 humen=1 dg=0
# The order is completed (no longer in the broker's memory of open orders): same key, same
# content again.
b=$(pls_ctl_at humen --json submit --service consult --origin dg.humen --key "$key" --desc "老年人赡养问题")
assert_eq "$(jq -r .id <<<"$b")" "$a" "the second submit with the key gives the first order"
assert_eq "$(jq -r .duplicate <<<"$b")" true "the second submit is a duplicate"

# A later order at the town must reach the city as usual.
c=$(pls_ctl_at humen submit --service legal_aid --origin dg.humen --desc "追讨欠薪")
sleep 5
if grep -q 'batch failed' "$(pls_logfile dg)"; then
    grep -m 3 'batch failed' "$(pls_logfile dg)" >&2
    fail "the city's batches fail after a town reused a key (see above)"
fi
fed_wait_completed 60 humen=2 dg=0
assert_eq "$(fed_link dg dg.humen connected)" true "the city's link to dg.humen"
assert_eq "$(fed_sql dg "SELECT string_agg(id::text, ',') FROM orders WHERE idem_key = '$key'")" "$a" \
    "orders with the key at the city"
assert_eq "$(fed_sql humen "SELECT count(*) FROM link_outbox o WHERE NOT EXISTS
    (SELECT 1 FROM orders WHERE id = o.order_id)")" 0 "outbox rows of orders the town does not hold"
pls_ctl_at dg submit --service exam --origin dg --desc "考试咨询" >/dev/null ||
    fail "the city does not take orders"
fed_check_all
pls_note "PASS ($c completed)"
