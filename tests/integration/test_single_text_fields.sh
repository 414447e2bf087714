#!/usr/bin/env bash
# test_single_text_fields.sh — what a desk types is stored exactly as typed. The broker writes
# a batch's rows as record literals (sql/007: quotes and backslashes escaped twice, NULL as an
# empty field), so every character that means something there is submitted here, in the
# description, the citizen's data and the order's fields:
#   - the stored description, name, phone, ID number, category and counterparty are byte for
#     byte what plsctl sent (compared as hex), including '"', '\', ',', '(', ')', '{', '}',
#     "'", a newline, a tab, leading and trailing spaces, the word NULL and Chinese text;
#   - an empty counterparty is stored as no value (NULL), the text "NULL" as that text;
#   - the order completes through a worker and `plsctl show` gives the description back.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_single_text_fields.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/single.sh"

single_setup
pls_start_broker dg dg
pls_start_worker w --node dg --dept "$SINGLE_ALL_DEPTS" --builtin noop --concurrency 4

nl=$'\n'
tab=$'\t'
desc=" 租客\"押金\"纠纷, (房东) {扣留} it's a \\ back\\slash \\\"q\\\"${nl}second line${tab}NULL "
name='O"Brien, (张) \ {x}'
phone='+86 (769) 2222-3333'
idnum='4419\00"1234,56'
category='NULL'
counterparty='房东 "王" \ (landlord), {co}'

hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
db_hex() { pls_sql "SELECT encode(convert_to($1, 'UTF8'), 'hex') FROM $2"; }

id=$(pls_ctl submit --service consult --origin dg --desc "$desc" --name "$name" --phone "$phone" \
    --id-number "$idnum" --id-type resident_id --category "$category" \
    --counterparty "$counterparty" --applicant-category migrant_worker)
[[ -n $id ]] || fail "submit printed no id"

where="orders WHERE id = '$id'"
assert_eq "$(db_hex descr "$where")" "$(hex "$desc")" "stored description (hex)"
assert_eq "$(db_hex "fields->>'category'" "$where")" "$(hex "$category")" "category 'NULL' is text"
assert_eq "$(db_hex "fields->>'counterparty'" "$where")" "$(hex "$counterparty")" "stored counterparty (hex)"
assert_eq "$(pls_sql "SELECT fields->>'applicant_category' FROM $where")" migrant_worker \
    "applicant category"
cit="citizens WHERE order_id = '$id'"
assert_eq "$(db_hex name "$cit")" "$(hex "$name")" "stored citizen name (hex)"
assert_eq "$(db_hex phone "$cit")" "$(hex "$phone")" "stored phone (hex)"
assert_eq "$(db_hex id_number "$cit")" "$(hex "$idnum")" "stored ID number (hex)"
assert_eq "$(pls_sql "SELECT id_type FROM $cit")" resident_id "stored ID type"

# no counterparty given: no value, not an empty text
id2=$(pls_ctl submit --service consult --origin dg --desc "无对方当事人" --category labour)
assert_eq "$(pls_sql "SELECT coalesce(fields->>'counterparty', '<null>') FROM orders WHERE id = '$id2'")" \
    "<null>" "absent counterparty"
assert_eq "$(pls_sql "SELECT count(*) FROM citizens WHERE order_id = '$id2'")" 0 \
    "no citizen row without citizen data"

single_wait_all_completed 30 || fail "orders did not complete"
assert_eq "$(single_show "$id" .state | tr -d '"')" completed "state of the order"
shown=$(pls_ctl --json show "$id" | jq -j .description)
assert_eq "$(hex "$shown")" "$(hex "$desc")" "plsctl show gives the description back (hex)"
# the stored plan and event entries are valid JSON the views can read
assert_eq "$(pls_sql "SELECT count(*) FROM event_entries WHERE order_id = '$id' AND kind = 'completed'")" 1 \
    "one completed entry"
assert_eq "$(pls_sql "SELECT plan->0->>'dept' FROM $where")" consult "stored plan"
pls_note "order $id: description of $(printf '%s' "$desc" | wc -c) bytes stored exactly"
