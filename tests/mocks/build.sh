#!/bin/bash
# Builds gpu-check's mock libraries into DIR: libnvidia-ml.so.1, libcuda.so.1
# (its cuLaunchKernel runs the SAXPY on the CPU) and libcudnn.so.8; with
# "off-by-one" a libcuda.so.1 whose SAXPY adds 1.
#   tests/mocks/build.sh DIR [off-by-one]
set -eu
dir=$1 variant=${2:-}
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
cc=${CC:-cc}
$cc -shared -fPIC -O1 -o "$dir/libnvidia-ml.so.1" -Wl,-soname,libnvidia-ml.so.1 "$src/mock-nvml.c"
if [ "$variant" = off-by-one ]; then
	$cc -shared -fPIC -O1 -DSAXPY_OFF_BY_ONE=1 -o "$dir/libcuda.so.1" -Wl,-soname,libcuda.so.1 "$src/mock-cuda.c"
else
	$cc -shared -fPIC -O1 -o "$dir/libcuda.so.1" -Wl,-soname,libcuda.so.1 "$src/mock-cuda.c"
fi
$cc -shared -fPIC -O1 -o "$dir/libcudnn.so.8" -Wl,-soname,libcudnn.so.8 "$src/mock-cudnn.c"
