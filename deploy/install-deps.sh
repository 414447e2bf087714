#!/usr/bin/env bash
# install-deps.sh — install the Debian 12 packages PLS Dispatch needs to build, test and run.
#
# Usage: bash deploy/install-deps.sh [--check]
#
# Run as root on a Debian 12 machine that reaches Debian's apt mirror (nothing else is
# needed). Idempotent: when every package is already installed it does not touch apt at
# all, so a second run takes well under a second. --check only reports what is missing
# (exit 1 if anything is) and never installs.
#
# The postgresql package creates and may start its own cluster on port 5432. We never use
# it: deploy/pg.sh runs private servers on other ports. It is left as the package made it.
#
# Every command the scripts in deploy/ and tests/ call comes from a package listed here:
#   cmake, make, cc ........... cmake, build-essential     pkg-config ...... pkg-config
#   initdb, pg_ctl, psql ...... postgresql (15), postgresql-client via postgresql
#   runuser, setsid, flock .... util-linux                 ss .............. iproute2
#   ps, pgrep ................. procps                     jq .............. jq
#   nft ....................... nftables (network-fault tests)
#   mktemp, timeout, shuf, etc. coreutils (always installed)
set -euo pipefail

PACKAGES=(
    # build
    build-essential cmake pkg-config
    # libraries (headers + pkg-config files)
    libzmq3-dev libpq-dev libprotobuf-c-dev protobuf-c-compiler libuv1-dev libcmocka-dev
    libjansson-dev libyajl-dev
    # database server and client (PostgreSQL 15 on Debian 12)
    postgresql postgresql-contrib postgresql-client
    # tools used by the scripts and tests
    jq iproute2 nftables procps util-linux coreutils tzdata ca-certificates
)

die() {
    echo "install-deps: $*" >&2
    exit 1
}

# Prints the packages of PACKAGES that are not fully installed, one per line.
missing_packages() {
    local -A ok=()
    local name status
    while read -r name status; do
        [[ $status == installed ]] && ok[${name%%:*}]=1
    done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
    for name in "${PACKAGES[@]}"; do
        [[ -n ${ok[$name]:-} ]] || echo "$name"
    done
}

[[ -r /etc/debian_version ]] || die "this script supports Debian 12 only (no /etc/debian_version)"
command -v dpkg-query >/dev/null || die "dpkg-query not found: not a Debian system?"

mapfile -t missing < <(missing_packages)

if [[ ${1:-} == --check ]]; then
    if ((${#missing[@]})); then
        echo "install-deps: missing: ${missing[*]}" >&2
        exit 1
    fi
    echo "install-deps: all ${#PACKAGES[@]} packages installed"
    exit 0
elif [[ -n ${1:-} ]]; then
    die "usage: install-deps.sh [--check]"
fi

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

echo "install-deps: installing: ${missing[*]}"
if ((EUID != 0)); then
    die "not root: run 'sudo bash deploy/install-deps.sh' (or install: ${missing[*]})"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# Only the missing ones: naming an installed package would upgrade it as a side effect.
apt-get install -y -q --no-install-recommends "${missing[@]}"

mapfile -t missing < <(missing_packages)
((${#missing[@]} == 0)) || die "still missing after apt-get install: ${missing[*]}"
[[ -x /usr/lib/postgresql/15/bin/pg_ctl ]] ||
    die "PostgreSQL 15 binaries not found in /usr/lib/postgresql/15/bin"
echo "install-deps: done"
