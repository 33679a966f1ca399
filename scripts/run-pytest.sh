#!/usr/bin/env bash
# Run the suite in parallel. pytest exits 5 when it collected no test: that is a broken suite, not a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-auto}" -p no:cacheprovider "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no test: the selection or the test tree is broken" >&2
  exit 1
fi
exit "$rc"
