#!/usr/bin/env bash
# Build the documentation site and write headless-Chromium screenshots of the home page and the benchmark
# page to docs/screenshots/ (small PNGs, committed). Needs Debian's chromium:
#   apt-get install -y --no-install-recommends chromium
# Any flag goes to docs/_tools/screenshots.py (e.g. --out-dir DIR, --full-size).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=python3
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python
"$PYTHON" -c "import mkdocs, mkdocstrings, material" 2>/dev/null || {
  echo "docs_screenshots: the docs extra is missing: pip install -e \".[docs]\"" >&2; exit 1; }
exec "$PYTHON" docs/_tools/screenshots.py "$@"
