# SPDX-License-Identifier: GPL-3.0-or-later
"""reader-probe.py -- read a disk image through an independent reader.

    python3 reader-probe.py READER FORMAT RANGES IMAGE

READER is libvhdi, libvmdk, libqcow (libyal's Python bindings) or 7zip
(the 7zz program, found on PATH or in $SEVENZIP).  FORMAT is qemu's name
(vpc, vhdx, vmdk, qcow2).  RANGES is OFFSET:LENGTH[,OFFSET:LENGTH...] or
"-" for none.  Prints one JSON object:
    {"reader", "size", "ranges": [{"offset", "length", "got", "byte",
     "sha256"}], "warnings"}
"byte" is the value every byte of the range has, or null when they
differ; "got" is how many bytes the reader returned.  Exit status 0 when
the reader opened the image, 1 (with "error") when it refused it, 2 for
bad arguments, 3 when the reader itself is missing.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

SEVENZIP_TYPES = {"vpc": "vhd", "vhdx": "vhdx", "vmdk": "vmdk", "qcow2": "qcow"}


def summarise(off, length, data):
    """What a range read back: its length, uniform byte, hash."""
    uniform = None
    if data and data.count(data[0:1]) == len(data):
        uniform = data[0]
    return {"offset": off, "length": length, "got": len(data),
            "byte": uniform, "sha256": hashlib.sha256(data).hexdigest()}


def read_libyal(reader, image, ranges):
    try:
        if reader == "libvhdi":
            import pyvhdi as mod
            handle = mod.file()
        elif reader == "libvmdk":
            import pyvmdk as mod
            handle = mod.handle()
        else:
            import pyqcow as mod
            handle = mod.file()
    except ImportError as e:
        return None, "missing: %s" % e, 3
    try:
        handle.open(image)
        extent = None
        if reader == "libvmdk":
            # A monolithicSparse image is its own (only) extent.  libvmdk
            # would open the file its extent line names, and a copied or
            # renamed image still names the original: hand it this file.
            extent = open(image, "rb")
            handle.open_extent_data_files_as_file_objects([extent])
        size = handle.get_media_size()
        out = []
        for off, length in ranges:
            try:
                data = handle.read_buffer_at_offset(length, off)
            except (IOError, OSError):
                data = b""      # a read the reader refuses: nothing read
            out.append(summarise(off, length, data or b""))
        handle.close()
        if extent:
            extent.close()
    except (IOError, OSError) as e:
        return None, str(e).strip().splitlines()[0] if str(e).strip() else "open failed", 1
    return {"size": size, "ranges": out, "warnings": []}, None, 0


def read_7zip(fmt, image, ranges):
    prog = os.environ.get("SEVENZIP") or shutil.which("7zz")
    if not prog or not os.access(prog, os.X_OK):
        return None, "missing: 7zz", 3
    kind = "-t" + SEVENZIP_TYPES[fmt]
    lst = subprocess.run([prog, "l", "-slt", kind, image], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True)
    text = lst.stdout + lst.stderr
    # The item list follows the "----------" line; the archive's own
    # properties (and warnings) come before it.
    head, _, items = text.partition("----------")
    sizes = re.findall(r"^Size = (\d+)$", items, re.M)
    if lst.returncode > 1 or not sizes:
        err = re.findall(r"^(?:Open )?ERROR: (.*)$", text, re.M)
        return None, (err[-1] if err else "7zz status %d" % lst.returncode), 1
    warnings = re.findall(r"^WARNINGS:\n(.*)$", text, re.M)
    size = int(sizes[0])
    out = []
    if ranges:
        order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
        want_end = max(o + n for o, n in ranges)
        proc = subprocess.Popen([prog, "e", "-so", kind, image], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        results = [None] * len(ranges)
        pos = 0
        buf = bytearray()
        buf_start = 0
        # Stream the disk once; keep only what the ranges need.
        chunk = 1 << 20
        while pos < want_end:
            data = proc.stdout.read(min(chunk, want_end - pos))
            if not data:
                break
            buf += data
            pos += len(data)
            for i in order:
                o, n = ranges[i]
                if results[i] is None and o + n <= pos:
                    results[i] = summarise(o, n, bytes(buf[o - buf_start:o + n - buf_start]))
            # Drop what no pending range needs (never past what was read:
            # the buffer must stay aligned with the stream).
            lo = min(min((ranges[i][0] for i in order if results[i] is None), default=pos), pos)
            if lo > buf_start:
                del buf[:lo - buf_start]
                buf_start = lo
        proc.stdout.close()
        proc.kill()
        proc.wait()
        for i in order:
            if results[i] is None:
                o, n = ranges[i]
                have = bytes(buf[max(0, o - buf_start):max(0, min(pos, o + n) - buf_start)])
                results[i] = summarise(o, n, have if o >= buf_start else b"")
        out = results
    return {"size": size, "ranges": out, "warnings": warnings}, None, 0


def main(argv):
    if len(argv) != 5 or argv[1] not in ("libvhdi", "libvmdk", "libqcow", "7zip") \
            or argv[2] not in SEVENZIP_TYPES:
        sys.stderr.write("usage: reader-probe.py READER FORMAT RANGES IMAGE\n")
        return 2
    reader, fmt, spec, image = argv[1:]
    ranges = []
    if spec != "-":
        for part in spec.split(","):
            o, _, n = part.partition(":")
            if not (o.isdigit() and n.isdigit()):
                sys.stderr.write("reader-probe.py: bad range '%s'\n" % part)
                return 2
            ranges.append((int(o), int(n)))
    if reader == "7zip":
        res, err, code = read_7zip(fmt, image, ranges)
    else:
        res, err, code = read_libyal(reader, image, ranges)
    if res is None:
        print(json.dumps({"reader": reader, "error": err}))
        return code
    res["reader"] = reader
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
