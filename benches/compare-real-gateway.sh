#!/usr/bin/env bash
# Measures our node and the reference TypeScript node host side by side, in one run, on
# the same real OpenClaw Gateway (scripts/real-gateway): idle RSS of each process
# tree, node.invoke round trips for system.which and system.run true, and throughput with
# 16 concurrent callers. Then the embedded-gateway figures. Prints JSON reports.
#
#   benches/compare-real-gateway.sh [path/to/openclaw-node]   (default: target/release)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/openclaw-node}
TOOL=${OPENCLAW_REAL_GATEWAY_TOOL:-scripts/real-gateway}
ROOT=${OPENCLAW_REAL_HOME:-$HOME/.cache/openclaw-real}
WORK=$(mktemp -d)
trap '"$TOOL" stop >/dev/null 2>&1 || true; [ -n "${NODE_PID:-}" ] && kill "$NODE_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

"$TOOL" start >/dev/null
eval "$("$TOOL" env)"
"$TOOL" ts-node start
printf '[exec]\nsecurity = "full"\n' > "$WORK/config.toml"
"$BIN" --state-dir "$WORK" --credential-store file run --display-name bench-rust >"$WORK/node.log" 2>&1 &
NODE_PID=$!

status() { "$TOOL" cli nodes status --json 2>/dev/null | python3 -c '
import json, sys
t = sys.stdin.read(); d = json.loads(t[t.index("{"):])
for n in d.get("nodes", []):
    if n.get("connected") and "system.run" in n.get("commands", []):
        print(n.get("displayName"), n["nodeId"])'; }
for _ in $(seq 1 60); do
  "$TOOL" approve-all >/dev/null 2>&1 || true
  OURS=$(status | awk '$1=="bench-rust"{print $2}')
  THEIRS=$(status | awk '$1=="ts-node"{print $2}')
  [ -n "$OURS" ] && [ -n "$THEIRS" ] && break
  sleep 2
done
if [ -z "$OURS" ] || [ -z "$THEIRS" ]; then echo "nodes did not get approved (see $ROOT/run/*.log)" >&2; exit 1; fi
TS_PID=$(cat "$ROOT/run/ts-node.pid")
sleep 20   # let both settle (the reference host keeps loading plugins after it connects)
echo "== real Gateway: ours=$OURS reference=$THEIRS (pids $NODE_PID, $TS_PID)"
"$BIN" bench --json --gateway "$OPENCLAW_GATEWAY_URL" --node "$THEIRS" --node "$OURS" \
  --pid "$NODE_PID" --pid "$TS_PID" --calls "${CALLS:-200}" --throughput-calls "${THROUGHPUT_CALLS:-2000}"
echo "== embedded gateway"
"$BIN" bench --json --calls "${CALLS:-500}" --throughput-calls "${THROUGHPUT_CALLS:-5000}"
