#!/usr/bin/env python3
"""Malformed copies of an ISO for test-hostile.sh: hostile-iso.py BASE.iso OUTDIR writes
catalog-outside.iso, bootimg-outside.iso, catalog-garbage.iso, dir-loop.iso, size-lie.iso,
no-pvd.iso, dir-extent-outside.iso."""
import struct
import sys

base, out = sys.argv[1], sys.argv[2]
data = bytearray(open(base, "rb").read())
S = 2048


def descriptors():
    lba = 16
    while lba < len(data) // S:
        d = data[lba * S:(lba + 1) * S]
        if d[1:6] != b"CD001":
            break
        yield lba, d[0]
        if d[0] == 255:
            break
        lba += 1


def write(name, d):
    open("%s/%s" % (out, name), "wb").write(d)


def put32(d, off, v):  # both-endian 32-bit field
    struct.pack_into("<I", d, off, v)
    struct.pack_into(">I", d, off + 4, v)


boot = [l for l, t in descriptors() if t == 0 and data[l * S + 7:l * S + 30] == b"EL TORITO SPECIFICATION"]
trees = [l for l, t in descriptors() if t in (1, 2)]
cat = struct.unpack_from("<I", data, boot[0] * S + 0x47)[0]

d = bytearray(data)
struct.pack_into("<I", d, boot[0] * S + 0x47, 0x00FFFFFF)
write("catalog-outside.iso", d)

d = bytearray(data)
struct.pack_into("<I", d, cat * S + 32 + 8, 0x7FFFFFFF)
write("bootimg-outside.iso", d)

d = bytearray(data)
struct.pack_into("<I", d, boot[0] * S + 0x47, 16)
write("catalog-garbage.iso", d)

# every first subdirectory of the root points back at the root: a loop in the tree
d = bytearray(data)
for vd in trees:
    root = vd * S + 156
    rext, rsize = struct.unpack_from("<I", d, root + 2)[0], struct.unpack_from("<I", d, root + 10)[0]
    o = rext * S
    while o < rext * S + rsize:
        n = d[o]
        if n == 0:
            o = (o // S + 1) * S
            continue
        flags, nlen = d[o + 25], d[o + 32]
        name = bytes(d[o + 33:o + 33 + nlen])
        if flags & 2 and name not in (b"\0", b"\1"):
            put32(d, o + 2, rext)
            put32(d, o + 10, rsize)
            break
        o += n
write("dir-loop.iso", d)

d = bytearray(data)
for vd in trees:
    root = vd * S + 156
    put32(d, root + 2, 0x7FFFFF00)
write("dir-extent-outside.iso", d)

d = bytearray(data)
for vd in trees:
    put32(d, vd * S + 80, 4 * len(data) // S)
write("size-lie.iso", d)

d = bytearray(data)
d[16 * S:17 * S] = bytes(S)
write("no-pvd.iso", d)
