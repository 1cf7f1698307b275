#!/usr/bin/env bash
# btw-backup: the one entry point. Each step is idempotent and quiet when already done.
#   ./run.sh install-deps   system packages the program, its build and its tests need (Debian)
#   ./run.sh build          build and publish the CLI to out/btw-backup
#   ./run.sh test           install-deps, build, then every test (unit, actor, integration)
#   ./run.sh demo           the main job on a throw-away configuration, for a newcomer
#   ./run.sh bench          the benchmarks (figures for the closing notes; not part of test)
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Debian packages, each with a file that proves it is there.
deps=(
  "tar:/usr/bin/tar"
  "bzip2:/usr/bin/bzip2"
  # tar archives and the globals are compressed on every core by lbzip2 (the same .tbz); bzip2 without it.
  "lbzip2:/usr/bin/lbzip2"
  "rdiff-backup:/usr/bin/rdiff-backup"
  "postgresql:/usr/bin/pg_dump"
  "postgresql:/usr/lib/postgresql/*/bin/initdb"
  "s3cmd:/usr/bin/s3cmd"
  "nodejs:/usr/bin/node"
  "npm:/usr/bin/npm"
  "age:/usr/bin/age"
  # The status page's test drives Debian's browser; the service unit is checked by systemd-analyze.
  "chromium:/usr/bin/chromium"
  "chromium-driver:/usr/bin/chromedriver"
  "systemd:/usr/bin/systemd-analyze"
)

# What the build itself needs: the native front (out/btw-backup) is compiled ahead of time by clang.
build_deps=(
  "clang:/usr/bin/clang"
  "zlib1g-dev:/usr/include/zlib.h"
)

ensure_packages() { # PACKAGE:FILE...
  local missing=() d f
  for d in "$@"; do
    f=$(compgen -G "${d#*:}" | head -1 || true)
    [[ -n $f ]] || missing+=("${d%%:*}")
  done
  readarray -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | grep . || true)
  if ((${#missing[@]} > 0)); then install_packages "${missing[@]}"; fi
}

install_deps() {
  ensure_packages "${deps[@]}" "${build_deps[@]}"
  # The S3 test server (s3rver, from the npm registry), pinned by its package-lock.json:
  # installed again whenever the lock changes, or an earlier install was cut off.
  local lock stamp=tests/s3-server/node_modules/.btw-lock
  lock=$(sha256sum tests/s3-server/package-lock.json | cut -d' ' -f1)
  if [[ ! -d tests/s3-server/node_modules/s3rver || $(cat "$stamp" 2>/dev/null) != "$lock" ]]; then
    echo "run.sh: installing the S3 test server (npm ci in tests/s3-server)" >&2
    (cd tests/s3-server && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$lock" > "$stamp"
  fi
}

install_packages() {
  local missing=("$@")
  echo "run.sh: installing ${missing[*]}" >&2
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian package starts a cluster of its own; btw-backup's tests and demo use private ones.
}

source "$here/scripts/pg.sh"

build() {
  local stamp=out/.build-stamp
  if [[ -x out/btw-backup && -f $stamp ]] \
     && [[ -z $(find src hocon Directory.Build.props -newer "$stamp" -type f -not -path '*/bin/*' -not -path '*/obj/*' 2>/dev/null | head -1) ]]; then
    return 0
  fi
  ensure_packages "${build_deps[@]}"
  # out/btw-backup is the native front (help, version and usage errors; every command goes on to
  # the CLI, self-contained with its runtime in out/lib). Nothing of an earlier layout is left.
  rm -rf out
  dotnet publish src/BtwBackup.Cli/BtwBackup.Cli.csproj -c Release -o out/lib --nologo -v quiet -clp:ErrorsOnly >/dev/null
  dotnet publish src/BtwBackup.Launcher/BtwBackup.Launcher.csproj -c Release -o out --nologo -v quiet -clp:ErrorsOnly >/dev/null
  touch "$stamp"
}

run_tests() {
  dotnet build BtwBackup.sln -c Release --nologo -v quiet -clp:ErrorsOnly >/dev/null
  local status=0
  # A test that hangs is killed after 10 minutes and fails, naming itself, instead of eating CI's time.
  BTW_BACKUP_EXE="$here/out/btw-backup" dotnet test BtwBackup.sln -c Release --no-build --nologo \
    --blame-hang-timeout 10m --blame-hang-dump-type none 2>&1 \
    | tee out/test.log || status=$?
  # One closing line over every test assembly: "N passed, N failed, N skipped".
  local passed failed skipped
  passed=$(grep -oE 'Passed: +[0-9]+' out/test.log | awk '{s+=$2} END {print s+0}')
  failed=$(grep -oE 'Failed: +[0-9]+' out/test.log | awk '{s+=$2} END {print s+0}')
  skipped=$(grep -oE 'Skipped: +[0-9]+' out/test.log | awk '{s+=$2} END {print s+0}')
  echo "tests: $passed passed, $failed failed, $skipped skipped"
  ((passed > 0)) || { echo "run.sh: no test ran" >&2; return 1; }
  ((failed == 0 && status == 0))
}

demo_pg=""
demo() {
  local tmp cfg root exe=out/btw-backup
  tmp=$(mktemp -d /tmp/btw-backup-demo.XXXXXX)
  cfg=$tmp/config root=$tmp/root
  mkdir -p "$cfg" "$root" "$tmp/www" "$tmp/notes"
  echo "demo: everything lives under $tmp"
  printf '<h1>hello</h1>\n' >"$tmp/www/index.html"
  mkdir -p "$tmp/www/static" && head -c 20000 /dev/urandom | base64 >"$tmp/www/static/app.js"
  printf 'first note\n' >"$tmp/notes/todo.txt"
  printf 'root-path = "%s"\n' "$root" >"$cfg/btw-backup.conf"
  echo "demo: configuration $cfg/btw-backup.conf:"; sed 's/^/    /' "$cfg/btw-backup.conf"

  local b="$exe --config-dir $cfg"
  echo "\$ btw-backup fs-init --type rdiff $tmp/www www"; $b fs-init --type rdiff "$tmp/www" www
  echo "\$ btw-backup fs-init --type tar $tmp/notes notes"; $b fs-init --type tar "$tmp/notes" notes
  echo "\$ btw-backup fs $tmp/www www && btw-backup fs $tmp/notes notes"
  $b fs "$tmp/www" www; $b fs "$tmp/notes" notes
  echo "demo: changing a file in each tree, then backing up again"
  printf '<h1>hello, again</h1>\n' >"$tmp/www/index.html"; printf 'second note\n' >>"$tmp/notes/todo.txt"
  $b fs "$tmp/www" www; $b fs "$tmp/notes" notes
  echo "demo: backing up once more with nothing changed (skipped, noted in log.txt)"
  $b fs "$tmp/www" www; $b fs "$tmp/notes" notes
  echo "\$ btw-backup list www"; $b list www
  echo "\$ btw-backup list notes"; $b list notes
  echo "\$ cat $root/www/log.txt"; cat "$root/www/log.txt"

  local sources
  sources=$(printf '  www   { type = rdiff, path = "%s", dst = "www" }\n  notes { type = tar, path = "%s", dst = "notes" }' "$tmp/www" "$tmp/notes")
  if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    demo_pg=$(mktemp -d /tmp/btw-backup-demo-pg.XXXXXX)
    local pg=$demo_pg
    echo "demo: starting a private PostgreSQL server under $pg with a sample database 'shop'"
    export PGHOST=$pg PGPORT=$((20000 + RANDOM % 20000))
    pg_start "$pg" "$PGPORT"
    trap 'pg_stop "$demo_pg"; rm -rf "$demo_pg"' EXIT
    createdb shop
    psql -q -X shop -c "create table item (id int primary key, name text); insert into item values (1, 'tea'), (2, 'cake');"
    echo "\$ btw-backup db shop db/shop && btw-backup db -g db/global"; $b db shop db/shop; $b db -g db/global
    psql -q -X shop -c "insert into item values (3, 'jam');"
    echo "demo: a row added, then the same two commands again"; $b db shop db/shop; $b db -g db/global
    echo "\$ btw-backup list db/shop"; $b list db/shop
    echo "\$ btw-backup list db/global"; $b list db/global
    echo "\$ cat $root/db/global/log.txt"; cat "$root/db/global/log.txt"
    sources+=$(printf '\n  shop    { type = pg-dump, database = shop, dst = "db/shop" }\n  globals { type = pg-globals, dst = "db/global" }')
  fi

  demo_daemon "$tmp" "$cfg" "$root" "$sources"
  if [[ -n $demo_pg ]]; then pg_stop "$demo_pg"; rm -rf "$demo_pg"; trap - EXIT; fi
  echo "demo: done. The log of the tool is $cfg/btw-backup.log; remove $tmp when you are done."
}

# The orchestrator: the same sources in btw-backup.conf, an S3 test server as destination, the
# daemon serving, one pass and status through the CLI (over Akka.Remote), then both stopped.
demo_daemon() {
  local tmp=$1 cfg=$2 root=$3 sources=$4 b="out/btw-backup --config-dir $2"
  local s3port=$((20000 + RANDOM % 20000)) port=$((20000 + RANDOM % 20000)) s3pid daemon
  echo "demo: starting the S3 test server on 127.0.0.1:$s3port"
  mkdir -p "$tmp/s3"
  NODE_OPTIONS=--openssl-legacy-provider node tests/s3-server/server.js --port "$s3port" --directory "$tmp/s3" --bucket demo \
    >"$tmp/s3.out" 2>&1 &
  s3pid=$!
  for _ in $(seq 100); do grep -q '^ready' "$tmp/s3.out" 2>/dev/null && break; sleep 0.1; done
  printf '[default]\naccess_key = S3RVER\nsecret_key = S3RVER\nhost_base = 127.0.0.1:%s\nhost_bucket = 127.0.0.1:%s\nuse_https = False\n' \
    "$s3port" "$s3port" >"$tmp/s3cmd.cfg"
  cat >"$cfg/btw-backup.conf" <<CONF
root-path = "$root"
sources {
$sources
}
destinations {
  demo { uri = "s3://demo/backups/", s3cmd-config = "$tmp/s3cmd.cfg" }
}
daemon { port = $port }
CONF
  echo "demo: the same trees (and database) as configured sources, mirrored to S3:"; sed 's/^/    /' "$cfg/btw-backup.conf"
  echo "\$ btw-backup serve &"
  $b serve >"$tmp/daemon.out" 2>&1 &
  daemon=$!
  for _ in $(seq 100); do grep -q 'daemon: serving' "$tmp/daemon.out" 2>/dev/null && break; sleep 0.1; done
  sed 's/^/    daemon| /' "$tmp/daemon.out"
  echo "demo: a new destination receives what root already holds first"
  echo "\$ btw-backup sync --full"; $b sync --full
  printf 'demo: a change in www, then one pass through the CLI (sent to the daemon)\n'
  printf '<h1>hello, daemon</h1>\n' >"$tmp/www/index.html"
  echo "\$ btw-backup run"; $b run || true
  echo "\$ btw-backup status"; $b status
  echo "\$ s3cmd ls --recursive s3://demo/backups/ (first lines)"
  s3cmd -c "$tmp/s3cmd.cfg" ls --recursive s3://demo/backups/ >"$tmp/s3.ls"; head -8 "$tmp/s3.ls"
  echo "demo: getting the data back, as on the worst day: from S3 only, then checking everything"
  echo "\$ btw-backup restore --from demo www $tmp/restored-www"; $b restore --from demo www "$tmp/restored-www"
  diff -r "$tmp/www" "$tmp/restored-www" && echo "demo: the restored tree is identical to $tmp/www"
  echo "\$ btw-backup verify"; $b verify || true
  echo "demo: what the daemon logged (stdout):"; grep -E 'gateway|pass|source' "$tmp/daemon.out" | cut -c1-160 | sed 's/^/    daemon| /'
  echo "\$ kill -TERM <daemon>"; kill -TERM "$daemon"; wait "$daemon" || true
  tail -2 "$tmp/daemon.out" | cut -c1-160 | sed 's/^/    daemon| /'
  kill "$s3pid" 2>/dev/null; wait "$s3pid" 2>/dev/null || true
}

case "${1:-}" in
  install-deps) install_deps ;;
  build) build ;;
  test) install_deps; build; run_tests ;;
  demo) install_deps; build; demo ;;
  bench) install_deps; build; shift; exec bench/run "$@" ;;
  *) echo "usage: ./run.sh {install-deps|build|test|demo|bench}" >&2; exit 2 ;;
esac
