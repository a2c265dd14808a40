#!/usr/bin/env bash
# The test command (`npm test`, and CI through .ci/run): install when needed, build every package,
# bring up the local services, run both vitest projects, stop only the services this run started.
# Exits with vitest's exit code.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

section() { printf '\n==== %s ====\n' "$*"; }

section 'dependencies'
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo 'node_modules is missing or older than package-lock.json: npm install'
  # One retry: a registry hiccup should not fail the whole run.
  npm install --no-audit --no-fund --loglevel=error ||
    { echo 'npm install failed; trying once more in 10 s' >&2; sleep 10; npm install --no-audit --no-fund --loglevel=error; }
else
  echo 'node_modules matches package-lock.json'
fi

export PATH="$root/node_modules/.bin:$PATH"
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 24 ]; then
  echo "error: the tests need Node 24 or newer from the root devDependency 'node', found $(node --version) at $(command -v node); run npm install" >&2
  exit 1
fi
echo "node $(node --version) ($(command -v node))"

section 'build'
export TURBO_TELEMETRY_DISABLED=1
npx turbo run build --output-logs=errors-only

section 'static checks: types (test files included) and lint'
npx turbo run typecheck --output-logs=errors-only
npx tsc --noEmit -p tsconfig.json
npx biome check . --diagnostic-level=error

section 'services'
started=$(mktemp)
results=$(mktemp)
stop_started_services() {
  section 'stopping the services this run started'
  npm run --silent services -- down --from "$started" || echo 'warning: could not stop every service this run started' >&2
  rm -f "$started" "$results"
}
trap stop_started_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
npm run --silent services -- up --record "$started"

section 'tests (unit and integration)'
set +e
npx vitest run --reporter=default --reporter=./test/flaky-reporter.ts --reporter=json --outputFile.json="$results"
code=$?
set -e

# The exactly-once proof runs alone: broker-bounce kills the broker, which other tests share.
section 'chaos: every scenario, 5 SIGKILLs each, verified by a read_committed consumer'
chaos_log=$(mktemp)
set +e
node --no-warnings scripts/chaos/run.mjs --kills "${TIDEMARK_CHAOS_KILLS:-5}" 2>&1 | tee "$chaos_log"
chaos_code=${PIPESTATUS[0]}
set -e
chaos_passed=$(grep -c '^\[[a-z-]*\] PASS' "$chaos_log" || true)
chaos_failed=$(grep -c '^\[[a-z-]*\] FAIL' "$chaos_log" || true)
rm -f "$chaos_log"
if [ "$chaos_code" -ne 0 ] && [ "$code" -eq 0 ]; then code=$chaos_code; fi
# One plain closing line with the counts, whatever the reporter printed above.
node -e '
  const fs = require("node:fs");
  try {
    const report = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    const passed = report.numPassedTests + Number(process.argv[2]);
    const failed = report.numFailedTests + Number(process.argv[3]);
    console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  } catch {
    console.log("\ntests: no result file from vitest");
  }
' "$results" "$chaos_passed" "$chaos_failed"
exit "$code"
