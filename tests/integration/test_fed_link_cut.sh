#!/usr/bin/env bash
# test_fed_link_cut.sh — a town cut off from the city over a real network link (issue 3):
# the city broker runs in one network namespace, the town dg.humen in another, joined by a
# veth pair with addresses in a private /30 that exists only inside those namespaces. While
# orders keep arriving at the town, the link is cut for FED_CUT_S seconds with nftables (a
# table in the town's namespace dropping everything to and from the city's address; without
# nft, the town's end of the veth is set down), then restored.
#   - during the cut: the town keeps taking orders and completing the steps that are its own
#     (consult, mediation, ... taken in after the cut began complete before it ends); legal aid
#     waits as `forwarded` for the city; `plsctl status` at the town shows the link to dg down
#     and an outbox that is not empty, and the city shows its link to dg.humen down;
#   - after the link heals the backlog drains: every order taken in completes, the city holds
#     each exactly once with the town's history (0 lost, 0 duplicated), links idle again.
# Needs root and `ip netns`; exits 77 (skipped) with the reason otherwise. The namespaces (and
# with them the veth pair and the nftables table) are deleted at exit, also on failure; the
# root namespace's interfaces, addresses and rules are never touched.
#
# Knobs: FED_CUT_S (10; the issue's 30 in ctest test_fed_link_cut_full), FED_RATE (orders/s at
# the town, 10), FED_DONE_S (seconds for completion after the load, 240).
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_fed_link_cut.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/fed.sh"

CUT_S=${FED_CUT_S:-10}
RATE=${FED_RATE:-10}
DONE_S=${FED_DONE_S:-240}
WARM=20                            # orders before the load
LOAD_S=$((CUT_S + 15))             # the load runs 5 s before and 10 s after the cut
N_LOAD=$((RATE * LOAD_S))
NS_C=plsfc$$ NS_T=plsft$$          # the namespaces (city, town)
ADDR_C=10.254.7.1 ADDR_T=10.254.7.2 # a /30 inside them only

# ---- can we? -----------------------------------------------------------------------------
((EUID == 0)) || skip "network namespaces need root (run as root to cut a real link)"
command -v ip >/dev/null || skip "no ip command (iproute2)"
# Namespaces of earlier runs that were killed before cleaning up: their pid is gone.
for ns in $(ip netns list 2>/dev/null | grep -oE '^plsf[ct][0-9]+' || true); do
    pid=${ns#plsf?}
    kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
done
if ! ip netns add "$NS_C" 2>"/tmp/plsfed-ns.$$"; then
    msg=$(cat "/tmp/plsfed-ns.$$")
    rm -f "/tmp/plsfed-ns.$$"
    skip "cannot make a network namespace here (ip netns add: $msg)"
fi
rm -f "/tmp/plsfed-ns.$$"
ns_cleanup() {
    ip netns del "$NS_C" 2>/dev/null || true
    ip netns del "$NS_T" 2>/dev/null || true
}
trap 'ns_cleanup' EXIT # until fed_setup installs the harness's exit trap
ip netns add "$NS_T" || { ns_cleanup; skip "cannot make a second network namespace"; }
if ! ip -n "$NS_C" link add vc type veth peer name vt netns "$NS_T" 2>/dev/null; then
    ns_cleanup
    skip "cannot make a veth pair between namespaces (no veth support?)"
fi
ip -n "$NS_C" addr add "$ADDR_C/30" dev vc
ip -n "$NS_T" addr add "$ADDR_T/30" dev vt
for ns in "$NS_C" "$NS_T"; do
    ip -n "$ns" link set lo up
done
ip -n "$NS_C" link set vc up
ip -n "$NS_T" link set vt up
CUT_WITH="nft"
if ! command -v nft >/dev/null || ! ip netns exec "$NS_T" nft list tables >/dev/null 2>&1; then
    CUT_WITH="link"
fi

fed_setup
pls_on_exit ns_cleanup
pls_note "namespaces $NS_C ($ADDR_C) and $NS_T ($ADDR_T), cut with $CUT_WITH"

# ---- brokers and workers in their namespaces -----------------------------------------------
declare -A NS_OF=([dg]=$NS_C [humen]=$NS_T)
declare -A ADDR_OF=([dg]=$ADDR_C [humen]=$ADDR_T)

# plsctl against broker NAME, from inside its namespace (fed.sh's helpers call this).
pls_ctl_at() {
    local name=$1 ep
    ep=$(pls_endpoint "$name")
    shift
    ip netns exec "${NS_OF[$name]}" "$PLS_BUILD_DIR/cli/plsctl" --broker "$ep" "$@"
}

# ns_broker NAME NODE [ARGS...]: pls-broker in NAME's namespace on its address, port 7700 (a
# namespace of our own: no one else listens there); waits until its log says it is ready.
ns_broker() {
    local name=$1 node=$2 log lines=0
    shift 2
    log=$T/$name.log
    [[ -f $log ]] && lines=$(wc -l <"$log")
    pls_start "$name" ip netns exec "${NS_OF[$name]}" "$PLS_BUILD_DIR/broker/pls-broker" \
        --node "$node" --listen "tcp://${ADDR_OF[$name]}:7700" --db "${FED_DB[$name]}" \
        --topology "$FED_CSV" --insecure "$@"
    PLS__BROKER[$name]=1
    printf -v "BROKER_$name" '%s' "tcp://${ADDR_OF[$name]}:7700"
    pls_wait_for 40 fed__log_ready "$log" "$lines" ||
        pls_wait_for 20 fed__answers "$name" || fail "broker $name not ready (log: $log)"
    pls_note "broker $name ($node) in ${NS_OF[$name]} on $(pls_endpoint "$name")"
}
fed__answers() { pls_ctl_at "$1" --timeout 1 status >/dev/null 2>&1; }
fed__log_ready() { tail -n +$(($2 + 1)) "$1" | grep -q 'info: ready'; }

ns_worker() { # ns_worker PROC NAME SCOPE DEPTS
    pls_start "$1" ip netns exec "${NS_OF[$2]}" "$PLS_BUILD_DIR/workers/pls-worker" \
        --broker "$(pls_endpoint "$2")" --node "$3" --dept "$4" --builtin noop --concurrency 4 \
        --name "w-$3"
}

fed_topology humen
FED_DB[dg]=$(pls_createdb dg)
FED_DB[humen]=$(pls_createdb humen)
FED_NODE[dg]=dg
FED_NODE[humen]=dg.humen
FED_NAMES=(dg humen)
ns_broker dg dg
ns_broker humen dg.humen --parent "$(pls_endpoint dg)"
ns_worker w_dg dg dg "$FED_ALL_DEPTS"
ns_worker w_humen humen dg.humen "$FED_ALL_DEPTS"
ns_worker w_humen_v1 humen "$(fed_village humen 1)" "$FED_VILLAGE_DEPTS"
ns_worker w_humen_v2 humen "$(fed_village humen 2)" "$FED_VILLAGE_DEPTS"
pls_wait_for 30 fed__workers_at dg 1 || fail "the city lists no worker"
pls_wait_for 30 fed__workers_at humen 3 || fail "dg.humen does not list its 3 workers"
pls_wait_for 30 fed__links_idle || fail "the link dg.humen -> dg does not come up"

# ---- before the cut ----------------------------------------------------------------------
fed_gen_orders humen "$WARM" warm- >"$T/warm.tsv"
ip netns exec "$NS_T" "$FED_LOAD" --broker "$(pls_endpoint humen)" --in "$T/warm.tsv" \
    --out "$T/humen.acked" || fail "warm-up orders not acknowledged"
fed_wait_completed 60 humen="$WARM" dg=0

# ---- the cut, while orders keep arriving -------------------------------------------------
fed_gen_orders humen "$N_LOAD" cut- >"$T/load.tsv"
pls_start load_humen ip netns exec "$NS_T" "$FED_LOAD" --broker "$(pls_endpoint humen)" \
    --in "$T/load.tsv" --out "$T/humen.acked" --rate "$RATE" --deadline-s $((LOAD_S + CUT_S + 120))
sleep 5

link_cut() {
    if [[ $CUT_WITH == nft ]]; then
        ip netns exec "$NS_T" nft -f - <<EOF
table inet pls_cut {
    chain in { type filter hook input priority 0; policy accept; ip saddr $ADDR_C drop; }
    chain out { type filter hook output priority 0; policy accept; ip daddr $ADDR_C drop; }
}
EOF
    else
        ip -n "$NS_T" link set vt down
    fi
}
link_heal() {
    if [[ $CUT_WITH == nft ]]; then
        ip netns exec "$NS_T" nft delete table inet pls_cut
    else
        ip -n "$NS_T" link set vt up
    fi
}

acked0=$(wc -l <"$T/humen.acked")
cut_ms=$(fed_now_ms)
link_cut
t_cut=$SECONDS
pls_note "link cut ($CUT_WITH) for ${CUT_S}s; dg.humen has acknowledged $acked0 orders"

pls_wait_for "$CUT_S" fed__link_down humen ||
    fail "dg.humen still shows its link to dg connected $((SECONDS - t_cut)) s into the cut"
pls_note "dg.humen: link to dg down after $((SECONDS - t_cut)) s"
# Let the town work on its own for the rest of the cut, then look before healing.
rest=$((CUT_S - (SECONDS - t_cut) - 1))
((rest > 0)) && sleep "$rest"

st=$(pls_ctl_at humen --json status)
link=$(jq -c '.links[] | select(.peer == "dg") | {connected, outbox, oldest_unacked_s}' <<<"$st")
pls_note "dg.humen status during the cut: $link"
assert_eq "$(jq -r .connected <<<"$link")" false "dg.humen's link to dg during the cut"
(($(jq -r .outbox <<<"$link") > 0)) || fail "dg.humen's outbox to dg is empty during the cut"
city_link=$(pls_ctl_at dg --json status | jq -r '.links[] | select(.peer == "dg.humen") | .connected')
assert_eq "$city_link" false "the city's link to dg.humen during the cut"
pls_ctl_at humen status | sed -n '/^Links/,$p' >&2 || true

# Orders taken in during the cut: the town's own steps completed, legal aid waiting.
since="created_at >= to_timestamp($cut_ms / 1000.0)"
done_own=$(fed_count humen "$since AND service IN ('consult', 'mediation', 'lawyer', 'resettlement',
    'village_counsel') AND state = 'completed'")
all_own=$(fed_count humen "$since AND service IN ('consult', 'mediation', 'lawyer', 'resettlement',
    'village_counsel')")
la=$(fed_sql humen "SELECT coalesce(string_agg(state || '=' || n, ' '), 'none') FROM
    (SELECT state, count(*) AS n FROM orders WHERE $since AND service = 'legal_aid' GROUP BY 1) s")
acked_cut=$(($(wc -l <"$T/humen.acked") - acked0))
pls_note "during the cut dg.humen took $acked_cut orders; town-only services: $done_own of $all_own completed; legal aid: $la"
((acked_cut > 0)) || fail "dg.humen took no orders during the cut"
((done_own > 0)) || fail "no town-only order taken in during the cut was completed during it"
((done_own >= all_own - 2 * RATE)) ||
    fail "town-only orders taken in during the cut: only $done_own of $all_own completed"
assert_not_contains "$la" "completed" "legal aid taken in during the cut (needs the city)"
[[ $la == *forwarded=* ]] || fail "no legal aid order waiting as forwarded during the cut ($la)"

link_heal
pls_note "link restored after $((SECONDS - t_cut)) s"

# ---- after: the backlog drains -----------------------------------------------------------
fed_load_wait load_humen $((LOAD_S + CUT_S + 120))
n=$(wc -l <"$T/humen.acked")
assert_eq "$n" $((WARM + N_LOAD)) "orders acknowledged by dg.humen"
fed_wait_completed "$DONE_S" humen="$n" dg=0
fed_acked_present humen "$T/humen.acked"
fed_acked_present dg "$T/humen.acked"
pls_wait_for 60 fed__links_idle || fail "links not idle after the backlog drained"
fed_check_all
pls_note "PASS: $n orders, ${CUT_S}s cut, 0 lost, 0 duplicated"
