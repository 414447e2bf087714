# shellcheck shell=bash
# bench_lib.sh — helpers shared by the benchmarks (bench_throughput.sh, bench_latency.sh,
# bench_memory.sh, bench_restart.sh). Source it after harness.sh and pls_setup:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
#   source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
#   pls_setup
#   bench_machine > "$T/machine.json"
#
# Every benchmark prints one JSON object on stdout: what ran, on which machine, the figures
# of pls-bench, PostgreSQL's own limit measured in the same run (pgbench), the CPU that
# PostgreSQL used, and the target it is compared with. It exits 0 when the run itself
# worked, whatever the figures: benchmarks measure, they do not pass or fail on numbers.
#
# Knobs: PLS_BENCH_PGBENCH_S (seconds of each pgbench run, default 20; 0 skips pgbench).

BENCH=$PLS_BUILD_DIR/bench/pls-bench
[[ -x $BENCH ]] || skip "$BENCH not built"
command -v jq >/dev/null || skip "jq not installed"

# bench_pg_dir: the directory of the PostgreSQL the test uses (its socket directory).
bench_pg_dir() {
    echo "$PLS__PG_HOST"
}

# bench_pg_cpu: CPU seconds used so far by the PostgreSQL server of this test — the
# postmaster and every process below it, with the children it has already reaped.
bench_pg_cpu() {
    local pm hz
    pm=$(head -n 1 "$(bench_pg_dir)/data/postmaster.pid" 2>/dev/null) || {
        echo null
        return
    }
    hz=$(getconf CLK_TCK)
    {
        echo "$pm"
        pls__descendants "$pm"
    } | while read -r pid; do
        # fields after "(comm)": utime 14, stime 15, cutime 16, cstime 17 (1-based overall)
        local stat f
        { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || continue
        read -ra f <<<"${stat##*) }"
        echo $((f[11] + f[12] + f[13] + f[14]))
    done | awk -v hz="$hz" '{ s += $1 } END { printf "%.2f\n", s / hz }'
}

# bench_machine: a JSON object describing this machine and its load right now.
bench_machine() {
    local model load pgver rev
    model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    pgver=$("$PLS_PGBIN/postgres" --version 2>/dev/null || echo unknown)
    rev=$(git -C "$PLS_SOURCE_DIR" describe --always --dirty 2>/dev/null ||
        cat "$PLS_SOURCE_DIR/REVISION" 2>/dev/null || echo unknown)
    jq -n --arg model "$model" --arg load "$load" --arg pg "$pgver" --arg kernel "$(uname -r)" \
        --arg rev "$rev" \
        --argjson cpus "$(nproc)" \
        --argjson mem_mb "$(awk '/MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)" \
        --arg fsync "$(pls_sql "SHOW fsync") / synchronous_commit $(pls_sql "SHOW synchronous_commit")" \
        '{cpus: $cpus, cpu_model: $model, mem_mb: $mem_mb, kernel: $kernel, postgresql: $pg,
          durability: $fsync, loadavg_before: $load, source: $rev}'
}

# bench_pgbench_db NAME: a fresh database with the table of the one-row INSERT that
# $T/pgbench.sql (written here) runs; prints its conninfo.
bench_pgbench_db() {
    local db
    db=$(pls_createdb "$1")
    pls_sql_db "$db" "CREATE TABLE one_row (id bigserial PRIMARY KEY, at timestamptz NOT NULL
        DEFAULT now(), v text NOT NULL)" >/dev/null
    echo "INSERT INTO one_row (v) VALUES ('x');" >"$T/pgbench.sql"
    echo "$db"
}

# bench_pgbench: PostgreSQL's own limit on this server, now: one-row INSERT per
# transaction from 1 and from 16 clients, PLS_BENCH_PGBENCH_S seconds each. Prints JSON.
bench_pgbench() {
    local secs=${PLS_BENCH_PGBENCH_S:-20} db out1 out16
    if ((secs == 0)); then
        echo null
        return
    fi
    db=$(bench_pgbench_db pgbench)
    local pgbench=$PLS_PGBIN/pgbench cpu0 cpu1 cpu2
    cpu0=$(bench_pg_cpu)
    out1=$("$pgbench" -n -c 1 -j 1 -T "$secs" -f "$T/pgbench.sql" "$db" 2>&1) ||
        fail "pgbench -c 1 failed: $out1"
    cpu1=$(bench_pg_cpu)
    out16=$("$pgbench" -n -c 16 -j 2 -T "$secs" -f "$T/pgbench.sql" "$db" 2>&1) ||
        fail "pgbench -c 16 failed: $out16"
    cpu2=$(bench_pg_cpu)
    # PostgreSQL's CPU per transaction: what one durable one-row commit costs the server
    jq -n --argjson secs "$secs" \
        --argjson c1 "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out1")" \
        --argjson l1 "$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out1")" \
        --argjson n1 "$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out1")" \
        --argjson c16 "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out16")" \
        --argjson l16 "$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out16")" \
        --argjson n16 "$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out16")" \
        --argjson cpu1 "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')" \
        --argjson cpu16 "$(awk -v a="$cpu1" -v b="$cpu2" 'BEGIN { printf "%.2f", b - a }')" \
        '{script: "INSERT INTO one_row (v) VALUES (...) — one row per transaction",
          seconds: $secs,
          clients_1: {tps: $c1, latency_ms: $l1, postgres_cpu_s: $cpu1,
                      postgres_cpu_us_per_tx: (if $n1 > 0 then ($cpu1 * 1e6 / $n1 | floor)
                                               else null end)},
          clients_16: {tps: $c16, latency_ms: $l16, postgres_cpu_s: $cpu16,
                        postgres_cpu_us_per_tx: (if $n16 > 0 then ($cpu16 * 1e6 / $n16 | floor)
                                                 else null end)}}'
}

# bench_pgbench_rate RATE: PostgreSQL's own commit latency at a fixed rate: one-row INSERT
# transactions from 1 client on a schedule of RATE per second (pgbench -R), for
# PLS_BENCH_PGBENCH_S seconds, after a CHECKPOINT. One client, as the broker has one write
# connection: a transaction due while the last one commits waits for it, as a submit does.
# Prints JSON: percentiles from the scheduled start (what a caller on that schedule sees)
# and of the transaction alone (pgbench's -l log, without its schedule lag).
bench_pgbench_rate() {
    local rate=$1 secs=${PLS_BENCH_PGBENCH_S:-20} db out
    if ((secs == 0)); then
        echo null
        return
    fi
    db=$(bench_pgbench_db pgbench_rate)
    bench_checkpoint "$db"
    rm -f "$T"/pgbench_rate.*
    out=$("$PLS_PGBIN/pgbench" -n -c 1 -j 1 -R "$rate" -T "$secs" -f "$T/pgbench.sql" \
        -l --log-prefix="$T/pgbench_rate" "$db" 2>&1) || fail "pgbench -R $rate failed: $out"
    # log lines: client tx latency_us script epoch_s epoch_us lag_us
    pctl() {
        sort -n | awk '{ a[NR] = $1 } END {
            if (NR == 0) { print "null"; exit }
            printf "{\"n\": %d, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}\n",
                NR, a[int(NR * .50) + 1] / 1000, a[int(NR * .90) + 1] / 1000,
                a[int(NR * .99) + 1] / 1000, a[NR] / 1000 }'
    }
    jq -n --argjson rate "$rate" --argjson secs "$secs" \
        --argjson sched "$(cat "$T"/pgbench_rate.* | awk '{ print $3 }' | pctl)" \
        --argjson alone "$(cat "$T"/pgbench_rate.* | awk '{ print $3 - $7 }' | pctl)" \
        '{script: "INSERT INTO one_row (v) VALUES (...) — one row per transaction, 1 client",
          rate_per_s: $rate, seconds: $secs, latency_ms_from_schedule: $sched,
          latency_ms_of_transaction: $alone}'
}

# bench_checkpoint [CONNINFO]: CHECKPOINT, so a run does not start with a checkpoint due.
bench_checkpoint() {
    pls_sql_db "${1:-$PLS_DB}" "CHECKPOINT" >/dev/null
}

# bench_run NAME ARGS...: runs pls-bench with ARGS; its JSON goes to $T/NAME.json (and is
# kept as a test artifact), its progress to stderr. Fails the benchmark if pls-bench fails.
bench_run() {
    local name=$1 st=0
    shift
    pls_note "pls-bench $*"
    "$BENCH" "$@" >"$T/$name.json" 2> >(tee "$T/$name.err" >&2) || st=$?
    jq -e . "$T/$name.json" >/dev/null 2>&1 || fail "pls-bench printed no JSON (exit status $st)"
    ((st == 0)) || fail "pls-bench failed (exit status $st): $(jq -r .error "$T/$name.json")"
}
