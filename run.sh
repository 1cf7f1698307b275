#!/usr/bin/env bash
# btw-backup: the one entry point. Each step is idempotent and quiet when already done.
#   ./run.sh install-deps   system packages the program and its tests need (Debian)
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
  "rdiff-backup:/usr/bin/rdiff-backup"
  "postgresql:/usr/bin/pg_dump"
  "postgresql:/usr/lib/postgresql/*/bin/initdb"
  "s3cmd:/usr/bin/s3cmd"
  "nodejs:/usr/bin/node"
  "npm:/usr/bin/npm"
)

install_deps() {
  local missing=() d f
  for d in "${deps[@]}"; do
    f=$(compgen -G "${d#*:}" | head -1 || true)
    [[ -n $f ]] || missing+=("${d%%:*}")
  done
  readarray -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | grep . || true)
  if ((${#missing[@]} > 0)); then install_packages "${missing[@]}"; fi
  # The S3 test server (s3rver, from the npm registry), pinned by its package-lock.json.
  if [[ ! -d tests/s3-server/node_modules/s3rver ]]; then
    echo "run.sh: installing the S3 test server (npm ci in tests/s3-server)" >&2
    (cd tests/s3-server && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
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
     && [[ -z $(find src hocon Directory.Build.props -newer "$stamp" -type f 2>/dev/null | head -1) ]]; then
    return 0
  fi
  dotnet publish src/BtwBackup.Cli/BtwBackup.Cli.csproj -c Release -o out --nologo -v quiet -clp:ErrorsOnly >/dev/null
  touch "$stamp"
}

run_tests() {
  dotnet build BtwBackup.sln -c Release --nologo -v quiet -clp:ErrorsOnly >/dev/null
  local status=0
  BTW_BACKUP_EXE="$here/out/btw-backup" dotnet test BtwBackup.sln -c Release --no-build --nologo 2>&1 \
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

  if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    local pg; pg=$(mktemp -d /tmp/btw-backup-demo-pg.XXXXXX)
    echo "demo: starting a private PostgreSQL server under $pg with a sample database 'shop'"
    export PGHOST=$pg PGPORT=$((20000 + RANDOM % 20000))
    pg_start "$pg" "$PGPORT"
    trap 'pg_stop "$pg"; rm -rf "$pg"' EXIT
    createdb shop
    psql -q -X shop -c "create table item (id int primary key, name text); insert into item values (1, 'tea'), (2, 'cake');"
    echo "\$ btw-backup db shop db/shop && btw-backup db -g db/global"; $b db shop db/shop; $b db -g db/global
    psql -q -X shop -c "insert into item values (3, 'jam');"
    echo "demo: a row added, then the same two commands again"; $b db shop db/shop; $b db -g db/global
    echo "\$ btw-backup list db/shop"; $b list db/shop
    echo "\$ btw-backup list db/global"; $b list db/global
    echo "\$ cat $root/db/global/log.txt"; cat "$root/db/global/log.txt"
    pg_stop "$pg"; rm -rf "$pg"; trap - EXIT
  fi
  echo "demo: done. The log of the tool is $cfg/btw-backup.log; remove $tmp when you are done."
}

case "${1:-}" in
  install-deps) install_deps ;;
  build) build ;;
  test) install_deps; build; run_tests ;;
  demo) install_deps; build; demo ;;
  bench) install_deps; build; shift; exec bench/run "$@" ;;
  *) echo "usage: ./run.sh {install-deps|build|test|demo|bench}" >&2; exit 2 ;;
esac
