#!/usr/bin/env bash
# test_fed_city_kill.sh — the city broker is killed with SIGKILL in the middle of a load and
# restarted later (issue 3): a city, three towns (humen, changan, dongcheng) and village
# scopes; orders of every service keep arriving at each town (legal aid crossing to the city,
# village consults and mediations, ...) and 12348 hotline orders at the city with village
# localities (resent by the client while the city is down). Then:
#   - during the outage the towns keep taking orders, their links to the city are down and
#     their outboxes fill;
#   - every acknowledged order completes; the city holds exactly the towns' orders plus its
#     own, each with one copy of each event; no step completed twice anywhere; origin and city
#     agree on every order (state, owner, events); links up again with empty outboxes.
#
# Sizes (environment): FED_ORDERS_PER_TOWN (300), FED_HOTLINE (orders at the city, default a
# tenth of a town's), FED_RATE (orders/s submitted at each town, 20), FED_KILL_AT (seconds
# after the load starts, default a third of the submission time), FED_KILL_S (10),
# FED_DONE_S (seconds allowed for completion after the load, 300).
# The issue's size (ctest test_fed_city_kill_full, label long):
#   FED_ORDERS_PER_TOWN=2000 FED_KILL_S=20 FED_RATE=60 bash tests/integration/test_fed_city_kill.sh
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_fed_city_kill.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/fed.sh"

PER_TOWN=${FED_ORDERS_PER_TOWN:-300}
HOTLINE=${FED_HOTLINE:-$((PER_TOWN / 10))}
RATE=${FED_RATE:-20}
KILL_S=${FED_KILL_S:-10}
DONE_S=${FED_DONE_S:-300}
SUBMIT_S=$(((PER_TOWN + RATE - 1) / RATE))
KILL_AT=${FED_KILL_AT:-$(((SUBMIT_S + 2) / 3))}
TOWNS=(humen changan dongcheng)
((HOTLINE > 0)) || HOTLINE=1

fed_setup
fed_topology "${TOWNS[@]}"
fed_start_city
for t in "${TOWNS[@]}"; do
    fed_start_town "$t"
done
fed_start_workers dg "${TOWNS[@]}"

for t in "${TOWNS[@]}"; do
    fed_gen_orders "$t" "$PER_TOWN" "kill-$t-" >"$T/$t.tsv"
done
fed_gen_hotline "$HOTLINE" "kill-call-" "${TOWNS[@]}" >"$T/dg.tsv"
hot_rate=$(awk -v n="$HOTLINE" -v s="$SUBMIT_S" 'BEGIN { printf "%.3f", n / s }')
deadline=$((SUBMIT_S + KILL_S + 120))

pls_note "load: ${#TOWNS[@]} towns x $PER_TOWN orders at $RATE/s, $HOTLINE hotline orders at the city;" \
    "the city is killed at ${KILL_AT}s for ${KILL_S}s"
for t in "${TOWNS[@]}"; do
    fed_load_start "load_$t" "$t" "$T/$t.tsv" "$T/$t.acked" --rate "$RATE" --deadline-s "$deadline"
done
# The hotline client resends every second while the city is down (same key: same order).
fed_load_start load_dg dg "$T/dg.tsv" "$T/dg.acked" --rate "$hot_rate" --resend-ms 1000 \
    --deadline-s "$deadline"
t_load=$SECONDS

sleep "$KILL_AT"
acked_before=$(cat "$T"/{humen,changan,dongcheng}.acked | wc -l)
pls_note "killing the city (-9); towns have acknowledged $acked_before orders"
pls_kill dg KILL
t_kill=$SECONDS

# While the city is down: the towns' links go down, their outboxes grow, they keep taking
# orders (unless their load is already over).
pls_wait_for $((KILL_S > 8 ? KILL_S - 2 : 6)) fed__link_down humen ||
    fail "dg.humen still says its link to the city is up $((SECONDS - t_kill)) s after the kill"
ob=$(fed_link humen dg outbox)
pls_note "dg.humen during the outage: link connected=$(fed_link humen dg connected), outbox $ob"
((ob > 0)) || fail "dg.humen's outbox to the dead city is empty while orders keep arriving"
rest=$((KILL_S - (SECONDS - t_kill)))
((rest > 0)) && sleep "$rest"
acked_during=$(($(cat "$T"/{humen,changan,dongcheng}.acked | wc -l) - acked_before))
pls_note "the towns acknowledged $acked_during orders while the city was down"
if ((SECONDS - t_load < SUBMIT_S)); then
    ((acked_during > 0)) || fail "the towns took no orders while the city was down"
fi

pls_note "restarting the city after $((SECONDS - t_kill)) s"
fed_start_city

for t in "${TOWNS[@]}" dg; do
    fed_load_wait "load_$t" "$deadline"
done
pls_note "load done in $((SECONDS - t_load)) s: $(cat "$T"/*.acked | wc -l) orders acknowledged"

fed_wait_completed "$DONE_S" humen="$PER_TOWN" changan="$PER_TOWN" dongcheng="$PER_TOWN" \
    dg="$HOTLINE"
for name in "${TOWNS[@]}" dg; do
    fed_acked_present "$name" "$T/$name.acked"
    fed_acked_present dg "$T/$name.acked"
done
# Everything delivered: links up, outboxes empty.
pls_wait_for 60 fed__links_idle || fail "links not idle after completion"
fed_check_all

# How the hand-over went: the city holds each town's orders once; the latency figures are
# for the log only.
for t in "${TOWNS[@]}"; do
    pls_note "$t: received -> completed at the origin, p50/p99/max ms: $(fed_latency "$t")"
done
pls_note "PASS: $((3 * PER_TOWN + HOTLINE)) orders, city killed for ${KILL_S}s"
