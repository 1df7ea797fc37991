#!/bin/sh
# Re-capture the expected outputs from Ganeti's own htools:
#   ./regen.sh /path/to/ganeti/usr/bin   (e.g. /work/ganeti-ref/root/usr/lib/ganeti/3.0/usr/bin)
set -eu
bin=$1
cd "$(dirname "$0")"
grep -v '^#' cases.txt | while IFS='|' read -r name tool file args; do
  # shellcheck disable=SC2086
  "$bin/$tool" -t "$file" $args > "$name.out" 2> "$name.err" || echo "$?" > "$name.rc"
done
