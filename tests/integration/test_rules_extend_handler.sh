#!/usr/bin/env bash
# test_rules_extend_handler.sh — 延期 asked by an automatic handler (DESIGN §3 `extend` outcome,
# §9; issue 4), one command center (dg), one auto-custody `--exec` worker of exam whose handler
# ends with {"outcome":"extend","days":2,"note":"..."}:
#   - the request is recorded as a person's would be (event extension_requested by the worker,
#     .limits.extension_pending 2) and `plsctl extension approve` moves the due time;
#   - the handler's attempt is over: the worker is not left holding the order (status: held 0,
#     its credit back), and it takes the department's next order.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_rules_extend_handler.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/test_rules_lib.sh"

rules_setup
rules_broker dg dg
cat >"$T/extend.sh" <<'SH'
#!/bin/sh
cat >/dev/null
echo "progress 50 调取档案中"
echo '{"outcome":"extend","days":2,"note":"需要调取档案"}'
SH
chmod +x "$T/extend.sh"
pls_start_worker handler --broker "$(pls_endpoint dg)" --node dg --dept exam --exec "$T/extend.sh" \
    --name handler

rules_clock_at dg 2026-04-13T10:00:00
e=$(pls_ctl_at dg submit --service exam --origin dg --desc "档案查询")
rules_wait_event dg "$e" extension_requested
got=$(rules_event dg "$e" extension_requested '[.actor, (.payload.days | tostring), .payload.reason] | join(" ")')
assert_eq "$got" "handler 2 需要调取档案" "the handler's extension_requested event"
assert_eq "$(rules_show dg "$e" .limits.extension_pending)" 2 "extension_pending after the handler's request"
rules_ok dg "extension of 2 working days approved: now due 2026-04-22T16:00:00.000Z" extension approve "$e"
assert_eq "$(rules_due dg "$e")" 2026-04-23T00:00:00 "due after the approval (2 wd after 2026-04-20)"

# the worker is free again: not holding the order, and it takes the next one
free() {
    [[ $(pls_ctl_at dg --json status | jq -c '.workers[] | select(.name == "handler") | [.held, .credit]') == "[0,1]" ]]
}
pls_wait_for 15 free ||
    fail "after its extend outcome the worker still holds the order: $(pls_ctl_at dg --json status | jq -c '.workers')"
e2=$(pls_ctl_at dg submit --service exam --origin dg --desc "下一单")
rules_wait_event dg "$e2" assigned 1 15
