#!/usr/bin/env bash
# bench_callgrind.sh — instructions per order in each broker of a town → city flow, and in a
# single broker, counted by valgrind --tool=callgrind (issue 5: what limits the figures). Instruction counts do not
# depend on what else the machine is doing, so two revisions can be compared on a shared
# machine where timings swing by ±10 % and more (docs/BENCHMARKS.md §6 item 23).
#
# pls-bench starts the town and the city broker under callgrind (a copy of pls-bench beside a
# wrapper named pls-broker), at a fixed rate each broker keeps up with under the emulator,
# twice: SMALL orders, then LARGE orders, each on fresh databases. A broker's instructions
# per order are (its count in the large run − in the small run) / (LARGE − SMALL), so its
# start (migrations, loading) drops out. The single broker runs the same way with
# PLS_BENCH_SINGLE_SERVICE (consult: submit, assign, accept, complete) at 5 × RATE with
# 4 workers. Label "long". Prints one JSON object on stdout; with
# PLS_KEEP_TMP=1 the callgrind files stay in $T/small and $T/large for callgrind_annotate.
#
# Knobs: PLS_BENCH_RATE (10), PLS_BENCH_SMALL (100), PLS_BENCH_LARGE (500),
# PLS_BENCH_SERVICE (legal_aid).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
command -v valgrind >/dev/null || skip "valgrind not installed"
pls_setup

rate=${PLS_BENCH_RATE:-10}
small=${PLS_BENCH_SMALL:-100}
large=${PLS_BENCH_LARGE:-500}
service=${PLS_BENCH_SERVICE:-legal_aid}
((large > small)) || fail "PLS_BENCH_LARGE ($large) must be more than PLS_BENCH_SMALL ($small)"

# $T/cg/bench/pls-bench finds $T/cg/broker/pls-broker beside it: callgrind running the real one
mkdir -p "$T/cg/bench" "$T/cg/broker"
cp "$BENCH" "$T/cg/bench/pls-bench"
real=$(cd "$PLS_BUILD_DIR/broker" && pwd)/pls-broker
cat >"$T/cg/broker/pls-broker" <<EOF
#!/usr/bin/env bash
exec valgrind --tool=callgrind --callgrind-out-file="\$PLS_CG_OUT.%p" "$real" "\$@"
EOF
chmod +x "$T/cg/broker/pls-broker"

# ir FILE: the instructions a callgrind file counted
ir() {
    awk '/^(summary|totals):/ { print $2; exit }' "$1"
}
# run NAME ORDERS PLS-BENCH-ARGS...: pls-bench with its brokers under callgrind, then one
# line "NODE INSTRUCTIONS" per broker into $T/NAME.ir (each callgrind file names the
# broker's command line, and so its --node)
run() {
    local name=$1 orders=$2 f
    shift 2
    mkdir -p "$T/$name"
    PLS_CG_OUT=$T/$name/cg BENCH=$T/cg/bench/pls-bench bench_run "$name" --orders "$orders" \
        --submitters 2 --broker-log "$T/$name-broker.log" "$@"
    for f in "$T/$name"/cg.*; do
        echo "$(sed -n 's/^cmd: .* --node \([^ ]*\) .*/\1/p' "$f" | head -n 1) $(ir "$f")"
    done >"$T/$name.ir"
}
# count NAME NODE: the instructions of NODE's broker in run NAME
count() {
    local n
    n=$(awk -v node="$2" '$1 == node { print $2 }' "$T/$1.ir")
    [[ -n $n ]] || fail "no callgrind count of $2 in $T/$1"
    echo "$n"
}
fed() {
    run "$1" "$2" --db "$(pls_createdb "${1}_town")" --city-db "$(pls_createdb "${1}_city")" \
        --federation --service "$service" --workers 8 --rate "$rate"
}
single() {
    run "$1" "$2" --db "$(pls_createdb "$1")" --service "$single_service" --workers 4 \
        --rate $((rate * 5))
}

export PLS_CG_OUT
single_service=${PLS_BENCH_SINGLE_SERVICE:-consult}
fed small "$small"
fed large "$large"
single single_small $((small * 2))
single single_large $((large * 2))
t1=$(count small dg.humen)
c1=$(count small dg)
t2=$(count large dg.humen)
c2=$(count large dg)
s1=$(count single_small dg)
s2=$(count single_large dg)
jq -n --argjson machine "$(bench_machine)" --slurpfile s "$T/small.json" \
    --slurpfile l "$T/large.json" --argjson small "$small" --argjson large "$large" \
    --argjson t1 "$t1" --argjson t2 "$t2" --argjson c1 "$c1" --argjson c2 "$c2" \
    --argjson s1 "$s1" --argjson s2 "$s2" --arg single_service "$single_service" \
    --arg cmd "pls-bench --db TOWN --city-db CITY --federation --service $service --workers 8 --submitters 2 --rate $rate --orders N (brokers under valgrind --tool=callgrind)" \
    '{benchmark: "callgrind", machine: $machine, command: $cmd,
      orders: {small: $small, large: $large},
      instructions: {town: {small: $t1, large: $t2}, city: {small: $c1, large: $c2}},
      instructions_per_order: {town: (($t2 - $t1) / ($large - $small) | floor),
                               city: (($c2 - $c1) / ($large - $small) | floor),
                               both: (($t2 - $t1 + $c2 - $c1) / ($large - $small) | floor),
                               single: (($s2 - $s1) / (2 * ($large - $small)) | floor)},
      single: {service: $single_service, orders: {small: (2 * $small), large: (2 * $large)},
               instructions: {small: $s1, large: $s2}},
      commits: {small: $s[0].commits, large: $l[0].commits},
      submit_to_complete_p50_ms: {small: $s[0].submit_to_complete_ms.p50,
                                  large: $l[0].submit_to_complete_ms.p50},
      files: "with PLS_KEEP_TMP=1: callgrind files in the test directory, small/ and large/"}'
