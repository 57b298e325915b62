#!/usr/bin/env bash
# Refresh the committed GOV.UK Frontend build under static/.
# The version is pinned in package.json / package-lock.json; to upgrade, change it there and rerun.
# Needs Node.js and npm (only for maintainers; the server and tests use the committed files).
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --ignore-scripts
dist=node_modules/govuk-frontend/dist/govuk
rm -rf static/govuk
mkdir -p static/govuk
# Only the JavaScript. GOV.UK's images (crown, crest, icons) and the GDS Transport font are
# deliberately not copied: Haven is not a gov.uk service and must not look like one.
cp "$dist/govuk-frontend.min.js" static/govuk/
npx --no-install sass --no-source-map --style=compressed --load-path=node_modules --pkg-importer=node \
  frontend/haven.scss static/haven.css
version=$(node -p "require('./node_modules/govuk-frontend/package.json').version")
echo "GOV.UK Frontend $version" > static/govuk/VERSION
echo "static/ refreshed from GOV.UK Frontend $version"
node scripts/compress-static.mjs
