#!/usr/bin/env bash
# Headless Chromium for the dashboard's browser tests (test/dashboard), driven by puppeteer-core,
# which downloads no browser of its own.
set -euo pipefail
. "$(dirname "$0")/_lib.sh.inc"
apt_need chromium chromium chromium-browser
