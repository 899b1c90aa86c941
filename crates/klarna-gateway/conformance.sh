#!/usr/bin/env bash
# The official MCP conformance suite against the gateway (with --sandbox),
# for the scenarios that apply to a tools-only server. The others need the
# suite's fixture tools (`test_simple_text`, `test_error_handling`, ...),
# resources, prompts, logging or completion, none of which a Klarna
# gateway has. Pinned to 0.1.10: later releases need Node 22 (fs.globSync).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'kill "$gateway" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$work" && npm install --no-audit --no-fund --silent @modelcontextprotocol/conformance@0.1.10)
cargo build -q -p klarna-gateway
port=19190
./target/debug/klarna-gateway --sandbox --mcp "127.0.0.1:$port" 2>"$work/gateway.log" &
gateway=$!
for _ in $(seq 1 50); do
    grep -q "MCP at" "$work/gateway.log" && break
    sleep 0.2
done
for scenario in server-initialize ping tools-list server-sse-multiple-streams; do
    (cd "$work" && timeout 60 npx conformance server --url "http://127.0.0.1:$port/mcp" --scenario "$scenario")
done
