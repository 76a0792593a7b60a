#!/usr/bin/env bash
# The module graph reads top-down (docs/architecture.md, "Layers"): no module of server/ may depend,
# through the headers it includes, on a module that depends back on it. A module is server/X.c with
# its header include/nacos_mock/X.h; X depends on Y when either includes nacos_mock/Y.h and server/Y.c
# exists. `tsort` (coreutils) finds any cycle and names the modules in it.
#
# Usage: tests/test_module_graph.sh REPO_DIR     (ctest: module_graph)
set -euo pipefail
repo="${1:?usage: test_module_graph.sh REPO_DIR}"
cd "$repo"

edges="$(mktemp)"
trap 'rm -f "$edges"' EXIT
for c in server/*.c; do
  m="$(basename "$c" .c)"
  files=("$c")
  [ -f "include/nacos_mock/$m.h" ] && files+=("include/nacos_mock/$m.h")
  echo "$m $m" >>"$edges"   # every module is a node, even one with no edges
  for dep in $(grep -ho '#include "nacos_mock/[a-z0-9_]*\.h"' "${files[@]}" | sed 's|.*nacos_mock/||; s|\.h"||' | sort -u); do
    if [ "$dep" != "$m" ] && [ -f "server/$dep.c" ]; then echo "$m $dep" >>"$edges"; fi
  done
done

if out="$(tsort "$edges" 2>&1 >/dev/null)" && [ -z "$out" ]; then
  echo "ok - $(cut -d' ' -f1 "$edges" | sort -u | wc -l) modules, $(awk '$1 != $2' "$edges" | wc -l) dependencies, no cycle"
  exit 0
fi
echo "not ok - the module graph has a cycle (each module below depends, through includes, on the next):"
echo "$out" | grep -v "input contains a loop" | sed "s/^/  /" | head -n 40
exit 1
