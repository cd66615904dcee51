#!/usr/bin/env bash
# Runs the SIGKILL crash test for many cycles (default 2000): every cycle kills a
# writing child at a random moment and checks that no acknowledged write was lost.
# Then the power-cut test (both I/O backends) for as many random cuts: each keeps
# what syncs put on disk and a random part of the pages written since, and checks
# that the log opens and keeps every `Durable` write.
# Usage: scripts/crash-soak.sh [cycles]
set -euo pipefail
cd "$(dirname "$0")/.."
CHIRAL_CRASH_CYCLES="${1:-2000}" cargo test --release -p chiral --test crash \
  sigkill_never_loses_an_acknowledged_write -- --exact --nocapture
CHIRAL_POWER_CUT_SEEDS="${1:-2000}" cargo test --release -p chiral --test durability \
  every_power_cut_keeps_the_durable_writes_and_opens -- --nocapture
