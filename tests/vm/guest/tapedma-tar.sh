#!/bin/sh
# tapedma-tar.sh - ordinary tools on /dev/tapedma0: a tar archive written in
# fixed 10 KiB records (what tar -b 20 does; busybox tar needs dd to block
# it) comes back identical through tapedma and through st, a file copied
# with cat (sendfile, so splice into the device) reads back with dd, and the
# counters say nothing was copied or left pinned.
#
# Needs /dev/tapedma0 and /dev/nst0 on the same (rewound) drive.
set -o pipefail
D=${FUSETAPE_TAPEDMA:-/dev/tapedma0}
T=${FUSETAPE_TAPE:-/dev/nst0}
S=/sys/class/tapedma/${D##*/}/stats
. "$(dirname "$0")/lib/guest.sh"
stat_of() { cat "$S/$1"; }

mkdir -p src/sub/deeper dst dst2
head -c 1048576 /dev/urandom >src/big
head -c 300000 /dev/urandom >src/sub/medium
head -c 777 /dev/urandom >src/sub/deeper/small
: >src/empty
echo "tapedma tar test" >src/sub/text
ln -s sub/text src/link
moved0=$(stat_of bytes_moved)

tar -cf - -C src . | dd of="$D" bs=10240 iflag=fullblock conv=sync 2>dd.err
check $? "tar | dd bs=10240 of=$D"
# tapedma writes no filemark on close (st does); without one, st reads
# tgt's end of data as endless zeros and busybox tar drains them forever
mt -f "$T" weof 1
check $? "filemark after the archive (through st)"
mt -f "$T" rewind
check $? "rewind through st"
dd if="$D" bs=10240 2>dd2.err | tar -xf - -C dst
check $? "dd if=$D bs=10240 | tar -x"
diff -r src dst >diff.out 2>&1
check $? "the extracted tree is identical ($(wc -l <diff.out) lines of diff)"
[ "$(readlink dst/link)" = sub/text ]
check $? "the symlink survived"

mt -f "$T" rewind
dd if="$T" bs=10240 2>/dev/null | tar -xf - -C dst2
check $? "the same archive read through st ($T)"
diff -r src dst2 >/dev/null 2>&1
check $? "st reads what tapedma wrote"

# cat uses sendfile: splice into the device, one record per pipe-full.
mt -f "$T" rewind
cat src/sub/medium >"$D"
check $? "cat file >$D (sendfile: splice_write)"
mt -f "$T" rewind
# records are at most 64 KiB: a 128 KiB buffer reads each whole
dd if="$D" bs=131072 of=back 2>/dev/null
check $? "dd bs=128k if=$D reads the records back"
cmp -s src/sub/medium back
check $? "the sendfile-written file reads back identical"

moved=$(( $(stat_of bytes_moved) - moved0 ))
[ "$moved" -ge $((2 * 1048576 + 2 * 300000)) ]
check $? "bytes_moved grew by $moved"
[ "$(stat_of bytes_copied)" = 0 ]
check $? "bytes_copied is 0"
[ "$(stat_of pages_pinned_now)" = 0 ]
check $? "pages_pinned_now is 0"
# the counters are per-CPU deltas folded lazily; stat_refresh folds them
echo 1 >/proc/sys/vm/stat_refresh 2>/dev/null
acq=$(awk '$1 == "nr_foll_pin_acquired" { print $2 }' /proc/vmstat)
rel=$(awk '$1 == "nr_foll_pin_released" { print $2 }' /proc/vmstat)
[ -n "$acq" ] && [ "$acq" = "$rel" ]
check $? "pins balance in /proc/vmstat ($acq acquired, $rel released)"

mt -f "$T" rewind
tap_end
