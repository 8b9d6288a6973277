#!/usr/bin/env bash
# The benchmark of docs/benchmark.md: the fanout comparison scenario (1 publisher, 30 frames/s
# x 4000 bytes, N = 20, 100, 200 subscribers) three times each, then one run of every other
# scenario, all against the embedded controller and SFU processes (release builds). Every run
# appends a row to $OUT (CSV); the medians of each figure over the three runs are printed.
#
#   cargo build --release -p newmedia-loadtest -p newmedia-sfu -p newmedia-controller
#   bash loadtest/benchmark.sh [OUT.csv]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CARGO_TARGET_DIR:-target}/release
OUT=${1:-target/benchmark.csv}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
rm -f "$OUT"
lt() { "$BIN/newmedia-loadtest" --embedded --quiet --duration "$DURATION" --csv "$OUT" "$@" >/dev/null; }

for n in 20 100 200; do
  for run in $(seq "$RUNS"); do
    echo "fanout N=$n run $run" >&2
    lt fanout --subscribers "$n" --fps 30 --frame-bytes 4000 --label "fanout-$n"
  done
done
echo "webinar" >&2;    lt webinar --subscribers 50 --label webinar-50
echo "conference" >&2; lt conference --rooms 5 --participants 4 --label conference-5x4
echo "audio room" >&2; lt audio-room --speakers 6 --listeners 100 --label audio-room-6+100

# Medians per label of every numeric column (three runs; a single run is its own median).
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) name[i] = $i; cols = NF; next }
  { label = $1; n[label]++; if (!(label in seen)) { seen[label] = 1; order[++labels] = label }
    for (i = 4; i <= cols; i++) v[label, i, n[label]] = $i }
  END {
    printf "label"; for (i = 4; i <= cols; i++) printf ",%s", name[i]; printf "\n"
    for (l = 1; l <= labels; l++) {
      label = order[l]; printf "%s", label
      for (i = 4; i <= cols; i++) {
        k = n[label]; for (j = 1; j <= k; j++) a[j] = v[label, i, j]
        for (x = 1; x <= k; x++) for (y = x + 1; y <= k; y++) if (a[y] + 0 < a[x] + 0) { t = a[x]; a[x] = a[y]; a[y] = t }
        printf ",%s", a[int((k + 1) / 2)]
      }
      printf "\n"
    }
  }' "$OUT"
