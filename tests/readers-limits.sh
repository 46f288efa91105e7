#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# readers-limits.sh -- the evidence behind each reader rule of (instar
# whitelist): the reader also mis-reads qemu-img's own image in that case,
# so a rule can never hide a bug of ours.  Then resize-consistency with
# readers: --readers errors (unknown: exit 2, missing: exit 3), and a
# wrong engine that leaves the old VHD table size is caught by 7-Zip.
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img
require "$QEMU_IO" qemu-io
require "$SEVENZIP" 7zz
require "$PYTHON3" python3
PROBE="$abs_top_srcdir/scm/instar/reader-probe.py"
GUILE=${GUILE:-guile}
export QEMU_IMG QEMU_IO SEVENZIP PYTHON3 GUILE_AUTO_COMPILE=0
GUILE_LOAD_COMPILED_PATH="$abs_top_builddir/scm${GUILE_LOAD_COMPILED_PATH:+:$GUILE_LOAD_COMPILED_PATH}"
export GUILE_LOAD_COMPILED_PATH

probe() {  # probe READER FORMAT RANGES FILE: the probe's JSON
    "$PYTHON3" "$PROBE" "$@" 2>/dev/null
}
field() {  # field KEY: from the JSON on stdin (top level, or ranges[0].KEY)
    "$PYTHON3" -c 'import json,sys
d=json.load(sys.stdin); k=sys.argv[1]
print(d[k] if k in d else d["ranges"][0][k])' "$1" 2>/dev/null
}

# ---- libvhdi-original-size-is-disk-size ----
# qemu-img's own 40M VHD with Original Size set to 20M (both footers,
# checksums fixed), as any tool that grows a VHD by the spec leaves it.
q=$TMPD/q.vhd
"$QEMU_IMG" create -q -f vpc -o subformat=dynamic "$q" 40M
"$PYTHON3" - "$q" <<'EOS'
import struct, sys
f = open(sys.argv[1], "r+b"); d = bytearray(f.read())
for off in (0, len(d) - 512):
    d[off + 40:off + 48] = struct.pack(">Q", 20 << 20)
    d[off + 64:off + 68] = b"\0\0\0\0"
    d[off + 64:off + 68] = struct.pack(">I", ~sum(d[off:off + 512]) & 0xffffffff)
f.seek(0); f.write(d); f.close()
EOS
qs=$("$QEMU_IMG" info --output=json "$q" | sed -n 's/^ *"virtual-size": \([0-9]*\),*$/\1/p' | head -1)
[ "$qs" -gt $((40 << 20)) ] && [ "$(probe 7zip vpc 0:512 "$q" | field size)" = "$qs" ]
ok $? "qemu and 7-Zip read Current Size ($qs) of qemu's VHD with a smaller Original Size"
[ "$(probe libvhdi vpc 0:512 "$q" | field size)" = $((20 << 20)) ]
ok $? "libvhdi reports its Original Size (20 MiB) instead"
[ "$(probe libvhdi vpc $((30 << 20)):65536 "$q" | field got)" != 65536 ]
ok $? "... and reads nothing at 30 MiB, inside the disk qemu reads"

# ---- 7zip-vhdx-odd-sector-count ----
x=$TMPD/q.vhdx
"$QEMU_IMG" create -q -f vhdx "$x" $((1048576 + 512)) &&
    "$QEMU_IO" -f vhdx -c 'read 0 512' "$x" >/dev/null
ok $? "qemu-img creates and reads a VHDX of 1 MiB + 512"
probe 7zip vhdx 0:512 "$x" | grep -q 'Cannot open the file as \[VHDX\] archive'
ok $? "7-Zip refuses qemu's own VHDX of 2049 sectors"
"$QEMU_IMG" create -q -f vhdx "$x" $((1048576 + 1024)) &&
    [ "$(probe 7zip vhdx 0:512 "$x" | field size)" = $((1048576 + 1024)) ]
ok $? "... and opens it at 2050 sectors"

# ---- the recipe's --readers ----
rc_of() { "$@" >"$TMPD/out.log" 2>&1; echo $?; }
RC="$abs_top_builddir/pre-inst-env $GUILE -s $abs_top_srcdir/recipes/resize-consistency.scm"
[ "$(rc_of $RC --readers nope --iterations 1 --out "$TMPD/o1" --tmpdir "$TMPD" -q)" = 2 ] &&
    grep -q "unknown reader 'nope'" "$TMPD/out.log"
ok $? "--readers with an unknown name: usage error (exit 2)"
[ "$(SEVENZIP=$TMPD/no-7zz rc_of $RC --readers 7zip --iterations 1 --out "$TMPD/o2" \
      --tmpdir "$TMPD" -q)" = 3 ] && grep -q "reader '7zip' is not installed" "$TMPD/out.log"
ok $? "--readers naming a missing reader: environment error (exit 3)"

# A wrong engine: instar-img, then Max Table Entries one too large (the
# old shrink bug).  qemu reads it; 7-Zip must turn it into a finding.
cat > "$TMPD/big-table" <<EOS
#!/bin/sh
"$INSTAR_IMG" "\$@" || exit \$?
[ "\$1" = resize ] || exit 0
for f; do :; done
for a; do case \$a in *.vhd|*.vpc) f=\$a;; esac; done
exec "$PYTHON3" - "\$f" <<'EOP'
import struct, sys
f = open(sys.argv[1], "r+b"); h = bytearray(f.read(1536))
if h[512:520] == b"cxsparse":
    n = struct.unpack(">I", h[540:544])[0] + 1
    h[540:544] = struct.pack(">I", n); h[548:552] = b"\0\0\0\0"
    h[548:552] = struct.pack(">I", ~sum(h[512:1536]) & 0xffffffff)
    f.seek(512); f.write(h[512:1536])
f.close()
EOP
EOS
chmod +x "$TMPD/big-table"
[ "$(rc_of $RC --instar "$TMPD/big-table" --readers 7zip --formats vpc --seed 5 \
      --iterations 4 --reduce-time 2 --out "$TMPD/o3" --tmpdir "$TMPD" -q)" = 1 ] &&
    grep -q 'reader:7zip:open' "$TMPD/out.log" &&
    grep -q 'reader 7zip: [1-9][0-9]* read, 0 agree, 0 whitelisted, [1-9][0-9]* disagree' "$TMPD/out.log"
ok $? "a VHD table larger than its size is a 7-Zip finding (exit 1, counted per reader)"
[ "$(rc_of $RC --instar "$INSTAR_IMG" --readers 7zip,libvhdi --formats vpc --seed 5 \
      --iterations 4 --out "$TMPD/o4" --tmpdir "$TMPD" -q)" = 0 ] &&
    grep -Eq 'reader 7zip: ([1-9][0-9]*) read, \1 agree' "$TMPD/out.log" &&
    grep -Eq '"7zip":\{"read":([1-9][0-9]*),"agree":\1,' "$TMPD/o4/readers.json"
# (Cases drawn into a refusal family are refused before any reader reads.)
ok $? "the same cases with instar-img itself: 7-Zip agrees on every image it reads"

done_testing
