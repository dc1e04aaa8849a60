#!/usr/bin/env bash
# TAP test: `sim raft --seed S` replays a run exactly — the same trace hash and the same trace,
# run after run — and `--trace` prints one line per event.
set -u
sim=$1
n=0 bad=0
check() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else bad=$((bad + 1)); echo "not ok $n - $2"; fi; }
for seed in 7 1234 99999; do
  a=$("$sim" raft --seed "$seed" | grep '^trace-hash')
  b=$("$sim" raft --seed "$seed" | grep '^trace-hash')
  [ -n "$a" ] && [ "$a" = "$b" ]; check $? "seed $seed: same trace hash twice ($a)"
done
t1=$(mktemp) t2=$(mktemp)
trap 'rm -f "$t1" "$t2"' EXIT
"$sim" raft --seed 7 --trace >"$t1"
"$sim" raft --seed 7 --trace >"$t2"
cmp -s "$t1" "$t2"; check $? "seed 7: identical traces"
lines=$(grep -c . "$t1")
[ "$lines" -gt 1000 ]; check $? "seed 7: trace has one line per event ($lines lines)"
h1=$(grep '^trace-hash' "$t1") h2=$("$sim" raft --seed 7 | grep '^trace-hash')
[ "$h1" = "$h2" ]; check $? "tracing does not change the run"
c=$("$sim" raft --seed 8 | grep '^trace-hash')
[ "$c" != "$h2" ]; check $? "different seeds give different runs"
echo "1..$n"
[ $bad -eq 0 ]
