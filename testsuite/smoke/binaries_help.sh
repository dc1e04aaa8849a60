#!/usr/bin/env bash
# TAP test: each binary prints its option table on --help, exits 0, and rejects bad flags.
set -u
pd=$1 kv=$2 sql=$3 ctl=$4
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { # name, command, expected substring
  local out
  out=$("${@:2:$#-2}" 2>&1) && [[ "$out" == *"${@: -1}"* ]] && ok "$1" || notok "$1"
}
check "pd --help"      "$pd" --help "--tso-save-window"
check "kvnode --help"  "$kv" --help "--region-split-size"
check "sqlnode --help" "$sql" --help "--max-allowed-packet"
check "ctl --help"     "$ctl" --help "--pd"
for b in "$pd" "$kv" "$sql"; do
  if "$b" --no-such-flag=1 >/dev/null 2>&1; then notok "$(basename "$b") rejects unknown flag"
  else ok "$(basename "$b") rejects unknown flag"; fi
done
if "$sql" --max-connections=0 >/dev/null 2>&1; then notok "sqlnode bounds check"
else ok "sqlnode bounds check"; fi
echo "1..$n"
