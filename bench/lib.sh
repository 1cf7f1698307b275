# Helpers for bench/run.
section() { printf '\n## %s\n\n' "$*"; }

need() { # PROGRAM-or-glob PACKAGE
  compgen -G "$1" >/dev/null || command -v "$1" >/dev/null || {
    echo "bench: installing $2" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 || {
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
    }
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

# The table of a hyperfine --export-json file: the median of each command first (the machines are noisy).
medians() { # JSON
  python3 - "$1" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
first = results[0]["median"]
print("| command | median | mean ± σ | min - max | median / first |")
print("|---|---|---|---|---|")
for r in results:
    ms = lambda v: "%.1f ms" % (v * 1000)
    print("| `%s` | **%s** | %s ± %.1f | %s - %s | %.2f |" % (r["command"], ms(r["median"]), ms(r["mean"]), r["stddev"] * 1000, ms(r["min"]), ms(r["max"]), r["median"] / first))
PY
}

source "$(dirname "${BASH_SOURCE[0]}")/../scripts/pg.sh"

# Runs commands in turn ROUNDS times (a PREPARE command before each run) and prints
# the median wall time of each and the first one's ratio to each other: alternating spreads the machine's noise evenly.
alternate() { # ROUNDS PREPARE NAME1 CMD1 NAME2 CMD2 [NAME3 CMD3 ...]: rounds run each once in turn
  local rounds=$1 prepare=$2 i j s e; shift 2
  local names=() cmds=() medians=()
  while (($# >= 2)); do names+=("$1"); cmds+=("$2"); shift 2; done
  local -A times=()
  for i in $(seq 1 "$rounds"); do
    for j in "${!cmds[@]}"; do
      bash -c "$prepare"; s=$(date +%s%N); bash -c "${cmds[j]}" >/dev/null 2>&1; e=$(date +%s%N)
      times[$j]+="$(((e - s) / 1000000)) "
    done
  done
  for j in "${!cmds[@]}"; do
    medians[j]=$(printf '%s\n' ${times[$j]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '| %s | %d ms | %s |\n' "${names[j]}" "${medians[j]}" "${times[$j]% }"
  done
  for j in "${!cmds[@]}"; do
    ((j == 0)) && continue
    printf 'ratio %s / %s: %s; difference %d ms\n' "${names[0]}" "${names[j]}" "$(echo "scale=2; ${medians[0]} / ${medians[j]}" | bc)" $((medians[0] - medians[j]))
  done
}
