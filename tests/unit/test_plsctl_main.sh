#!/usr/bin/env bash
# The plsctl binary: global options, usage and help, and the exit codes of
# DESIGN §3 as a script sees them (no broker: port 9 has no listener).
set -u
plsctl="${PLS_BUILD_DIR:?}/cli/plsctl"
[ -x "$plsctl" ] || { echo "no $plsctl"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect CODE STDOUT_PATTERN STDERR_PATTERN -- ARGS...   (patterns: grep -E; '' = must be empty)
expect() {
    local code=$1 out_pat=$2 err_pat=$3
    shift 4
    "$plsctl" "$@" <"${STDIN:-/dev/null}" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    local ok=1
    [ "$rc" = "$code" ] || ok=0
    if [ -z "$out_pat" ]; then [ ! -s "$tmp/out" ] || ok=0; else grep -Eq -- "$out_pat" "$tmp/out" || ok=0; fi
    if [ -z "$err_pat" ]; then [ ! -s "$tmp/err" ] || ok=0; else grep -Eq -- "$err_pat" "$tmp/err" || ok=0; fi
    if [ $ok = 0 ]; then
        echo "FAIL: plsctl $* -> exit $rc (wanted $code)"
        echo "  stdout: $(head -c 400 "$tmp/out")"
        echo "  stderr: $(head -c 400 "$tmp/err")"
        failures=$((failures + 1))
    else
        echo "ok: plsctl $* -> exit $rc"
    fi
}

nobody=tcp://127.0.0.1:9
expect 2 '' '^usage: plsctl' --
expect 0 'exit status:' '' -- --help
expect 0 'tcp://127.0.0.1:7700' '' -- --help
expect 0 '^usage: plsctl \[global options\] submit' '' -- submit --help
expect 0 'need-info approve\|refuse ID' '' -- help need-info
expect 2 '' 'unknown option --bogus' -- --bogus status
expect 2 '' "unknown command 'stauts' \(did you mean 'status'\?\)" -- stauts
expect 2 '' '^plsctl: submit: missing --service CODE' -- submit --origin dg --desc x
expect 3 '' "^plsctl: no answer from $nobody within 0.5 s\$" -- --timeout 0.5 --broker $nobody status
expect 3 '' "^plsctl: no answer from $nobody within 0.5 s\$" -- --broker $nobody requeue DG-HM-1 --timeout 0.5
PLS_BROKER=$nobody expect 3 '' "no answer from $nobody" -- --timeout 0.3 list --overdue
expect 2 '' 'standard input was empty' -- --broker $nobody submit --service consult --origin dg --desc -
printf '工资被拖欠\n' >"$tmp/desc"
STDIN="$tmp/desc" expect 3 '' 'no answer' -- --timeout 0.3 --broker $nobody submit --service consult --origin dg --desc -

# output that cannot be written is an error, not a silent success
"$plsctl" --help >/dev/full 2>"$tmp/err"
rc=$?
if [ $rc = 1 ] && grep -q 'could not write the output' "$tmp/err"; then
    echo "ok: plsctl --help >/dev/full -> exit 1"
else
    echo "FAIL: plsctl --help >/dev/full -> exit $rc: $(cat "$tmp/err")"
    failures=$((failures + 1))
fi

[ $failures = 0 ] || { echo "$failures failed"; exit 1; }
echo "all passed"
