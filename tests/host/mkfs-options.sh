#!/bin/bash
# mkfs.fusetape: command line, exit codes, refusals, and the labels it writes.
. "$(dirname "$0")/mkfs-lib.sh"
require_bins mkfs.fusetape fsck.fusetape

img=$T/a.img
expect_rc 0 "--help" $T/out "$MKFS" --help
expect_grep "--help shows the usage" $T/out '^Usage: mkfs.fusetape \[options\] DEVICE'
expect_rc 0 "--version" $T/out "$MKFS" -V
expect_rc 16 "no DEVICE" $T/out "$MKFS"
expect_grep "no DEVICE: says so" $T/out 'no DEVICE given'
expect_rc 16 "two DEVICEs" $T/out "$MKFS" $img $img.2
expect_rc 16 "unknown option" $T/out "$MKFS" --frobnicate $img
expect_grep "unknown option named" $T/out "unknown option '--frobnicate'"
expect_rc 16 "option without its argument" $T/out "$MKFS" $img -n
expect_rc 16 "barcode of 5 characters" $T/out "$MKFS" -s ABC12 --image-size 64M $img
expect_grep "barcode length explained" $T/out 'exactly 6'
expect_rc 16 "lower-case barcode" $T/out "$MKFS" -s abc123 --image-size 64M $img
expect_rc 16 "block size below 4K" $T/out "$MKFS" -b 2K --image-size 64M $img
expect_grep "block size minimum explained" $T/out 'below the LTFS minimum of 4096'
expect_rc 16 "block size above what fusetape supports" $T/out "$MKFS" -b 32M --image-size 64M $img
expect_rc 16 "block size not a size" $T/out "$MKFS" -b lots --image-size 64M $img
expect_rc 16 "image size not a size" $T/out "$MKFS" --image-size 12Q $img
expect_rc 16 "volume name with a slash" $T/out "$MKFS" -n a/b --image-size 64M $img
expect_rc 16 "volume name not UTF-8" $T/out "$MKFS" -n $'\xff\xfe' --image-size 64M $img
check "no image was created by the refused command lines" test ! -e $img

expect_rc 1 "DEVICE that does not exist" $T/out "$MKFS" $img
expect_grep "missing DEVICE: says it does not exist and how to create it" $T/out 'does not exist.*--image-size'
expect_rc 1 "DEVICE that is a directory" $T/out "$MKFS" $T
expect_grep "directory: not a tape or image" $T/out 'neither a tape device nor a virtual tape image'
head -c 1048576 /dev/urandom >$T/junk
expect_rc 1 "DEVICE that is a random file" $T/out "$MKFS" $T/junk
expect_grep "random file: explained" $T/out 'cannot open .*junk'
expect_rc 1 "a medium too small for the block size" $T/out "$MKFS" --image-size 1M $T/small.img
expect_grep "too small: says so" $T/out 'too small'

# a new image with a volume
expect_rc 0 "new image with --image-size" $T/mk1 "$MKFS" --image-size 64M -n testvol -s TAPE01 $img
uuid1=$(printed_uuid $T/mk1)
check "mkfs printed a UUID ($uuid1)" test "${#uuid1}" -eq 36
check "the image file exists" test -f $img
size=$(stat -c %s $img)
alloc=$(( $(stat -c %b $img) * $(stat -c %B $img) ))
check "the image is sparse ($alloc of $size bytes allocated)" test "$alloc" -lt $((32 << 20))
expect_rc 0 "fsck of the fresh volume" $T/out "$FSCK" $img
expect_grep "fsck: consistent" $T/out 'is consistent: generation 1,'

# VOL1 on both partitions, byte for byte; the XML labels name the UUID
vol1=$(printf 'VOL1TAPE01L%13sLTFS%51s4' '' '')
offsets=$(LC_ALL=C grep -aob 'VOL1TAPE01L' $img | cut -d: -f1)
count=0 good=0
for off in $offsets; do
	count=$((count + 1))
	got=$(dd if=$img bs=1 skip=$off count=80 status=none)
	[ "$got" = "$vol1" ] && good=$((good + 1))
done
check "two VOL1 labels in the image ($count)" test "$count" -eq 2
check "both VOL1 labels are exactly LTFS's 80 bytes ($good good)" test "$good" -eq 2
labels=$(LC_ALL=C grep -ac "<volumeuuid>$uuid1</volumeuuid>" $img)
check "the XML labels and indexes carry the UUID ($labels lines)" test "$labels" -ge 4
check "a label for partition a and one for b" \
	bash -c "LC_ALL=C grep -aq '<partition>a</partition>' $img && LC_ALL=C grep -aq '<partition>b</partition>' $img"
check "the label has the default block size 524288" bash -c "LC_ALL=C grep -aq '<blocksize>524288</blocksize>' $img"
check "the root directory is named testvol" bash -c "LC_ALL=C grep -aq '<name>testvol</name>' $img"

# the MAM attributes, as the image stores them
if [ -x "$BIN/fusetape-image" ] && "$BIN/fusetape-image" info $img >$T/info 2>&1; then
	expect_grep "MAM barcode TAPE01" $T/info '0x0806 ascii "TAPE01 '
	expect_grep "MAM user medium text label = volume name" $T/info '0x0803 text "testvol'
	expect_grep "MAM application name" $T/info '0x0801 ascii "fusetape'
	expect_grep "MAM format version 2.4.0" $T/info '0x080B ascii "2.4.0'
	vci=$(grep -c '0x080C binary 08' $T/info)
	check "volume coherency information on both partitions ($vci)" test "$vci" -eq 2
else
	skip "MAM attributes" "fusetape-image info not available"
fi

# refusals on an existing volume
expect_rc 1 "existing volume without -f" $T/out "$MKFS" -n other $img
expect_grep "refusal names the UUID" $T/out "UUID +$uuid1"
expect_grep "refusal names the volume name" $T/out 'volume name +testvol'
expect_grep "refusal names the format time" $T/out 'formatted +20[0-9][0-9]-'
expect_grep "refusal says how to override" $T/out '--force'
expect_rc 1 "--image-size on an existing file without -f" $T/out "$MKFS" --image-size 64M $img
expect_grep "--image-size refusal explained" $T/out 'already exists'
check "the refused runs left the volume alone" bash -c "'$FSCK' -q $img && LC_ALL=C grep -aq '<name>testvol</name>' $img"

expect_rc 0 "existing volume with -f" $T/mk2 "$MKFS" -f -n second -b 64K $img
uuid2=$(printed_uuid $T/mk2)
check "-f made a new UUID ($uuid2)" test "${#uuid2}" -eq 36 -a "$uuid2" != "$uuid1"
expect_grep "-f said what it overwrote" $T/mk2 "UUID +$uuid1"
expect_grep "block size 64K in the summary" $T/mk2 'block size +65536'
expect_rc 0 "fsck after -f" $T/out "$FSCK" -v $img
expect_grep "fsck reads the new block size" $T/out 'block size 65536'
expect_rc 0 "--force --image-size replaces the image" $T/mk3 "$MKFS" -f --image-size 96M $img
check "the replaced image has a new UUID" test "$(printed_uuid $T/mk3)" != "$uuid2"
expect_rc 0 "--index-partition-size" $T/mk4 "$MKFS" -f --index-partition-size 8M $img
expect_grep "index partition of 8 MiB" $T/mk4 'partition 0  8388608 bytes'
expect_rc 16 "block size above the drive's largest record (8M for images)" $T/out "$MKFS" -f -b 12M $img
expect_grep "the drive's limit is named" $T/out 'largest record this drive writes \(8388608'
expect_rc 16 "block size above the drive's limit on a new image" $T/out "$MKFS" -b 12M --image-size 512M $T/new.img
check "the image made for the refused format was removed again" test ! -e $T/new.img
expect_rc 0 "block size of exactly the drive's largest record" $T/out "$MKFS" -f -b 8M --image-size 512M $T/big.img
expect_rc 16 "--index-partition-size under 16 blocks" $T/out "$MKFS" -f --index-partition-size 1M $img

expect_rc 0 "--single-partition" $T/out "$MKFS" --single-partition --image-size 64M $T/single.img
expect_grep "--single-partition warns that other LTFS implementations refuse it" $T/out \
	'WARNING: other LTFS implementations .* refuse to'
expect_grep "--single-partition: one partition for index and data" $T/out 'partition 0  67108864 bytes \(index and data\)'
check "--single-partition: no partition 1" bash -c "! grep -q 'partition 1 ' $T/out"
expect_rc 0 "fsck of a single-partition volume" $T/out "$FSCK" $T/single.img
expect_grep "fsck recognises it" $T/out 'Single-partition volume'

# write protection, and a blank image made by fusetape-image
if [ -x "$BIN/fusetape-image" ]; then
	cp --sparse=always $img $T/wp.img
	if "$BIN/fusetape-image" set --read-only $T/wp.img >$T/out 2>&1; then
		expect_rc 1 "write-protected image" $T/out "$MKFS" -f $T/wp.img
		expect_grep "write protection named" $T/out 'write-protected'
		uuid4=$(printed_uuid $T/mk4)
		check "the write-protected volume is unchanged" \
			bash -c "'$FSCK' -v $T/wp.img | grep -q 'UUID $uuid4'"
	else
		not_ok "fusetape-image set --read-only"; diag <$T/out
	fi
	"$BIN/fusetape-image" create -s 64M $T/blank.img >$T/out 2>&1
	expect_rc 0 "mkfs on a blank image from fusetape-image" $T/out "$MKFS" $T/blank.img
	expect_rc 0 "fsck of that volume" $T/out "$FSCK" $T/blank.img
else
	skip "write-protected image" "fusetape-image not built"
fi
cp --sparse=always $img $T/immutable.img
if chattr +i $T/immutable.img 2>/dev/null; then
	expect_rc 1 "immutable image file" $T/out "$MKFS" -f $T/immutable.img
	expect_grep "immutable: write protection named" $T/out 'write-protected|not writable'
	chattr -i $T/immutable.img
else
	skip "immutable image file" "chattr +i not supported on $(stat -f -c %T $T)"
fi

done_testing
