#!/usr/bin/env bash
# Builds the single-file sqlite-sync CLI and daemon with `bun build --compile`:
#   scripts/build-daemon.sh <outfile> [bun target]      e.g. dist/sqlite-sync-arm64 bun-linux-arm64
# The executor's entry is compiled in as a second entry point: the daemon runs its syncs in a
# Worker on it (a compiled binary cannot start itself as a script). Bun fetches the target's
# runtime from the npm registry the first time (cached afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/build-daemon.sh <outfile> [bun-linux-arm64|bun-linux-x64|…]}
target=${2:-}
bun=${BUN:-node_modules/.bin/bun}
exec "$bun" build --compile --minify ${target:+--target="$target"} \
  src/cli/main.ts src/scheduler/_executor_entry.ts --outfile "$out"
