# CPU time of commands, in rounds: sourced by the bench scripts that time
# a few commands alternately (verify.sh, fetch-identity.sh). Needs GNU time.

# bench_cpu OUT IN CMD... runs CMD with stdin from IN and stdout to OUT
# (stderr dropped), and prints its CPU seconds, user + system.
bench_cpu() {
  local out=$1 in=$2 times
  shift 2
  times=$(mktemp)
  /usr/bin/time -f '%U %S' -o "$times" "$@" <"$in" >"$out" 2>/dev/null
  awk '{printf "%.3f", $1 + $2}' "$times"
  rm -f "$times"
}

# bench_median X... prints the median of the numbers.
bench_median() {
  printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}

# bench_rounds ROUNDS NAME FUNC [NAME FUNC]... runs each FUNC (which
# prints the CPU seconds of what it ran, as bench_cpu does) in turn, ROUNDS
# times, so a change in the machine's load falls on all of them alike; it
# prints every round, then the medians, and leaves the medians in
# BENCH_MEDIANS in the order given.
bench_rounds() {
  local rounds=$1 i k line
  shift
  local -a names=() funcs=() cpu=()
  while [ $# -gt 0 ]; do names+=("$1") funcs+=("$2"); shift 2; done
  for i in $(seq "$rounds"); do
    line="round $i: CPU"
    for k in "${!funcs[@]}"; do
      local v
      v=$("${funcs[$k]}")
      cpu[k]+="$v "
      line+="$([ "$k" = 0 ] || echo ,) ${names[k]} $v s"
    done
    echo "$line"
  done
  BENCH_MEDIANS=()
  line="medians (CPU user+sys):"
  for k in "${!funcs[@]}"; do
    # shellcheck disable=SC2086 # the round's figures, split on purpose
    BENCH_MEDIANS+=("$(bench_median ${cpu[k]})")
    line+="$([ "$k" = 0 ] || echo ,) ${names[k]} ${BENCH_MEDIANS[k]} s"
  done
  echo "$line; load now $(cut -d' ' -f1-3 /proc/loadavg)"
}
