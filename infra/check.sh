#!/usr/bin/env bash
# Offline checks of the infrastructure code (filled in with the Terraform modules).
set -euo pipefail
echo "infra-check: nothing to check yet"
