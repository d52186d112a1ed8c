#!/usr/bin/env bash
# Checks the layering rule: a file may include headers of its own folder and of the folders below it, never of one
# above. The order, from the bottom, is the one in the top-level CMakeLists.txt. Prints each violation; exit 1 if any.
set -euo pipefail
cd "$(dirname "$0")/.."
layers=(core memory backend model formats tokenizer data optim offload config plan report engine cli)
declare -A rank
for i in "${!layers[@]}"; do rank[${layers[$i]}]=$i; done
bad=0
for dir in "${layers[@]}"; do
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"${line#*:}")
    top=${inc%%/*}
    [ -n "${rank[$top]+x}" ] || continue
    if [ "${rank[$top]}" -gt "${rank[$dir]}" ]; then
      echo "layering: $file ($dir) includes $inc ($top is above $dir)"
      bad=1
    fi
  done < <(grep -rHE '^\s*#\s*include "' "$dir" --include='*.h' --include='*.cpp' --include='*.cu' --include='*.cuh' --include='*.inc' || true)
done
[ "$bad" -eq 0 ] && echo "layering: ${#layers[@]} layers, no upward include"
exit "$bad"
