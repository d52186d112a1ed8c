#!/usr/bin/env bash
# Helpers the end-to-end scripts of tests/cli source: a failure count, ok/fail lines, `expect` (an exit status and a
# needle in the output; status 1 must come with exactly one "strata: error:" line), and a run folder's losses.
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect() {  # expect RC NEEDLE -- command...
  local want=$1 needle=$2; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qF -- "$needle" <<<"$out"; then
    fail "$* -> rc $rc (want $want), output lacks '$needle':"; echo "$out" | head -5
  elif [ "$want" = 1 ] && [ "$(grep -c 'strata: error:' <<<"$out")" != 1 ]; then
    fail "$* -> not exactly one error line:"; echo "$out" | head -5
  else
    ok "$*"
  fi
}
losses() { grep -o '"loss":[^,}]*' "$1/metrics.jsonl" 2>/dev/null | cut -d: -f2; }  # per step, in order
