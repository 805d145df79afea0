#!/bin/sh
# Runs the whole suite against the build in $1 (build or build-asan). Steps that prepare data
# (PyTorch exports) run first; the C runner prints the closing "N passed, N failed" line.
set -e
BUILD=${1:-build}
export WEFT_SRCDIR=$(pwd) WEFT_BUILDDIR=$BUILD
if [ -x tests/pytorch/export.sh ]; then tests/pytorch/export.sh "$BUILD/pytorch-cases"; fi
exec "$BUILD/weft-tests"
