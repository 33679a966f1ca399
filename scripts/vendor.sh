#!/bin/sh
# Install the page libraries from npm and copy the files the pages use into
# mobility/web/static/vendor/ (git-ignored). Pages never load anything from a CDN.
# Example: scripts/vendor.sh
set -eu
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
    echo "vendor.sh: npm is not installed (Debian/Ubuntu: apt-get install npm)" >&2
    exit 1
fi
if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
else
    npm install --no-audit --no-fund --loglevel=error
fi

dest=mobility/web/static/vendor
rm -rf "$dest"
mkdir -p "$dest/htmx" "$dest/leaflet/images" "$dest/chartjs"

cp node_modules/htmx.org/dist/htmx.min.js "$dest/htmx/"
# Source maps go along: the hashed static storage rewrites the sourceMappingURL they name.
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.js.map node_modules/leaflet/dist/leaflet.css "$dest/leaflet/"
cp node_modules/leaflet/dist/images/*.png "$dest/leaflet/images/"
cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/dist/chart.umd.min.js.map "$dest/chartjs/"
for pkg in htmx.org leaflet chart.js; do
    cp node_modules/$pkg/LICENSE* "$dest/$(echo "$pkg" | sed "s/htmx.org/htmx/; s/chart.js/chartjs/")/" 2>/dev/null || true
done

echo "vendor.sh: copied htmx, leaflet and chart.js into $dest"
