#!/bin/sh
# fs-nst.sh, fs-tapedma.sh - the filesystem end to end inside the guest, on
# the st backend (/dev/nst0) or the tapedma backend (/dev/tapedma0, the same
# drive), whichever this script is called as (fs-tapedma.sh is a symlink to
# fs-nst.sh; pick_device of lib/guest.sh chooses).
#
# The steps, each a TAP point "nst: ..." / "tapedma: ...":
#   mkfs.fusetape --single-partition (tgt's drive cannot partition)
#   -> fusetape DEVICE mnt -> mkdir, cp -p of files of awkward sizes (around
#   4 KiB and the 512 KiB record) and ~8 MiB of random data -> tar -x of an
#   archive with nested directories, odd names, symlinks and set mtimes
#   -> fusetape -u (returns when the index is on tape) -> mount again
#   -> every object's type, size and link target, every file byte for byte,
#   every mtime (stat -c %Y) -> round 2: overwrites in the middle (across a
#   record boundary, at offset 0), appends, truncates, mv of a file and a
#   directory, rm, rmdir, new objects -> fusetape -u -> mount -> compared
#   again.
# A reference tree ref/ in tmpfs gets exactly the same operations, so what
# is expected is always what a POSIX filesystem makes of them.  tapedma also
# checks the module's counters: nothing copied, everything zero-copy.  At
# the end the volume is mounted read-only through the other backend (st for
# tapedma, tapedma for st, when loaded) and compared once more.
# The daemon's syslog (caught with busybox syslogd) is shown as comments.

. "$(dirname "$0")/lib/guest.sh"
S=

# listing DIR: one line per object under DIR: path, type, size or target.
listing() {
	(cd "$1" && find . | LC_ALL=C sort | while IFS= read -r p; do
		case $(stat -c %F "$p") in
		regular*file) echo "$p file $(stat -c %s "$p")" ;;
		directory) echo "$p dir" ;;
		symbolic\ link) echo "$p link -> $(readlink "$p")" ;;
		*) echo "$p $(stat -c %F "$p")" ;;
		esac
	done)
}
# mtimes DIR: path and mtime (seconds, of the object itself, not followed)
mtimes() {
	(cd "$1" && find . | LC_ALL=C sort | while IFS= read -r p; do
		echo "$p $(stat -c %Y "$p")"
	done)
}
# same_lines WHAT FILE1 FILE2: 0 if equal, else the differences as comments
same_lines() {
	if cmp -s "$2" "$3"; then
		return 0
	fi
	note "$1 differ (- expected, + found):"
	diff "$2" "$3" | grep '^[-+][^-+]' | head -12 | diag
	return 1
}
# cmp_all: every regular file of ref/ against the one in mnt/, byte for byte
cmp_all() {
	(cd ref && find . -type f | LC_ALL=C sort) >files.tmp
	cmp_list ref <files.tmp
}

# The tree the archive holds: nested directories, odd names, symlinks
# (relative, absolute and dangling, to a directory, a chain), mtimes far in
# the past.  Directories and symlinks get their mtimes after extraction
# (set_tree_times): busybox tar restores those of files only.
make_archive() {
	mkdir -p arc/tree/a/b/c/d arc/tree/links "arc/tree/with space" arc/tree/emptydir
	head -c 70000 /dev/urandom >arc/tree/a/b/c/d/deep.bin
	head -c 600000 /dev/urandom >arc/tree/a/b/mid.bin
	: >arc/tree/a/empty
	echo "fusetape vm test" >arc/tree/top.txt
	head -c 4097 /dev/urandom >"arc/tree/with space/name with spaces.bin"
	ln -s ../a/b/mid.bin arc/tree/links/rel
	ln -s /nonexistent/absolute/target arc/tree/links/dangling
	ln -s ../a/b arc/tree/links/dir
	ln -s rel arc/tree/links/chain
	t=1000000000
	(cd arc && find tree -type f | LC_ALL=C sort) >files.tmp
	while IFS= read -r f; do
		t=$((t + 86400 + 17))
		touch -d @$t "arc/$f"
	done <files.tmp
	tar -cf tree.tar -C arc tree
}
set_tree_times() {	# set_tree_times DIR
	t=900000000
	(cd "$1" && find . -type l | LC_ALL=C sort) >links.tmp
	while IFS= read -r p; do
		t=$((t + 3601))
		touch -h -d @$t "$1/$p" || return 1
	done <links.tmp
	(cd "$1" && find . -type d | LC_ALL=C sort -r) >dirs.tmp
	while IFS= read -r p; do
		t=$((t + 3599))
		touch -d @$t "$1/$p" || return 1
	done <dirs.tmp
}

# compare_all WHEN: the structure, contents and mtimes of mnt/ against ref/
compare_all() {
	listing ref >want.list
	listing mnt >got.list
	same_lines "objects" want.list got.list
	check $? "$1: same $(wc -l <want.list) objects (types, sizes, symlink targets)"
	cmp_all
	check $? "$1: every file byte for byte ($nfiles files)"
	mtimes ref >want.mt
	mtimes mnt >got.mt
	same_lines "mtimes" want.mt got.mt
	check $? "$1: every mtime (stat -c %Y) of files, directories, symlinks"
}

fs_main() {	# fs_main: the whole test on DEV
	start=$(now)
	need_bins mkfs.fusetape fusetape
	start_syslog
	[ -n "${S:-}" ] && fs_stats_before

	# ---- data ----
	mkdir -p src mnt ref/files
	sizes="0 1 4095 4096 524287 524288 524289 8392929"
	t=1100000000
	for s in $sizes; do
		head -c $s /dev/urandom >src/f$s
		t=$((t + 100003))
		touch -d @$t src/f$s
	done
	make_archive
	cp -p src/* ref/files/
	tar -xf tree.tar -C ref
	set_tree_times ref || { echo "not ok 1 - $TAG: set mtimes in tmpfs"; exit 1; }
	note "test data ready in $(secs_since "$start") s"

	# ---- round 1 ----
	do_mkfs -n fsvm -s FSVM01
	do_mount "mount $DEV"
	mkdir mnt/files 2>mkdir.err
	rc=$?
	diag mkdir.err
	check $rc "mkdir on the new volume"
	t0=$(now)
	cp -p src/* mnt/files/
	wrote=$?
	check $wrote "cp -p of $(echo $sizes | wc -w) files ($sizes bytes)"
	note "cp took $(secs_since "$t0") s"
	t0=$(now)
	tar -xf tree.tar -C mnt
	rc=$?
	check $rc "tar -x of an archive with nested directories and symlinks"
	note "tar -x took $(secs_since "$t0") s"
	set_tree_times mnt
	check $? "touch (-h) sets the mtimes of directories and symlinks"
	compare_all "while mounted"
	# the rest compares what these wrote
	[ $wrote -eq 0 ] && [ $rc -eq 0 ] || finish
	do_unmount "fusetape -u (returns when the index is on tape)"

	do_mount "mount again"
	t0=$(now)
	compare_all "after remount"
	note "compare took $(secs_since "$t0") s"

	# ---- round 2: the same changes on the mount and on ref/ ----
	head -c 300000 /dev/urandom >patch
	r2=$(date +%s)
	rc=0
	for d in ref mnt; do
		# 100000 bytes in the middle of the big file, off any boundary
		dd if=patch of=$d/files/f8392929 bs=1000 seek=3001 count=100 conv=notrunc 2>/dev/null &&
		# 10000 bytes across the first 512 KiB record boundary
		dd if=patch of=$d/files/f524289 bs=1000 seek=520 skip=5 count=10 conv=notrunc 2>/dev/null &&
		# the first 100 bytes
		dd if=patch of=$d/files/f4095 bs=100 skip=7 count=1 conv=notrunc 2>/dev/null &&
		# in the middle of an extracted file
		dd if=patch of=$d/tree/a/b/mid.bin bs=1000 seek=300 skip=20 count=50 conv=notrunc 2>/dev/null &&
		# appends: to a file that ends on a record boundary, to an empty
		# one, and to the big one (after its overwrite)
		head -c 70000 patch >>$d/files/f524288 &&
		head -c 5000 patch >>$d/files/f0 &&
		cat patch >>$d/files/f8392929 || rc=1
	done
	check $rc "round 2: overwrite in the middle (dd conv=notrunc) and append (>>)"
	ops=$rc
	rc=0
	for d in ref mnt; do
		# shorter, inside the first record; longer, a hole of zeros
		truncate -s 300000 $d/files/f524287 &&
		truncate -s 600000 $d/files/f4096 || rc=1
	done
	check $rc "round 2: truncate shorter and longer"
	ops=$((ops + rc))
	rc=0
	for d in ref mnt; do
		mv $d/tree/a/b/c/d/deep.bin $d/tree/deep-moved.bin &&
		mv "$d/tree/with space" $d/tree/renamed &&
		rm $d/tree/a/empty $d/tree/links/chain &&
		rmdir $d/tree/emptydir &&
		mkdir $d/tree/newdir &&
		head -c 12345 patch >$d/tree/newdir/new.bin &&
		ln -s ../top.txt $d/tree/newdir/lnk || rc=1
	done
	check $rc "round 2: mv of a file and a directory, rm, rmdir, mkdir, new file and symlink"
	# the rest compares what these did
	[ $((ops + rc)) -eq 0 ] || finish
	# These must have a new mtime (written, or entries added or removed,
	# or new); everything else, moved objects too, keeps its old one.
	changed="./files/f8392929 ./files/f524289 ./files/f4095 ./files/f524288 ./files/f0
		./tree/a/b/mid.bin ./files/f524287 ./files/f4096
		./tree/a/b/c/d ./tree ./tree/a ./tree/links ./tree/newdir
		./tree/newdir/new.bin ./tree/newdir/lnk"
	mtimes mnt >r2.mt
	rc=0
	for p in $changed; do
		m=$(awk -v p="$p" '$1 == p { print $2 }' r2.mt)
		if [ -n "$m" ] && [ "$m" -ge "$r2" ]; then
			touch -h -d @$m ref/"$p"	# what to expect from now on
		else
			note "$p: mtime ${m:-missing}, changed at $r2 or later"
			rc=1
		fi
	done
	check $rc "round 2: what changed has a new mtime ($(echo $changed | wc -w) objects)"
	compare_all "round 2, while mounted"
	do_unmount "round 2: fusetape -u"
	do_mount "round 2: mount again"
	compare_all "round 2, after remount"
	do_unmount "round 2: final fusetape -u"

	[ -n "${S:-}" ] && fs_stats_after

	# The same drive through the other backend: each tracks positions its
	# own way, and a volume must not depend on which one wrote it.
	other=
	case $TAG in
	nst) [ -n "${FUSETAPE_TAPEDMA:-}" ] && [ -c "$FUSETAPE_TAPEDMA" ] && other=$FUSETAPE_TAPEDMA ;;
	*) other=${FUSETAPE_TAPE:-/dev/nst0} ;;
	esac
	if [ -n "$other" ]; then
		do_mount "read-only mount through the other backend, $other" "$other" ro
		compare_all "through $other"
		do_unmount "fusetape -u of the read-only mount"
	fi
	note "total $(secs_since "$start") s"
	finish
}

# ---- tapedma: the module's counters around the whole run ----
fs_stats_before() {
	zc0=$(cat "$S/bytes_zero_copy")
	cp0=$(cat "$S/bytes_copied")
	note "counters before: bytes_zero_copy $zc0, bytes_copied $cp0"
}
fs_stats_after() {
	zc=$(($(cat "$S/bytes_zero_copy") - zc0))
	cp=$(($(cat "$S/bytes_copied") - cp0))
	note "counters grew: bytes_zero_copy +$zc, bytes_copied +$cp"
	[ "$cp" -eq 0 ]
	check $? "bytes_copied did not grow (+$cp)"
	# every byte of file data went to the drive at least once
	data=$(listing ref | awk '$2 == "file" { s += $3 } END { print s + 0 }')
	[ "$zc" -ge "$data" ]
	check $? "bytes_zero_copy grew by at least the file data ($zc >= $data)"
}

pick_device
[ $TAG = tapedma ] && S=/sys/class/tapedma/${DEV##*/}/stats
fs_main
