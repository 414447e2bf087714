#!/usr/bin/env bash
# gen-topology.sh — write the Dongguan topology: the city, its 32 towns and subdistricts
# (deploy/topology/dongguan-towns.csv) and generated village scopes below them.
#
# Usage: bash deploy/gen-topology.sh [--villages N (590)] [--towns FILE] [-o OUT]
#
#   --towns FILE   the city and towns, CSV id,name_zh,name_en,kind (default
#                  deploy/topology/dongguan-towns.csv, a copy of the public reference file
#                  reference/dongguan-towns.csv: Dongguan's 4 subdistricts and 28 towns)
#   --villages N   village scopes spread over the towns (default 590): every town gets
#                  N / towns of them, the first N % towns towns in file order one more
#   -o OUT         where to write (default deploy/topology/dongguan.csv; - = stdout)
#
# Output: the same CSV (id,name_zh,name_en,kind): the input rows as they are, each town
# followed by its villages dg.<town>.v01, dg.<town>.v02, ... (kind "village"; name_zh
# "<town>第01村(社区)", name_en "<Town> Village 01"). The ids are made up (the real village
# and community names are not in the reference data) but deterministic: the same input always
# gives the same file, byte for byte. Villages have no broker of their own; their desks and
# workers attach to the town's broker (DESIGN §2).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
towns_csv=$ROOT/deploy/topology/dongguan-towns.csv
out=$ROOT/deploy/topology/dongguan.csv
villages=590

die() {
    echo "gen-topology: $*" >&2
    exit 2
}

while (($#)); do
    case $1 in
    --villages)
        [[ ${2:-} =~ ^[0-9]+$ ]] || die "--villages: expected a number"
        villages=$2
        shift 2
        ;;
    --towns)
        [[ -r ${2:-} ]] || die "--towns: cannot read '${2:-}'"
        towns_csv=$2
        shift 2
        ;;
    -o)
        [[ -n ${2:-} ]] || die "-o: expected a file name"
        out=$2
        shift 2
        ;;
    -h | --help)
        sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done

generate() {
    LC_ALL=C.UTF-8 awk -F, -v villages="$villages" '
        NR == 1 {
            if ($0 != "id,name_zh,name_en,kind") {
                print "gen-topology: " FILENAME ": expected the header id,name_zh,name_en,kind" > "/dev/stderr"
                exit 2
            }
            print
            next
        }
        /^[ \t]*(#|$)/ { next }
        {
            n++
            row[n] = $0
            id[n] = $1
            zh[n] = $2
            en[n] = $3
            kind[n] = $NF
            if (split($1, parts, ".") == 2)
                towns++
        }
        END {
            if (towns == 0 && villages > 0) {
                print "gen-topology: no towns (ids like dg.humen) in the input" > "/dev/stderr"
                exit 2
            }
            per = towns ? int(villages / towns) : 0
            extra = towns ? villages % towns : 0
            t = 0
            for (i = 1; i <= n; i++) {
                print row[i]
                if (split(id[i], parts, ".") != 2)
                    continue
                t++
                k = per + (t <= extra ? 1 : 0)
                short = zh[i]
                sub(/(街道|镇)$/, "", short)
                for (v = 1; v <= k; v++)
                    printf "%s.v%02d,%s第%02d村(社区),%s Village %02d,village\n", id[i], v, short, v, en[i], v
            }
        }' "$towns_csv"
}

if [[ $out == - ]]; then
    generate
else
    tmp=$(mktemp "$out.XXXXXX")
    trap 'rm -f "$tmp"' EXIT
    generate >"$tmp"
    mv "$tmp" "$out"
    trap - EXIT
    chmod 0644 "$out"
    echo "gen-topology: wrote $out ($(grep -c ',village$' "$out") villages)" >&2
fi
