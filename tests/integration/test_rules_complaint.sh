#!/usr/bin/env bash
# test_rules_complaint.sh — complaints (投诉, DESIGN §5, §9, issue 4), one command center (dg) with
# no worker of the overseeing sections, so each complaint waits in the queue it was routed to:
#   - by --subject: lawyer → lawyer_admin (律管科), notary → notary_admin (公管科), mediator →
#     grassroots (基层科), staff → discipline; the subject wins over --about's service;
#   - without --subject, by the service of the order named by --about: lawyer and legal_aid →
#     lawyer_admin, notary → notary_admin, mediation and pro_mediation → grassroots, consult →
#     discipline (also for an order already completed, no longer in the broker's memory);
#     neither → discipline;
#   - each complaint is a city step: queued at dg for that department (show: dept, steps[0].dept,
#     the queued event), with the investigate step's 签收 limit;
#   - `plsctl --json show` of the order complained about lists its complaints (id, number,
#     state, subject) and nothing of the complainant (name, phone);
#   - refusals: --about an order that does not exist (404), an unknown subject (plsctl, usage).
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_rules_complaint.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/test_rules_lib.sh"

rules_setup
rules_broker dg dg

declare -A orig=()
for svc in lawyer legal_aid notary mediation pro_mediation consult; do
    orig[$svc]=$(pls_ctl_at dg submit --service "$svc" --origin dg --desc "original $svc order")
done
# an exam order completed by a worker: no longer in the broker's memory when complained about
orig[exam]=$(pls_ctl_at dg submit --service exam --origin dg --desc "original exam order")
pls_start_worker examiner --broker "$(pls_endpoint dg)" --node dg --dept exam --builtin noop --name examiner
rules_wait_state dg "${orig[exam]}" completed
pls_kill examiner

# complain WHAT ARGS...: submits a complaint (a citizen with a name and phone) and prints its id.
complain() {
    pls_ctl_at dg submit --service complaint --origin dg --desc "投诉: $1" --name 赵六 \
        --phone 13722223333 --id-number 440101199001011234 "${@:2}"
}

# expect ID DEPT WHAT: the complaint is a city step of DEPT, queued at dg.
expect() {
    local id=$1 dept=$2 what=$3 got
    rules_wait_state dg "$id" queued
    got=$(rules_show dg "$id" '[.service, .state, .node, .dept, .scope, .steps[0].dept, .steps[0].name,
        ([.events[] | select(.kind == "queued") | .payload.dept] | join(",")), .limits.kind] | join(" ")')
    assert_eq "$got" "complaint queued dg $dept dg $dept investigate $dept sign" "complaint $what"
    pls_note "complaint $what -> $dept"
}

declare -A about_of=() subject_of=()
c=$(complain "律师未按约定出庭" --subject lawyer --about "${orig[lawyer]}")
expect "$c" lawyer_admin "--subject lawyer --about a lawyer order"
about_of[$c]=lawyer subject_of[$c]=lawyer
c=$(complain "律师态度" --about "${orig[lawyer]}")
expect "$c" lawyer_admin "--about a lawyer order"
about_of[$c]=lawyer subject_of[$c]=
c=$(complain "公证员收费" --subject notary --about "${orig[lawyer]}")
expect "$c" notary_admin "--subject notary --about a lawyer order (the subject wins)"
about_of[$c]=lawyer subject_of[$c]=notary
c=$(complain "援助律师不尽责" --about "${orig[legal_aid]}")
expect "$c" lawyer_admin "--about a legal_aid order"
about_of[$c]=legal_aid subject_of[$c]=
c=$(complain "公证指引错误" --about "${orig[notary]}")
expect "$c" notary_admin "--about a notary order"
about_of[$c]=notary subject_of[$c]=
c=$(complain "调解员偏袒" --about "${orig[mediation]}")
expect "$c" grassroots "--about a mediation order"
about_of[$c]=mediation subject_of[$c]=
c=$(complain "行业调解拖延" --about "${orig[pro_mediation]}")
expect "$c" grassroots "--about a pro_mediation order"
about_of[$c]=pro_mediation subject_of[$c]=
c=$(complain "窗口人员答复错误" --about "${orig[consult]}")
expect "$c" discipline "--about a consult order"
about_of[$c]=consult subject_of[$c]=
c=$(complain "考试咨询答复错误" --about "${orig[exam]}")
expect "$c" discipline "--about a completed exam order (not in memory)"
about_of[$c]=exam subject_of[$c]=
c=$(complain "调解员迟到" --subject mediator)
expect "$c" grassroots "--subject mediator"
c=$(complain "工作人员态度差" --subject staff)
expect "$c" discipline "--subject staff"
c=$(complain "其他")
expect "$c" discipline "without --subject or --about"

# ---- visible from the order complained about, without the complainant -------------------------
for svc in lawyer legal_aid notary mediation pro_mediation consult exam; do
    doc=$(pls_ctl_at dg --json show "${orig[$svc]}")
    mine=()
    for c in "${!about_of[@]}"; do
        if [[ ${about_of[$c]} == "$svc" ]]; then mine+=("$c"); fi
    done
    want=$(printf '%s\n' "${mine[@]}" | sort | paste -sd ' ')
    got=$(jq -r '[.complaints // [] | .[].id] | sort | join(" ")' <<<"$doc")
    assert_eq "$got" "$want" "complaints listed in the $svc order"
    for c in "${mine[@]}"; do
        number=$(rules_show dg "$c" .number)
        got=$(jq -c --arg c "$c" '.complaints[] | select(.id == $c) | [keys, .number, .state]' <<<"$doc")
        assert_eq "$got" "[[\"id\",\"number\",\"state\",\"subject\"],\"$number\",\"queued\"]" \
            "the $svc order's complaint $c"
        got=$(jq -r --arg c "$c" '.complaints[] | select(.id == $c) | .subject // ""' <<<"$doc")
        [[ -z ${subject_of[$c]} || $got == "${subject_of[$c]}" ]] ||
            fail "the $svc order's complaint $c: subject '$got', expected '${subject_of[$c]}'"
    done
    for secret in 赵六 13722223333 440101199001011234 3333 1234; do
        assert_not_contains "$doc" "$secret" "show of the $svc order complained about names the complainant"
    done
done
pls_note "complaints listed at their orders: ${#about_of[@]}"

# ---- refusals --------------------------------------------------------------------------------
rules_refused dg 404 "about: no order 01890000-0000-7000-8000-000000000000 at this node to complain about" \
    submit --service complaint --origin dg --desc "x" --about 01890000-0000-7000-8000-000000000000
rc=0
err=$(pls_ctl_at dg submit --service complaint --origin dg --desc x --subject judge 2>&1) || rc=$?
assert_eq "$rc" 2 "plsctl submit --subject judge: exit status (usage)"
assert_contains "$err" "--subject: 'judge' is not one of lawyer" "plsctl submit --subject judge"
