#!/usr/bin/env bash
# Install what the tests need and run every check: ruff (lint, format), mypy --strict, the pytest
# suite (SQLite and PostgreSQL, real Chromium, real processes and packets). Extra arguments
# go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-deps.sh
scripts/ensure-postgres.sh
scripts/venv.sh dev
echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy"
.venv/bin/mypy
echo "==> pytest"
.venv/bin/python -m pytest "$@"
