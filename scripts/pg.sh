#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests (Debian's postgresql package): `initdb` in a
# temporary folder, a free loopback port, and a streaming replica of it on another port,
# both stopped and removed when the caller's shell exits. Source it:  . scripts/pg.sh  →
# exports ZHTJ_TEST_POSTGRES (a connection string to the primary's `postgres` database,
# user `zhtj`, no password; each test creates a database of its own in it) and
# ZHTJ_TEST_POSTGRES_REPLICA (the same on the replica, where those databases appear).
#
# Settings for a throwaway test cluster, not for production: no fsync (the tests kill
# server processes, never PostgreSQL itself), room for many connections (test servers run
# in parallel, each with its pool).
set -euo pipefail
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$pg_bin" ]; then
  echo "scripts/pg.sh: PostgreSQL is not installed (Debian package postgresql)" >&2
  return 1 2>/dev/null || exit 1
fi
zhtj_pg_dir=$(mktemp -d /tmp/zhtj-pg.XXXXXX)
zhtj_pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# initdb refuses to run as root: the cluster then belongs to the `postgres` user.
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$zhtj_pg_dir"
  as_owner=(runuser -u postgres --)
fi
"${as_owner[@]}" "$pg_bin/initdb" -D "$zhtj_pg_dir/data" -U zhtj --auth=trust \
  --encoding=UTF8 --no-locale >"$zhtj_pg_dir/initdb.log" 2>&1 \
  || { cat "$zhtj_pg_dir/initdb.log" >&2; exit 1; }
"${as_owner[@]}" "$pg_bin/pg_ctl" -D "$zhtj_pg_dir/data" -l "$zhtj_pg_dir/server.log" -w \
  -o "-p $zhtj_pg_port -k $zhtj_pg_dir -c listen_addresses=127.0.0.1 -c fsync=off \
      -c synchronous_commit=off -c full_page_writes=off -c max_connections=500 \
      -c shared_buffers=128MB" start >/dev/null
zhtj_pg_stop() {
  "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$zhtj_pg_dir/replica" -m immediate stop >/dev/null 2>&1 || true
  "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$zhtj_pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$zhtj_pg_dir"
}
trap zhtj_pg_stop EXIT
# The streaming replica (initdb's pg_hba.conf trusts replication from 127.0.0.1).
zhtj_pg_replica_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_owner[@]}" "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$zhtj_pg_port" -U zhtj \
  -D "$zhtj_pg_dir/replica" -R -X stream >"$zhtj_pg_dir/basebackup.log" 2>&1 \
  || { cat "$zhtj_pg_dir/basebackup.log" >&2; exit 1; }
"${as_owner[@]}" "$pg_bin/pg_ctl" -D "$zhtj_pg_dir/replica" -l "$zhtj_pg_dir/replica.log" -w \
  -o "-p $zhtj_pg_replica_port -k $zhtj_pg_dir -c listen_addresses=127.0.0.1 -c fsync=off \
      -c max_connections=500 -c shared_buffers=64MB" start >/dev/null
export ZHTJ_TEST_POSTGRES="postgres://zhtj@127.0.0.1:$zhtj_pg_port/postgres"
export ZHTJ_TEST_POSTGRES_REPLICA="postgres://zhtj@127.0.0.1:$zhtj_pg_replica_port/postgres"
echo "==> PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') for the tests: $ZHTJ_TEST_POSTGRES (replica: port $zhtj_pg_replica_port)"
