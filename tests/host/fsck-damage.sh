#!/bin/bash
# fsck.fusetape on randomly damaged images: whatever the damage, it must end
# with one of its documented exit codes (0, 4, 8), never crash (ASan/UBSan
# reports make the exit code 23/24), never hang, and never change the image
# without -r.
. "$(dirname "$0")/mkfs-lib.sh"
require_bins mkfs.fusetape fsck.fusetape

img=$T/v.img
if ! "$MKFS" -q --image-size 16M -b 16K -n damage $img >$T/out 2>&1; then
	not_ok "mkfs"; diag <$T/out; done_testing; exit
fi
# where the volume's structures are: the image header, the VOL1 labels,
# the XML labels and indexes, and the records around them
targets=(0 $(LC_ALL=C grep -aob -e 'VOL1' -e '<?xml' $img | cut -d: -f1))
runs=${FSCK_DAMAGE_RUNS:-24}
bad_rc=0 changed=0 seen=
RANDOM=4242
for i in $(seq "$runs"); do
	cp --sparse=always $img $T/d.img
	# 1 to 4 bytes near a structure (or inside it)
	for _ in $(seq $((RANDOM % 4 + 1))); do
		off=$(( ${targets[RANDOM % ${#targets[@]}]} + RANDOM % 12288 - 4096 ))
		[ $off -lt 0 ] && off=$((RANDOM % 4096))
		printf "\\x$(printf %02x $((RANDOM % 256)))" |
			dd of=$T/d.img bs=1 seek=$off conv=notrunc status=none
	done
	before=$(sha256sum <$T/d.img)
	rc=0
	timeout 60 "$FSCK" -c $T/d.img >$T/out 2>&1 || rc=$?
	case $rc in
	0|4|8) seen="$seen $rc" ;;
	*) bad_rc=$((bad_rc + 1)); echo "# run $i: exit $rc"; diag <$T/out | tail -8 ;;
	esac
	[ "$(sha256sum <$T/d.img)" = "$before" ] || changed=$((changed + 1))
done
check "$runs damaged images: every exit code is 0, 4 or 8 (seen:$(echo $seen | tr ' ' '\n' | sort | uniq -c | tr -s ' \n' ' '))" test $bad_rc -eq 0
check "checking never changed a damaged image" test $changed -eq 0
done_testing
