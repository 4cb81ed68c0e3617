#!/bin/bash
# fs-fsx: random overwrites, extensions, holes, truncations and appends on
# a few files through the mount, the same on reference copies on the local
# disk; the two must agree after every round, after an index sync with
# more changes on top, and after remounts.  FSX_SEED reproduces a run.
. "$(dirname "$0")/fs-lib.sh"
require_fuse
IMG=$T/tape.img
MNT=$T/mnt
REF=$T/ref
mkdir -p "$REF"
seed=${FSX_SEED:-$(( $(date +%s) % 32768 ))}
RANDOM=$seed
echo "# FSX_SEED=$seed"

check "mkfs.fusetape (block size 64K, so records are crossed often)" \
	new_volume "$IMG" 512M -b 64K
check "mount" mount_tape "$IMG" "$MNT" -o sync_interval=0
head -c $((8 << 20)) /dev/urandom >"$T/pool"

files="a b c"
for f in $files; do : >"$MNT/$f"; : >"$REF/$f"; done

# one random operation on file $1, applied to both trees
op() {
	local f=$1 kind=$((RANDOM % 10)) size off len
	size=$(stat -c %s "$REF/$f")
	case $kind in
	0|1|2|3)	# overwrite or extend at a random offset
		off=$(( (RANDOM * 32768 + RANDOM) % (size + 300000 + 1) ))
		len=$(( (RANDOM * 32768 + RANDOM) % (RANDOM % 4 ? 200000 : 1048576) + 1 ))
		for d in "$MNT" "$REF"; do
			dd if="$T/pool" of="$d/$f" bs=65536 iflag=skip_bytes,count_bytes \
				oflag=seek_bytes skip=$((off % (7 << 20))) seek=$off count=$len \
				conv=notrunc status=none || return 1
		done ;;
	4|5)	# append
		len=$(( RANDOM % 100000 + 1 ))
		for d in "$MNT" "$REF"; do
			head -c "$len" "$T/pool" >>"$d/$f" || return 1
		done ;;
	6|7)	# truncate down or up (a hole)
		len=$(( (RANDOM * 32768 + RANDOM) % (size + 400000 + 1) ))
		for d in "$MNT" "$REF"; do truncate -s "$len" "$d/$f" || return 1; done ;;
	8)	# small write inside
		off=$(( size ? (RANDOM * 32768 + RANDOM) % size : 0 ))
		for d in "$MNT" "$REF"; do
			printf 'fsx%d' "$off" | dd of="$d/$f" bs=1 seek="$off" conv=notrunc status=none || return 1
		done ;;
	9)	# read a random range through the mount and compare
		off=$(( size ? (RANDOM * 32768 + RANDOM) % size : 0 ))
		cmp -s <(tail -c +$((off + 1)) "$MNT/$f" | head -c 100000) \
			<(tail -c +$((off + 1)) "$REF/$f" | head -c 100000) || return 1 ;;
	esac
}

round() {
	local i f
	for i in $(seq 1 "$1"); do
		for f in $files; do
			op "$f" || { echo "# op on $f failed in round $2"; return 1; }
		done
	done
	same_files "$REF" "$MNT"
}

for r in 1 2 3; do
	check "round $r: 80 random operations per file agree with the reference" \
		timeout 300 bash -c "$(declare -f op round same_files); T='$T' MNT='$MNT' REF='$REF' files='$files' RANDOM=$((seed + r)); round 80 $r"
	expect_eq "round $r: fsync" "$("$PROBE" fsync "$MNT/a")" OK
	check "round $r: fusetape -u" unmount_tape "$MNT"
	check "round $r: mount again" mount_tape "$IMG" "$MNT" -o sync_interval=0
	check "round $r: every file the same after a remount" same_files "$REF" "$MNT"
	expect_same "round $r: sizes after a remount" \
		<(cd "$REF" && stat -c '%n %s' $files) <(cd "$MNT" && stat -c '%n %s' $files)
	echo "# sizes: $(cd "$MNT" && stat -c '%n=%s' $files | tr '\n' ' ')"
done
check "fusetape -u" unmount_tape "$MNT"
done_testing
