#!/usr/bin/env bash
# Runs the SIGKILL crash test for many cycles (default 2000): every cycle kills a
# writing child at a random moment and checks that no acknowledged write was lost.
# Usage: scripts/crash-soak.sh [cycles]
set -euo pipefail
cd "$(dirname "$0")/.."
CHIRAL_CRASH_CYCLES="${1:-2000}" cargo test --release -p chiral --test crash \
  sigkill_never_loses_an_acknowledged_write -- --exact --nocapture
