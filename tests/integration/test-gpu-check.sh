#!/bin/bash
# mlrig-firstboot gpu-check against mock NVIDIA libraries built here (found
# through LD_LIBRARY_PATH): the SAXPY's numbers come from the mock computing the
# kernel on the CPU from the parameters gpu-check passes, so a wrong launch or
# wrong parameters show as a max error. Then a wrong SAXPY, each library
# missing, this machine's CUDA toolkit stub, a venv with a TensorFlow, and a
# rig whose profile asks for less.
. "$(dirname "$0")/../lib.sh"
need cc python3
AGENT=$BUILD/mlrig-firstboot
M=$T/mocks
bash "$REPO/tests/mocks/build.sh" "$M" || { fail "build the mocks"; finish; }
bash "$REPO/tests/mocks/build.sh" "$T/off" off-by-one || { fail "build the off-by-one mock"; finish; }
ROOT=$T/empty-root # not a rig: no etc/mlrig/rig.conf
mkdir -p "$ROOT"
gc() { env -u VIRTUAL_ENV "$AGENT" --root "$ROOT" gpu-check "$@"; }

LD_LIBRARY_PATH=$M gc >"$T/ok.txt" 2>&1; rc=$?
check "mocks: exit 0" test $rc -eq 0
check "mocks: Max error: 0.000000, as the guide's hello.cu" grep -qx "Max error: 0.000000" "$T/ok.txt"
check "mocks: NVML's driver and GPU" grep -q "driver 470.199.02, CUDA 11.4, 1 GPU" "$T/ok.txt"
check "mocks: GPU name and memory" grep -q "GPU 0: .*Mock GeForce RTX 3090, 24.0 GiB" "$T/ok.txt"
check "mocks: compute capability" grep -q "compute capability 8.6" "$T/ok.txt"
check "mocks: cuDNN 8907 decoded as 8.9.7" grep -q "cuDNN: *8.9.7" "$T/ok.txt"
MOCK_GPU_NAME="Test GPU $$" LD_LIBRARY_PATH=$M gc --json >"$T/ok.json" 2>"$T/ok.err"; rc=$?
check "mocks --json: exit 0, valid, the name the mock was given" python3 -c "
import json; j=json.load(open('$T/ok.json')); assert $rc == 0 and j['ok'], j
assert j['nvml']['gpus'][0]['name'] == 'Test GPU $$' and j['nvml']['gpus'][0]['memory_bytes'] == 24 << 30, j
assert j['cuda']['devices'][0]['compute_capability'] == '8.6' and j['cuda']['saxpy']['n'] == 1 << 20, j
assert j['cuda']['saxpy']['max_error'] == 0 and j['cudnn']['version'] == '8.9.7', j
assert j['cuda']['library'].startswith('$M/'), j"

cp "$M/libnvidia-ml.so.1" "$M/libcudnn.so.8" "$T/off/"
LD_LIBRARY_PATH=$T/off gc >"$T/off.txt" 2>&1; rc=$?
check "SAXPY off by one: exit 1" test $rc -eq 1
check "SAXPY off by one: Max error: 1.000000" grep -qx "Max error: 1.000000" "$T/off.txt"

for lib in libnvidia-ml.so.1 libcuda.so.1; do
	mkdir -p "$T/no-$lib" && cp "$M"/lib* "$T/no-$lib/" && rm "$T/no-$lib/$lib"
	LD_LIBRARY_PATH=$T/no-$lib gc >"$T/no-$lib.txt" 2>&1; rc=$?
	check "$lib missing: exit 1" test $rc -eq 1
	check "$lib missing: named with its fix" grep -q "$lib not found: the NVIDIA driver is not installed" "$T/no-$lib.txt"
done
check "libcuda.so.1 missing: no SAXPY claimed" eval '! grep -q "Max error" "$T/no-libcuda.so.1.txt"'
# cuDNN missing: where this machine has one of its own in ld.so.cache, the loader is told to
# ignore the cache (ld.so --inhibit-cache), as on a machine without cuDNN
mkdir -p "$T/no-cudnn" && cp "$M/libcuda.so.1" "$M/libnvidia-ml.so.1" "$T/no-cudnn/"
ldso=/lib64/ld-linux-x86-64.so.2
if [ -x "$ldso" ]; then
	env -u VIRTUAL_ENV "$ldso" --inhibit-cache --library-path "$T/no-cudnn" "$AGENT" --root "$ROOT" gpu-check >"$T/no-cudnn.txt" 2>&1; rc=$?
	check "libcudnn missing: exit 1, named with its fix" eval '[ $rc -eq 1 ] && grep -q "libcudnn.so.8 not found: cuDNN is not installed" "$T/no-cudnn.txt"'
	check "libcudnn missing: NVML and the SAXPY still reported" grep -qx "Max error: 0.000000" "$T/no-cudnn.txt"
fi

# this machine's CUDA toolkit stub, as a driver would be found
stub=$(find /usr/local/cuda/ -path '*stubs/libcuda.so' 2>/dev/null | head -1)
if [ -n "$stub" ]; then
	mkdir -p "$T/stub" && cp "$stub" "$T/stub/libcuda.so.1"
	LD_LIBRARY_PATH=$T/stub gc --json >"$T/stub.json" 2>&1; rc=$?
	check "CUDA toolkit stub: exit 1, reported as a stub, no driver" python3 -c "
import json; j=json.load(open('$T/stub.json')); assert $rc == 1 and j['cuda']['stub'], j
assert 'stub' in j['cuda']['error'] and 'driver is not installed' in j['cuda']['error'], j"
	gc >"$T/nostub.txt" 2>&1
	check "no libcuda.so.1 but the stub on disk: the stub is named" grep -q "only the CUDA toolkit's link-time stub" "$T/nostub.txt"
else
	echo "(no CUDA toolkit stub on this machine: its case is not tried)"
fi

# ptxas, where a CUDA toolkit is here, must accept the embedded kernel
ptxas=$(command -v ptxas || ls /usr/local/cuda/bin/ptxas 2>/dev/null)
if [ -n "$ptxas" ]; then
	"$AGENT" --help >/dev/null
	python3 - "$REPO/firstboot/gpu-cuda.c" >"$T/saxpy.ptx" <<'PY'
import ast, re, sys
src = open(sys.argv[1]).read()
body = re.search(r'saxpy_ptx\[\] =\s*(.*?);\n', src, re.S).group(1)
print(''.join(ast.literal_eval(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', body)), end='')
PY
	check "ptxas accepts the embedded SAXPY PTX (sm_75)" "$ptxas" -arch=sm_75 -o "$T/saxpy.cubin" "$T/saxpy.ptx"
fi

# a venv whose TensorFlow lists the mock's GPU (a stand-in tensorflow module)
python3 -m venv --without-pip "$T/venv" && sp=$("$T/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$sp/tensorflow"
cat >"$sp/tensorflow/__init__.py" <<'PY'
import os
__version__ = "2.11.0"
class _Dev:
    def __init__(self, name): self.name = name
class config:
    @staticmethod
    def list_physical_devices(kind):
        return [_Dev("/physical_device:GPU:0")] if os.environ.get("LD_LIBRARY_PATH") else []
PY
VIRTUAL_ENV=$T/venv LD_LIBRARY_PATH=$M "$AGENT" --root "$ROOT" gpu-check --json >"$T/tf.json"; rc=$?
check "venv TensorFlow: its version and GPU listed" python3 -c "
import json; j=json.load(open('$T/tf.json')); t=j['tensorflow']; assert $rc == 0 and t['present'] and t['ok'], j
assert t['version'] == '2.11.0' and t['gpus'] == ['/physical_device:GPU:0'], j"
VIRTUAL_ENV=$T/venv env -u LD_LIBRARY_PATH "$AGENT" --root "$ROOT" gpu-check >"$T/tf-none.txt"
check "venv TensorFlow seeing no GPU: named" grep -q "TensorFlow 2.11.0 in $T/venv lists no GPU" "$T/tf-none.txt"

# a rig that asks for no GPU stack: exit 0 without one
mkdir -p "$T/rig/etc/mlrig"
cat >"$T/rig/etc/mlrig/rig.conf" <<'CONF'
[Rig]
Hostname=nogpu
User=rig
AuthorizedKeys=/etc/mlrig/authorized_keys
CONF
cp "$REPO/images/keys/demo_ed25519.pub" "$T/rig/etc/mlrig/authorized_keys"
env -u VIRTUAL_ENV "$AGENT" --root "$T/rig" gpu-check >"$T/rig.txt" 2>&1; rc=$?
check "rig without [GPU]: exit 0 with no driver here" test $rc -eq 0
mkdir -p "$T/rig/var/lib/mlrig/repo"
cat >>"$T/rig/etc/mlrig/rig.conf" <<'CONF'
[Packages]
Debs=/var/lib/mlrig/repo
[GPU]
Driver=nvidia-driver-470
CONF
env -u VIRTUAL_ENV "$AGENT" --root "$T/rig" gpu-check >"$T/rig2.txt" 2>&1; rc=$?
check "rig with a [GPU] Driver and no driver here: exit 1" test $rc -eq 1
LD_LIBRARY_PATH=$M env -u VIRTUAL_ENV "$AGENT" --root "$T/rig" gpu-check >"$T/rig3.txt" 2>&1; rc=$?
check "rig with a [GPU] Driver, mocks: exit 0" test $rc -eq 0
finish
