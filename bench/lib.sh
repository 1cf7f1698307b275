# Helpers for bench/run.
section() { printf '\n## %s\n\n' "$*"; }

need() { # PROGRAM-or-glob PACKAGE
  compgen -G "$1" >/dev/null || command -v "$1" >/dev/null || {
    echo "bench: installing $2" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  }
}

# A tree of about SIZE_MB megabytes: a mix of text-like and random files in folders.
make_tree() { # DIR SIZE_MB
  local dir=$1 mb=$2 i
  mkdir -p "$dir"
  for i in $(seq 1 $((mb / 2))); do
    mkdir -p "$dir/d$((i % 20))"
    head -c 1048576 /dev/urandom >"$dir/d$((i % 20))/r$i.bin"
    head -c 786432 /dev/urandom | base64 -w 100 >"$dir/d$((i % 20))/t$i.txt"
  done
}

# Runs a command, samples the peak RSS (VmHWM) of that process, prints wall time and peak.
peak_rss() { # COMMAND
  local start end pid hwm=0 cur
  start=$(date +%s.%N)
  $1 & pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    cur=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [[ -n $cur && $cur -gt $hwm ]] && hwm=$cur
    sleep 0.05
  done
  wait "$pid"
  end=$(date +%s.%N)
  printf '    wall %.2f s, peak RSS of btw-backup %d MB\n' "$(echo "$end - $start" | bc)" "$((hwm / 1024))"
}

source "$(dirname "${BASH_SOURCE[0]}")/../scripts/pg.sh"

# Runs two commands alternately ROUNDS times (a PREPARE command before each run) and prints
# the median wall time of each and their ratio: alternating spreads the machine's noise evenly.
alternate() { # ROUNDS PREPARE NAME1 CMD1 NAME2 CMD2
  local rounds=$1 prepare=$2 n1=$3 c1=$4 n2=$5 c2=$6 i t1=() t2=() s e
  for i in $(seq 1 "$rounds"); do
    bash -c "$prepare"; s=$(date +%s%N); bash -c "$c1" >/dev/null 2>&1; e=$(date +%s%N); t1+=($(((e - s) / 1000000)))
    bash -c "$prepare"; s=$(date +%s%N); bash -c "$c2" >/dev/null 2>&1; e=$(date +%s%N); t2+=($(((e - s) / 1000000)))
  done
  local m1 m2
  m1=$(printf '%s\n' "${t1[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  m2=$(printf '%s\n' "${t2[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '| %s | %d ms | %s |\n| %s | %d ms | %s |\n' "$n1" "$m1" "${t1[*]}" "$n2" "$m2" "${t2[*]}"
  printf 'ratio %s / %s: %s; difference %d ms\n' "$n1" "$n2" "$(echo "scale=2; $m1 / $m2" | bc)" $((m1 - m2))
}
