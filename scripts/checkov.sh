#!/usr/bin/env bash
# checkov over the CloudFormation templates in infra/ (a `make lint` step), from a virtualenv of its
# own, .venv-checkov/: checkov's many dependencies would clash with the project's pins. Made on first
# use and pinned to one checkov version; changing the pin makes it again.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION=3.3.30
VENV=.venv-checkov
PYTHON=${PYTHON:-python3}

if [ "$(cat "$VENV/.installed" 2>/dev/null || true)" != "checkov==$CHECKOV_VERSION" ]; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --quiet "checkov==$CHECKOV_VERSION"
  echo "checkov==$CHECKOV_VERSION" > "$VENV/.installed"
fi

# --skip-download: no platform API is called, the checks that ship with checkov run. Findings that
# stay are suppressed inline in the template (Metadata: checkov: skip), each with its reason, and
# listed in docs/iac.md; anything else fails the lint.
exec "$VENV/bin/checkov" --quiet --compact --skip-download --framework cloudformation --directory infra
