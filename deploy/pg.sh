#!/usr/bin/env bash
# pg.sh — run a private PostgreSQL 15 server for the tests and the demo.
#
# Usage:
#   pg.sh start DIR [PORT]           initialise DIR (first time) and start the server;
#                                    prints the conninfo of database "postgres" on stdout
#   pg.sh stop DIR [-m MODE]         stop it: fast by default; "-m immediate" is a crash
#                                    (no checkpoint; the next start runs WAL recovery)
#   pg.sh status DIR                 exit 0 if the server of DIR is running, 3 if not
#   pg.sh createdb DIR NAME          create database NAME (nothing to do if it exists)
#   pg.sh dropdb DIR NAME            drop database NAME, closing its connections
#   pg.sh conninfo DIR [DBNAME]      print "host=DIR port=PORT dbname=DBNAME user=postgres"
#   pg.sh psql DIR [DBNAME] [ARGS]   run psql on it (DBNAME defaults to postgres)
#   pg.sh free-port                  print a free TCP port of 127.0.0.1 (see below)
#   pg.sh watch DIR PID              when process PID ends, crash-stop the server of DIR and
#                                    delete DIR (a detached watchdog, for test scripts that
#                                    may be killed with SIGKILL before their clean-up runs)
#
# Layout of DIR:  DIR/data (PGDATA, with the server log in DIR/data/postgresql.log),
# DIR/port (the port, reused by later starts), DIR/.s.PGSQL.PORT (the unix socket).
#
# Why it looks like this (docs/DEVELOPING.md says more):
# - PostgreSQL refuses to run as root. As root we run initdb/pg_ctl as the "postgres" user
#   (runuser), so DIR must be reachable and writable by postgres: use a directory under /tmp
#   or /var/tmp (mktemp -d /tmp/pls-pg.XXXXXX); a path under /root is not readable by it.
#   As any other user the binaries run as that user.
# - The binaries are those of /usr/lib/postgresql/15/bin (not on PATH on Debian).
# - The server listens on its socket directory (DIR) and on 127.0.0.1 only, never on port
#   5432 (that belongs to the system cluster of the postgresql package, which we leave alone).
# - Authentication is "trust" for the socket and 127.0.0.1: fine for a throw-away test or demo
#   cluster on a single-user machine, never for a shared or production server.
# - fsync and synchronous_commit are always on: tests must see what production sees.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PG_SUPERUSER=postgres
# Ports handed out by free-port lie below Linux's ephemeral range (32768-60999), so neither
# ZeroMQ's "tcp://127.0.0.1:*" nor outgoing connections can take them from under us.
PORT_MIN=20000
PORT_MAX=32767
PORT_RESERVATIONS=${TMPDIR:-/tmp}/pls-ports

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Runs a PostgreSQL server binary as the owner of the cluster: "postgres" when we are root.
# The working directory is / because the caller's (a clone under /root) may be unreadable.
as_pg() {
    if ((EUID == 0)); then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# free_port: prints a TCP port on which nothing listens or connects, and reserves it for
# 10 minutes (a directory under $PORT_RESERVATIONS) so that two callers that pick ports before
# binding them never get the same one.
free_port() {
    local tries port
    [[ -d $PORT_RESERVATIONS ]] || mkdir -m 1777 "$PORT_RESERVATIONS" 2>/dev/null || true
    find "$PORT_RESERVATIONS" -mindepth 1 -maxdepth 1 -mmin +10 -exec rm -rf {} + 2>/dev/null || true
    for ((tries = 0; tries < 200; tries++)); do
        port=$((PORT_MIN + (RANDOM * 32768 + RANDOM) % (PORT_MAX - PORT_MIN + 1)))
        if [[ -z $(ss -Htan "( sport = :$port )" 2>/dev/null) ]] &&
            mkdir "$PORT_RESERVATIONS/$port" 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "no free port found in $PORT_MIN-$PORT_MAX"
}

port_in_use() {
    [[ -n $(ss -Htln "( sport = :$1 )" 2>/dev/null) ]]
}

# Resolves DIR to an absolute physical path (the socket path must not depend on symlinks).
abs_dir() {
    [[ -n ${1:-} ]] || usage
    [[ -d $1 ]] || die "$1: no such directory"
    (cd "$1" && pwd -P)
}

stored_port() {
    [[ -r $1/port ]] || die "$1 has no port file: was it started with 'pg.sh start $1'?"
    cat "$1/port"
}

is_running() {
    [[ -f $1/data/PG_VERSION ]] && as_pg "$PGBIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1
}

conninfo() {
    echo "host=$1 port=$(stored_port "$1") dbname=${2:-postgres} user=$PG_SUPERUSER"
}

psql_at() {
    local dir=$1 db=$2
    shift 2
    "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -h "$dir" -p "$(stored_port "$dir")" \
        -U "$PG_SUPERUSER" -d "$db" "$@"
}

check_dbname() {
    [[ $1 =~ ^[a-z_][a-z0-9_]{0,62}$ ]] ||
        die "bad database name '$1' (want lowercase letters, digits and _, at most 63)"
}

# Writes the settings of the cluster; postgresql.conf includes this file. Rewritten at every
# start so a new port or a moved DIR is picked up.
write_settings() {
    local dir=$1 port=$2
    as_pg tee "$dir/data/pls.conf" >/dev/null <<EOF
# Written by deploy/pg.sh at every start: edit pg.sh, not this file.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
# Durability exactly as in production: never turn these off.
fsync = on
synchronous_commit = on
full_page_writes = on
# A small machine doing many short commits.
shared_buffers = 256MB
max_connections = 200
max_wal_size = 2GB
checkpoint_timeout = 15min
# Logging goes to the file given to pg_ctl -l (DIR/data/postgresql.log).
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = -1
EOF
}

init_cluster() {
    local dir=$1
    if [[ -e $dir/data ]]; then
        echo "pg.sh: $dir/data is not a complete cluster (no PG_VERSION): initialising again" >&2
        rm -rf "$dir/data"
    fi
    echo "pg.sh: initdb $dir/data" >&2
    as_pg "$PGBIN/initdb" -D "$dir/data" -U "$PG_SUPERUSER" --auth-local=trust \
        --auth-host=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        {
            tail -n 20 "$dir/initdb.log" >&2
            die "initdb failed (log: $dir/initdb.log)"
        }
    as_pg tee -a "$dir/data/postgresql.conf" >/dev/null <<'EOF'

# PLS Dispatch settings (deploy/pg.sh)
include 'pls.conf'
EOF
}

cmd_start() {
    local dir port
    dir=$(abs_dir "${1:-}")
    port=${2:-}
    [[ -x $PGBIN/pg_ctl ]] || die "$PGBIN/pg_ctl not found: run deploy/install-deps.sh"
    ((${#dir} + 18 < 107)) || die "$dir: path too long for a unix socket"
    if ((EUID == 0)); then
        chown postgres:postgres "$dir"
        chmod 0755 "$dir"
        runuser -u postgres -- test -w "$dir" -a -x "$dir" 2>/dev/null ||
            die "user postgres cannot write $dir (is it under /root?): use a directory under /tmp or /var/tmp"
    fi
    if is_running "$dir"; then
        if [[ -n $port && $port != "$(stored_port "$dir")" ]]; then
            die "already running on port $(stored_port "$dir"), not $port: stop it first"
        fi
        echo "pg.sh: already running" >&2
        conninfo "$dir"
        return 0
    fi
    if [[ -z $port && -r $dir/port ]]; then
        port=$(cat "$dir/port")
        if port_in_use "$port"; then
            echo "pg.sh: port $port (used before) is busy now: choosing another" >&2
            port=
        fi
    fi
    [[ -n $port ]] || port=$(free_port)
    if ! [[ $port =~ ^[0-9]+$ ]] || ((port <= 1024 || port >= 65536 || port == 5432)); then
        die "bad port '$port' (1025-65535, never 5432)"
    fi
    port_in_use "$port" && die "port $port is already in use"
    echo "$port" >"$dir/port"

    [[ -f $dir/data/PG_VERSION ]] || init_cluster "$dir"
    write_settings "$dir" "$port"
    if ! as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/data/postgresql.log" -w -t 120 \
        start >&2; then
        tail -n 30 "$dir/data/postgresql.log" >&2 || true
        die "could not start the server of $dir (log: $dir/data/postgresql.log)"
    fi
    conninfo "$dir"
}

cmd_stop() {
    local dir mode=fast
    dir=$(abs_dir "${1:-}")
    shift
    if (($#)); then
        [[ $1 == -m && -n ${2:-} ]] || usage
        mode=$2
    fi
    if ! is_running "$dir"; then
        echo "pg.sh: not running" >&2
        return 0
    fi
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >&2
}

cmd_status() {
    local dir
    dir=$(abs_dir "${1:-}")
    if is_running "$dir"; then
        echo "running: $(conninfo "$dir")"
    else
        echo "not running"
        return 3
    fi
}

cmd_createdb() {
    local dir
    dir=$(abs_dir "${1:-}")
    [[ -n ${2:-} ]] || usage
    check_dbname "$2"
    if [[ -n $(psql_at "$dir" postgres -Atq -c "SELECT 1 FROM pg_database WHERE datname = '$2'") ]]; then
        echo "pg.sh: database $2 exists" >&2
        return 0
    fi
    psql_at "$dir" postgres -q -c "CREATE DATABASE $2"
}

cmd_dropdb() {
    local dir
    dir=$(abs_dir "${1:-}")
    [[ -n ${2:-} ]] || usage
    check_dbname "$2"
    psql_at "$dir" postgres -q -c "DROP DATABASE IF EXISTS $2 WITH (FORCE)"
}

# The watchdog runs in its own session, re-parented to init, so that neither the caller's
# process group nor ctest's kill of a timed-out test's process tree reaches it. It also ends
# when DIR disappears (the caller cleaned up normally).
cmd_watch() {
    local dir pid self
    dir=$(abs_dir "${1:-}")
    pid=${2:-}
    [[ $pid =~ ^[0-9]+$ ]] || usage
    self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
    # shellcheck disable=SC2016 # expanded by the watchdog's shell
    (
        setsid bash -c '
            while kill -0 "$2" 2>/dev/null && [[ -d $1 ]]; do sleep 1; done
            if [[ -d $1 ]]; then
                bash "$0" stop "$1" -m immediate
                rm -rf "$1"
            fi' "$self" "$dir" "$pid" </dev/null >/dev/null 2>&1 &
    )
}

main() {
    local cmd=${1:-}
    (($#)) && shift
    case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    createdb) cmd_createdb "$@" ;;
    dropdb) cmd_dropdb "$@" ;;
    conninfo)
        local dir
        dir=$(abs_dir "${1:-}")
        conninfo "$dir" "${2:-}"
        ;;
    psql)
        local dir db
        dir=$(abs_dir "${1:-}")
        db=${2:-postgres}
        shift $(($# < 2 ? $# : 2))
        psql_at "$dir" "$db" "$@"
        ;;
    free-port) free_port ;;
    watch) cmd_watch "$@" ;;
    *) usage ;;
    esac
}

main "$@"
