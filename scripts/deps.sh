#!/bin/sh
# Installs the Debian packages weft needs, only those that are missing. Run as root (CI is root).
#   libopenblas-dev        GEMM and batched matmul (cblas)
#   libonnx-dev            onnx.proto, from which protobuf-c generates the ONNX reader
#   protobuf-c-compiler    protoc-c, the generator
#   libprotobuf-c-dev      the protobuf-c runtime
#   libcjson-dev           JSON: machine descriptions, reports
#   libpng-dev             PNG heatmaps
#   libonnx-testdata       ONNX's backend node test cases, the reference's first oracle
#   python3-torch python3-onnx python3-numpy
#                          PyTorch, the second oracle: tests export models with torch.onnx.export;
#                          and the Python package (python/weft) is tested against it
#   libyaml-dev            configuration files (weft train --config params.yaml)
#   pkg-config             the install test builds the example against the installed weft.pc
set -e
pkgs="make gcc libopenblas-dev libonnx-dev protobuf-c-compiler libprotobuf-c-dev libcjson-dev libpng-dev
      libonnx-testdata python3-torch python3-onnx python3-numpy pkg-config libyaml-dev"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "weft: installing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
