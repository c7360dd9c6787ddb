#!/usr/bin/env python3
"""Writes the hostile checkpoints the checkpoint tests load (standard library only; no torch).

Each file is a few bytes to a few kilobytes on disk but, read naively, would overflow the stack, allocate
gigabytes or run for ever. Pickle opcodes are written by hand (protocol 2, as torch.save writes them) and
zips are laid out like torch.save's: <prefix>/data.pkl, <prefix>/version, <prefix>/data/<key>.

Run from anywhere: python3 make_hostile.py  (rewrites the files beside this script; the output is deterministic).
"""
import json
import os
import random
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))

# --- pickle opcodes ------------------------------------------------------------------------------------
PROTO2 = b"\x80\x02"
MARK, STOP, NONE = b"(", b".", b"N"
EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE = b"}", b"]", b")"
TUPLE, TUPLE1, TUPLE2 = b"t", b"\x85", b"\x86"
SETITEM, SETITEMS, APPENDS, REDUCE, BINPERSID = b"s", b"u", b"e", b"R", b"Q"
NEWFALSE = b"\x89"


def integer(value):
    if 0 <= value < 256:
        return b"K" + bytes([value])
    if -2**31 <= value < 2**31:
        return b"J" + struct.pack("<i", value)
    return b"\x8a\x08" + struct.pack("<q", value)


def text(value):
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def global_(module, name):
    return b"c" + f"{module}\n{name}\n".encode()


def binput(index):
    return b"r" + struct.pack("<I", index)


def binget(index):
    return b"j" + struct.pack("<I", index)


def int_tuple(values):
    return MARK + b"".join(integer(v) for v in values) + TUPLE


def tensor(key, numel, size, stride, offset=0, storage="FloatStorage"):
    """torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""
    pid = MARK + text("storage") + global_("torch", storage) + text(key) + text("cpu") + integer(numel) + TUPLE + BINPERSID
    hooks = global_("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE
    return (global_("torch._utils", "_rebuild_tensor_v2") + MARK + pid + integer(offset)
            + int_tuple(size) + int_tuple(stride) + NEWFALSE + hooks + TUPLE + REDUCE)


def state_dict(*items):
    """{'model': {name: value, ...}} from (name, pickled value) pairs."""
    inner = EMPTY_DICT + MARK + b"".join(text(name) + value for name, value in items) + SETITEMS
    return PROTO2 + EMPTY_DICT + text("model") + inner + SETITEM + STOP


# --- files ---------------------------------------------------------------------------------------------
def torch_zip(name, pickle, storages=None, compress=zipfile.ZIP_STORED):
    path = os.path.join(HERE, name)
    with zipfile.ZipFile(path, "w") as z:
        for entry, data, method in [("archive/data.pkl", pickle, compress), ("archive/version", b"3\n", zipfile.ZIP_STORED)] + [
                (f"archive/data/{key}", data, zipfile.ZIP_STORED) for key, data in (storages or {}).items()]:
            info = zipfile.ZipInfo(entry, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            z.writestr(info, data, compresslevel=9 if method == zipfile.ZIP_DEFLATED else None)
    return path


def patch_sizes(path, entry, compressed=None, uncompressed=None):
    """Overwrites the sizes a zip records for an entry, in its local header and its central directory record."""
    data = bytearray(open(path, "rb").read())
    name = entry.encode()
    for signature, offset in ((b"PK\x03\x04", 18), (b"PK\x01\x02", 20)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at:name_at + len(name)] == name:
                if compressed is not None:
                    struct.pack_into("<I", data, start + offset, compressed)
                if uncompressed is not None:
                    struct.pack_into("<I", data, start + offset + 4, uncompressed)
            start += 4
    open(path, "wb").write(data)


def raw(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


FLOAT1 = struct.pack("<f", 1.0)


def main():
    # A dictionary key of a million nested tuples: hashing it recursively overflows the stack.
    nested = EMPTY_TUPLE + TUPLE1 * 1_000_000
    torch_zip("nested-tuple-key.pth", PROTO2 + EMPTY_DICT + nested + NONE + SETITEM + STOP, compress=zipfile.ZIP_DEFLATED)

    # Two equal keys built as separate chains t(k) = (t(k-1), t(k-1)) through the memo: 2**60 comparisons.
    def chain(memo_base):
        out = integer(1) + TUPLE1 + binput(memo_base)
        for level in range(1, 61):
            # The previous level is on the stack; a second reference to it from the memo makes the pair.
            out += binget(memo_base + level - 1) + TUPLE2 + binput(memo_base + level)
        return out
    keys = chain(0) + NONE + SETITEM
    torch_zip("shared-tuple-keys.pth", PROTO2 + EMPTY_DICT + keys + chain(100) + NONE + SETITEM + STOP)

    # A 32768 x 32768 float view with stride 0 over one stored element: 4 GiB if expanded.
    torch_zip("stride-zero-view.pth", state_dict(("w", tensor("0", 1, [32768, 32768], [0, 0]))), {"0": FLOAT1})

    # 8192 names for one view of the same 4 KiB storage (through the memo): 32 MiB of copies from 4 KiB of data.
    views = [("w0", tensor("0", 1024, [1024], [1]) + binput(0))] + [(f"w{i}", binget(0)) for i in range(1, 8192)]
    torch_zip("shared-storage-views.pth", state_dict(*views), {"0": FLOAT1 * 1024}, compress=zipfile.ZIP_DEFLATED)

    # Sizes whose product overflows 64 bits.
    torch_zip("overflowing-size.pth", state_dict(("w", tensor("0", 1, [2**62, 2**62], [0, 0]))), {"0": FLOAT1})

    # A storage claiming 2**40 elements with 4 bytes behind it.
    torch_zip("huge-storage-numel.pth", state_dict(("w", tensor("0", 2**40, [1], [1]))), {"0": FLOAT1})

    # A view reaching past the end of its storage through its offset.
    torch_zip("view-past-storage.pth", state_dict(("w", tensor("0", 1, [2], [1], offset=2**40))), {"0": FLOAT1})

    # A tensor of 100 dimensions.
    torch_zip("many-dimensions.pth", state_dict(("w", tensor("0", 1, [1] * 100, [1] * 100))), {"0": FLOAT1})

    # 20 MB of EMPTY_DICT and of NONE, deflated to a few kilobytes (a zip bomb for the unpickler).
    torch_zip("empty-dicts-bomb.pth", PROTO2 + EMPTY_DICT * 20_000_000 + STOP, compress=zipfile.ZIP_DEFLATED)
    torch_zip("nones-bomb.pth", PROTO2 + NONE * 20_000_000 + STOP, compress=zipfile.ZIP_DEFLATED)

    # Just under the inflation allowance: a million EMPTY_DICTs for a list, refused by the object budget instead.
    torch_zip("empty-dicts-list.pth", PROTO2 + EMPTY_LIST + MARK + EMPTY_DICT * 1_040_000 + APPENDS + STOP, compress=zipfile.ZIP_DEFLATED)

    # A million MARKs, and a million memo entries (MEMOIZE, protocol 4): bounded, then refused as no state dict.
    torch_zip("marks.pth", PROTO2 + MARK * 1_000_000 + STOP, compress=zipfile.ZIP_DEFLATED)
    torch_zip("memo-flood.pth", b"\x80\x04" + NONE + b"\x94" * 1_000_000 + STOP, compress=zipfile.ZIP_DEFLATED)

    # A data.pkl whose zip records claim it expands to 4 GB.
    path = torch_zip("declared-huge-pickle.pth", state_dict(("w", tensor("0", 1, [1], [1]))), {"0": FLOAT1}, compress=zipfile.ZIP_DEFLATED)
    patch_sizes(path, "archive/data.pkl", uncompressed=0xFFFF0000)

    # A storage entry whose zip records claim more stored bytes than the file has.
    path = torch_zip("declared-huge-storage.pth", state_dict(("w", tensor("0", 1, [1], [1]))), {"0": FLOAT1})
    patch_sizes(path, "archive/data/0", compressed=0x7FFF0000, uncompressed=0x7FFF0000)

    # A string that claims 2**60 bytes.
    torch_zip("huge-string.pth", PROTO2 + b"\x8d" + struct.pack("<Q", 2**60) + b"abc" + STOP)

    # A key with a line break, to forge a second line in the error.
    torch_zip("newline-key.pth", PROTO2 + EMPTY_DICT + text("net\nerror: forged") + integer(1) + SETITEM + STOP)

    # Not zips: empty, random bytes, text, and the legacy (pre-1.6) torch.save format, a bare pickle.
    raw("empty.pth", b"")
    rng = random.Random(17)
    noise = bytes(rng.randrange(256) for _ in range(256))
    raw("random.pth", b"\x01" + noise[1:8] + b"\x00" + noise[9:])
    raw("text.pth", b"these are not the weights you are looking for\n")
    legacy_magic = b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
    raw("legacy.pth", PROTO2 + legacy_magic + STOP + PROTO2 + integer(1001) + STOP)

    # safetensors: a header length beyond the file, JSON nested 10,000 deep.
    raw("huge-header-length.safetensors", struct.pack("<Q", 2**62) + b"{}")
    deep = b"{\"a\":" + b"[" * 10_000 + b"]" * 10_000 + b"}"
    raw("deep-json.safetensors", struct.pack("<Q", len(deep)) + deep)
    # A header that is not UTF-8, and an empty tensor whose shape claims a billion channels.
    header = b'{"w\xff":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    raw("invalid-utf8.safetensors", struct.pack("<Q", len(header)) + header + FLOAT1)
    header = b'{"patch_embed.0.c.weight":{"dtype":"F32","shape":[1000000000,0,3,3],"data_offsets":[0,0]}}'
    raw("empty-tensor.safetensors", struct.pack("<Q", len(header)) + header)

    # Metadata that parses but cannot be used: a zero std, a null mean (what the featurizer and info read).
    for name, record in [("bad-metadata-std", '{"format_version": 1, "std": [0.2, 0, 0.2]}'), ("bad-metadata-mean", '{"format_version": 1, "mean": null}')]:
        header = json.dumps({"__metadata__": {"format": "efficientvit.ml", "efficientvit": record},
                             "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
        raw(f"{name}.safetensors", struct.pack("<Q", len(header)) + header + FLOAT1)


if __name__ == "__main__":
    main()
