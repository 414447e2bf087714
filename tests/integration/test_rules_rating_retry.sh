#!/usr/bin/env bash
# test_rules_rating_retry.sh — after a refused rating or review, the next one on the same order is
# answered (DESIGN §9, issue 4), one command center (dg), orders completed by a noop worker and
# otherwise idle (nothing else changes in the broker):
#   - rated and closed; rated again → 409 (closed); then a review → 409 "only an order under
#     rating review is reviewed" (the right answer at once, not "being saved: retry");
#   - a review given by mistake to a completed order → 409; then the rating the desk meant →
#     "rated and closed";
#   - a completed order that got such a mistaken review is still closed as unrated by the sweep
#     7 days after completion.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_rules_rating_retry.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/test_rules_lib.sh"

rules_setup
rules_broker dg dg
pls_start_worker examiner --broker "$(pls_endpoint dg)" --node dg --dept exam --builtin noop --name examiner
rules_clock_at dg 2026-06-01T10:00:00
x=$(pls_ctl_at dg submit --service exam --origin dg --desc "x")
y=$(pls_ctl_at dg submit --service exam --origin dg --desc "y")
z=$(pls_ctl_at dg submit --service exam --origin dg --desc "z")
for id in "$x" "$y" "$z"; do
    rules_wait_state dg "$id" completed
done
pls_kill examiner
sleep 0.5

rules_ok dg "rated and closed" rate "$x" --attitude 5 --efficiency 5 --competence 5
rules_refused dg 409 "is closed: only a completed order is rated" rate "$x" --attitude 4 --efficiency 4 --competence 4
rules_refused dg 409 "is closed: only an order under rating review is reviewed" --timeout 3 \
    review "$x" --close --note "核实"

rules_refused dg 409 "is completed: only an order under rating review is reviewed" review "$y" --redo --note "误操作"
rules_ok dg "rated and closed" --timeout 3 rate "$y" --attitude 4 --efficiency 5 --competence 5

rules_refused dg 409 "is completed: only an order under rating review is reviewed" review "$z" --close --note "误操作"
rules_clock_at dg 2026-06-08T10:05:00
rules_wait_state dg "$z" closed 45
