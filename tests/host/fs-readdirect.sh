#!/bin/bash
# fs-readdirect: with -o directreads, read-only opens bypass the page
# cache (FOPEN_DIRECT_IO) where the kernel still lets such files be
# mmap()ed MAP_SHARED (FUSE_DIRECT_IO_ALLOW_MMAP, Linux 6.6+; fusetape asks
# for it in the INIT reply libfuse 3.14 would not).  After a remount a
# multi-MiB file reads back identical with cat and with dd bs=1M, a second
# read goes to the daemon again instead of the page cache, a MAP_SHARED
# mapping works and matches, and readers see what a process holding the
# file open for writing wrote, through read() and through their mappings,
# whichever came first.  By default, and on kernels without the flag,
# reads stay cached (and give the same bytes).  Needs root (splice
# replies need 2 MiB pipes: the daemon raises /proc/sys/fs/pipe-max-size
# when it must).
. "$(dirname "$0")/fs-lib.sh"
require_fuse
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (2 MiB pipes for splice replies)"
	exit 77
fi
if ! command -v cc >/dev/null; then
	echo "1..0 # SKIP no C compiler for the mmap helper"
	exit 77
fi

IMG=$T/tape.img
MNT=$T/mnt
REF=$T/ref
mkdir -p "$REF"


# The mmap helper: "map PATH" writes the file as a MAP_SHARED, PROT_READ
# mapping shows it; "watch PATH OFF LEN" maps it, prints those bytes and
# prints them again after every line read from stdin (the mapping stays).
# An error prints the failing call and its errno name, exit 1.
cat >"$T/mapper.c" <<'EOF'
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what)
{
	int e = errno;

	fprintf(stderr, "%s: %s\n", what, e == ENODEV ? "ENODEV" : strerror(e));
	return 1;
}

int main(int argc, char **argv)
{
	struct stat st;
	char line[64];
	unsigned char *p;
	int fd;

	if (argc < 3 || (strcmp(argv[1], "map") && (strcmp(argv[1], "watch") || argc != 5)))
		return 2;
	fd = open(argv[2], O_RDONLY);
	if (fd < 0)
		return fail("open");
	if (fstat(fd, &st) < 0)
		return fail("fstat");
	if (st.st_size == 0)
		return 2;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap");
	close(fd);
	if (!strcmp(argv[1], "map")) {
		size_t done = 0;

		while (done < (size_t)st.st_size) {
			ssize_t n = write(1, p + done, (size_t)st.st_size - done);

			if (n <= 0)
				return fail("write");
			done += (size_t)n;
		}
		return 0;
	}
	{
		long off = atol(argv[3]), len = atol(argv[4]);

		if (off < 0 || len <= 0 || off + len > st.st_size)
			return 2;
		do {
			fwrite(p + off, 1, (size_t)len, stdout);
			putchar('\n');
			fflush(stdout);
		} while (fgets(line, sizeof(line), stdin));
	}
	return 0;
}
EOF
if ! cc -O1 -Wall -Werror -o "$T/mapper" "$T/mapper.c" 2>"$T/cc.out"; then
	not_ok "the mmap helper compiles"
	diag <"$T/cc.out"
	done_testing
	exit
fi
MAPPER=$T/mapper

# Kernels 6.6 and later offer FUSE_DIRECT_IO_ALLOW_MMAP: -o directreads works there.
kver=$(uname -r)
kmaj=${kver%%.*} kmin=${kver#*.}
kmin=${kmin%%[!0-9]*}
if [ "$kmaj" -gt 6 ] || { [ "$kmaj" -eq 6 ] && [ "$kmin" -ge 6 ]; }; then
	uncached=true
	want_opens="uncached (FUSE_DIRECT_IO_ALLOW_MMAP)"
else
	uncached=false
	want_opens="cached: the kernel cannot mmap uncached files"
	echo "# kernel $kver has no FUSE_DIRECT_IO_ALLOW_MMAP: checking that -o directreads stays cached"
fi

# watch_start PATH OFF LEN: the helper as a coprocess; watch_next: what
# its mapping shows now; watch_stop.  A helper that failed answers with its
# error, and then nothing.
watch_start() {
	coproc WATCH { "$MAPPER" watch "$@" 2>&1; }
	watch_pid=$WATCH_PID
	IFS= read -r -t 10 watched <&"${WATCH[0]}" || watched="(no answer)"
}
watch_next() {
	if [ -z "${WATCH[1]:-}" ]; then
		watched="(the helper is gone)"
		return
	fi
	echo >&"${WATCH[1]}"
	IFS= read -r -t 10 watched <&"${WATCH[0]}" || watched="(no answer)"
}
watch_stop() {
	[ -n "${WATCH[1]:-}" ] && exec {WATCH[1]}>&-
	wait "$watch_pid" 2>/dev/null
}

# ---- the files, written and read back after a remount -------------------
new_volume "$IMG" 256M || { echo "1..0 # SKIP mkfs.fusetape failed"; exit 1; }
mount_tape "$IMG" "$MNT" || { not_ok "mount"; done_testing; exit; }
size=$(( (24 << 20) + 12345 ))
head -c $size /dev/urandom >"$REF/big"
head -c 100000 /dev/urandom >"$REF/small"
cp "$REF/big" "$MNT/big"
cp "$REF/small" "$MNT/small"
unmount_tape "$MNT" || not_ok "unmount after writing"

echo 3 >/proc/sys/vm/drop_caches
mount_fg "$IMG" "$MNT" -o directreads || { not_ok "remount -o directreads"; done_testing; exit; }
expect_eq "the stats say how read-only opens are cached" "$(stat_of "read opens")" "$want_opens"
expect_grep "the data path log line says it too" "$T/daemon.log" \
	"data path: .*; read opens: ${want_opens//[()]/.}"
r0=$(stat_of "read bytes")
check "cat after remount: identical" cmp -s "$REF/big" <(cat "$MNT/big")
r1=$(stat_of "read bytes")
check "... read through the daemon ($((r1 - r0)) bytes)" [ $((r1 - r0)) -ge $size ]
check "... mostly by splice ($(stat_of "read spliced") spliced)" \
	[ "$(stat_of "read spliced")" -ge $((size * 9 / 10)) ]
check "dd bs=1M: identical" cmp -s "$REF/big" <(dd if="$MNT/big" bs=1M status=none)
check "dd bs=4097 from an odd offset: identical" cmp -s \
	<(tail -c +$((3 * 1048576 + 4001)) "$REF/big") \
	<(dd if="$MNT/big" bs=4097 skip=$((3 * 1048576 + 4000)) iflag=skip_bytes status=none)
check "the small file: identical" cmp -s "$REF/small" "$MNT/small"
ro=$(stat_of "uncached read opens")
if $uncached; then
	check "read-only opens were uncached ($ro)" [ "${ro:-0}" -ge 4 ]
	# nothing stayed in the page cache: the next read asks the daemon again
	r0=$(stat_of "read bytes")
	cat "$MNT/big" >/dev/null
	r1=$(stat_of "read bytes")
	check "a second cat reads from the daemon again ($((r1 - r0)) bytes)" [ $((r1 - r0)) -ge $size ]
else
	expect_eq "no uncached read opens" "$ro" "0"
fi

# ---- mmap ----------------------------------------------------------------
"$MAPPER" map "$MNT/big" >"$T/mapped" 2>"$T/map.err"
check "a MAP_SHARED mapping of a file opened read-only works ($(cat "$T/map.err"))" \
	[ ! -s "$T/map.err" ]
check "... and shows the file's bytes" cmp -s "$REF/big" "$T/mapped"
check "a MAP_SHARED mapping of the small file matches" cmp -s "$REF/small" <("$MAPPER" map "$MNT/small")
check "cat after the mappings: still identical" cmp -s "$REF/big" "$MNT/big"

# ---- readers and a process that has the file open for writing ----------
# A reader holds the file open first: a writer that comes is cached (a
# reader has the file open), and the reader's read() and its mapping show
# what the writer wrote.
printf 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' >"$MNT/co"
exec 5<"$MNT/co"
watch_start "$MNT/co" 2 8
expect_eq "a mapping shows the file" "$watched" "AAAAAAAA"
exec 6<>"$MNT/co"		# O_RDWR: cached
printf 'XYZ' | dd bs=3 seek=4 oflag=seek_bytes conv=notrunc status=none >&6
expect_eq "a reader open before the writer sees its write" \
	"$(dd bs=8 skip=2 count=1 iflag=skip_bytes status=none <&5)" "AAXYZAAA"
expect_eq "a new reader sees it" "$(dd if="$MNT/co" bs=8 skip=2 count=1 iflag=skip_bytes status=none)" \
	"AAXYZAAA"
watch_next
expect_eq "the reader's mapping shows it" "$watched" "AAXYZAAA"
exec 6>&- 6<>"$MNT/co"	# (dd seeks from where the last one left off)
printf 'QQ' | dd bs=2 seek=8 oflag=seek_bytes conv=notrunc status=none >&6
watch_next
expect_eq "... and the next write too (no stale page)" "$watched" "AAXYZAQQ"
exec 6>&-
watch_stop
exec 5<&-
expect_eq "after both closed: all of it" "$(cat "$MNT/co")" "AAAAXYZAQQAAAAAAAAAAAAAAAAAAAAAA"

# The writer comes first (write-only, nobody has the file open: it
# bypasses the page cache): readers that come while it writes, and their
# mappings, see every write.
printf 'BBBBBBBBBBBBBBBB' >"$MNT/wf"
u0=$(stat_of "uncached write opens")
exec 6>>"$MNT/wf"
expect_eq "a write-only open of an unopened file is uncached" \
	"$(stat_of "uncached write opens")" "$((u0 + 1))"
printf 'CCCC' >&6
expect_eq "a reader during the write sees it" "$(cat "$MNT/wf")" "BBBBBBBBBBBBBBBBCCCC"
# (the other opens are uncached meanwhile: without FUSE_DIRECT_IO_ALLOW_MMAP
# the kernel refuses them MAP_SHARED)
$uncached && watch_start "$MNT/wf" 14 6
$uncached && expect_eq "a mapping during the write shows it" "$watched" "BBCCCC"
printf 'DDDD' >&6
expect_eq "the next reader sees the next write" "$(cat "$MNT/wf")" "BBBBBBBBBBBBBBBBCCCCDDDD"
printf 'EE' | dd bs=2 seek=14 oflag=seek_bytes conv=notrunc status=none of="$MNT/wf"
expect_eq "a reader sees an overwrite by a second writer" "$(cat "$MNT/wf")" "BBBBBBBBBBBBBBEECCCCDDDD"
if $uncached; then
	watch_next
	expect_eq "the mapping shows the overwrite of its range" "$watched" "EECCCC"
	watch_stop
fi
exec 6>&-
expect_eq "after the writer closed: all of it" "$(cat "$MNT/wf")" "BBBBBBBBBBBBBBEECCCCDDDD"
umount "$MNT" || not_ok "umount"
wait "$daemon_pid" || not_ok "the daemon exited with $?"

# ---- the default: cached reads ---------------------------------------
echo 3 >/proc/sys/vm/drop_caches
mount_tape "$IMG" "$MNT" || { not_ok "mount"; done_testing; exit; }
expect_eq "by default read-only opens are cached" "$(stat_of "read opens")" "cached"
check "default: cat identical" cmp -s "$REF/big" "$MNT/big"
check "default: dd bs=1M identical" cmp -s "$REF/big" <(dd if="$MNT/big" bs=1M status=none)
r0=$(stat_of "read bytes")
cat "$MNT/big" >/dev/null
r1=$(stat_of "read bytes")
check "default: a second cat is served from the page cache ($((r1 - r0)) bytes asked)" \
	[ $((r1 - r0)) -lt $((1 << 20)) ]
check "default: a MAP_SHARED mapping matches" cmp -s "$REF/big" <("$MAPPER" map "$MNT/big")
expect_eq "default: no uncached read open" "$(stat_of "uncached read opens")" "0"
expect_eq "default: the files from before are intact" \
	"$(cat "$MNT/co")$(cat "$MNT/wf")" "AAAAXYZAQQAAAAAAAAAAAAAAAAAAAAAABBBBBBBBBBBBBBEECCCCDDDD"
unmount_tape "$MNT" || not_ok "unmount"
done_testing
