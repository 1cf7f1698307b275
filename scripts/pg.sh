# A private PostgreSQL cluster in a folder (data, socket and log there), for the demo and the
# benchmarks. As root the server runs as the postgres user (initdb refuses root).
pg_start() { # DIR PORT
  local dir=$1 port=$2 bin as=()
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  if [[ $(id -u) -eq 0 ]]; then chown postgres "$dir"; as=(runuser -u postgres --); fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust --no-sync -U postgres >/dev/null
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses='' -c fsync=off" start >/dev/null
  createuser -h "$dir" -p "$port" -U postgres -s "$(id -un)"
}

pg_stop() { # DIR
  local bin as=()
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  [[ $(id -u) -eq 0 ]] && as=(runuser -u postgres --)
  "${as[@]}" "$bin/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
}
