#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, starts Kafka, runs a real
# file → Kafka pipeline exactly once, and shows what it delivered and the committed watermark.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  section "installing dependencies"
  npm install --no-audit --no-fund --loglevel=error
fi
export PATH="$PWD/node_modules/.bin:$PATH"

section "building"
npx turbo run build --output-logs=errors-only >/dev/null

section "starting Kafka (npm run services -- up)"
node scripts/services.mjs up kafka

config=examples/quickstart.yaml
section "running the pipeline: tidemark run $config"
node packages/cli/dist/bin.js run "$config" --until-idle

section "delivered records (read_committed consumer of topic tidemark-quickstart)"
node --no-warnings scripts/quickstart/show-topic.mjs tidemark-quickstart

section "committed watermark: tidemark watermarks show $config"
node packages/cli/dist/bin.js watermarks show "$config"

printf '\nRun it again: nothing is delivered twice (the watermark says where to resume).\n'
printf 'Kafka keeps running for you; stop it with: npm run services -- down\n'
