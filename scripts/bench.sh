#!/usr/bin/env bash
# pytest-benchmark suites against the saved baselines in benchmarks/baselines/.
#   bash scripts/bench.sh compare   run every benchmark, compare with the latest saved baseline,
#                                   fail when a mean is more than 50 % slower (default)
#   bash scripts/bench.sh save      run every benchmark and save the figures as a new baseline
# Extra arguments go to pytest (e.g. -k queue).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=dev source scripts/bootstrap.sh
mode="${1:-compare}"
shift || true
storage="file://benchmarks/baselines"
case "$mode" in
    save)
        "$VENV/bin/pytest" benchmarks --benchmark-enable --benchmark-storage="$storage" \
            --benchmark-save=baseline --benchmark-min-rounds=5 -q "$@" ;;
    compare)
        "$VENV/bin/pytest" benchmarks --benchmark-enable --benchmark-storage="$storage" \
            --benchmark-compare --benchmark-compare-fail=mean:50% --benchmark-min-rounds=5 \
            --benchmark-columns=min,mean,median,max,rounds -q "$@" ;;
    *)
        echo "usage: bash scripts/bench.sh save|compare [pytest args]" >&2
        exit 2 ;;
esac
