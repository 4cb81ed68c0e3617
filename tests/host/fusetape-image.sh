#!/bin/bash
# fusetape-image: command line, exit codes, and what create/info/set do to
# an image.  TAP output.  Binaries from $FUSETAPE_BIN (default build/san/bin).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FUSETAPE_BIN:-$root/build/san/bin}
FI=$bin/fusetape-image
if [ ! -x "$FI" ]; then
	echo "1..0 # SKIP $FI not built"
	exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/fusetape-image.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
n=0 failed=0

ok() {	# ok CONDITION-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
		[ -s "$T/out" ] && sed 's/^/#   /' "$T/out" | head -20
	fi
}

expect_rc() {	# expect_rc RC DESCRIPTION COMMAND...
	local want=$1 what=$2
	shift 2
	"$@" >"$T/out" 2>&1
	local rc=$?
	[ "$rc" -eq "$want" ]
	ok $? "$what (exit $rc, want $want)"
}

expect_grep() {	# expect_grep DESCRIPTION REGEX (in $T/out)
	grep -Eq -- "$2" "$T/out"
	ok $? "$1"
}

img=$T/a.img
expect_rc 0 "--help" "$FI" --help
expect_grep "--help shows the usage" '^Usage: fusetape-image create'
expect_rc 0 "--version" "$FI" --version
expect_grep "--version prints a version" '^fusetape-image [0-9]'
expect_rc 2 "no command" "$FI"
expect_rc 2 "unknown command" "$FI" frobnicate
expect_grep "unknown command named" "unknown command 'frobnicate'"
expect_rc 2 "create without FILE" "$FI" create
expect_rc 2 "create with a bad size" "$FI" create --size 12Q "$img"
expect_grep "bad size explained" "'12Q' is not a size"
expect_rc 2 "create with 5 partitions" "$FI" create --partitions 5 "$img"
expect_rc 2 "partition size for a partition that is not there" "$FI" create -p 2 -P 3:1M "$img"
expect_rc 2 "partition size without index" "$FI" create -P 1M "$img"
expect_rc 2 "max record above 16M" "$FI" create --max-record 17M "$img"
expect_rc 2 "barcode of 33 characters" "$FI" create --barcode 012345678901234567890123456789012 "$img"
expect_rc 2 "unknown option" "$FI" create --frobnicate "$img"
[ ! -e "$img" ]
ok $? "no image made by the refused command lines"
expect_rc 1 "partitions larger than the tape" "$FI" create --size 8M -P 0:9M "$img"
expect_grep "too large: explained" 'more than the capacity'
[ ! -e "$img" ]
ok $? "no image left behind by a failed create"

expect_rc 0 "create 64M, 2 partitions, barcode" "$FI" create --size 64M -P 0:8M --barcode FT0001L9 --early-warning 1M "$img"
[ -f "$img" ] && [ "$(stat -c %s "$img")" -ge $((64 << 20)) ]
ok $? "image file is at least 64 MiB long"
[ "$(du -k "$img" | cut -f1)" -lt 4096 ]
ok $? "... and sparse"
expect_rc 1 "create over an existing file" "$FI" create "$img"
expect_grep "existing file: explained" 'exists'
expect_rc 0 "info" "$FI" info "$img"
expect_grep "info: capacity" '^capacity: +67108864 bytes'
expect_grep "info: 2 partitions" '^partitions: +2$'
expect_grep "info: partition 0 is 8 MiB" '^  capacity: +8388608 bytes'
expect_grep "info: partition 1 is the rest" '^  capacity: +58720256 bytes'
expect_grep "info: barcode" '^barcode: +FT0001L9$'
expect_grep "info: barcode attribute" '0x0806 ascii "FT0001L9 +"'
expect_grep "info: early warning" '^early warning: +1048576 bytes'
expect_grep "info: not write protected" '^write protect: +no$'
expect_grep "info: empty" '^  eod: +0$'

expect_rc 0 "set --read-only" "$FI" set --read-only "$img"
"$FI" info "$img" >"$T/out" 2>&1
expect_grep "info shows write protect" '^write protect: +yes$'
expect_rc 0 "set --read-write" "$FI" set --read-write "$img"
"$FI" info "$img" >"$T/out" 2>&1
expect_grep "info shows it cleared" '^write protect: +no$'
expect_rc 2 "set without a flag" "$FI" set "$img"
expect_rc 1 "set on a missing file" "$FI" set --read-only "$T/missing.img"

expect_rc 0 "create --force over it, 4 partitions, read-only" "$FI" create --force --size 1G -p 4 -P 0:1M,1:2M,2:3M --read-only "$img"
"$FI" info "$img" >"$T/out" 2>&1
expect_grep "4 partitions" '^partitions: +4$'
expect_grep "last partition gets the rest (1018 MiB)" '^  capacity: +1067450368 bytes'
expect_grep "created write protected" '^write protect: +yes$'
expect_grep "automatic early warning: a quarter of the 1 MiB partition" '^early warning: +262144 bytes \(automatic\)'

expect_rc 0 "create with -P 0:1M,1:0 (1 is the rest)" "$FI" create --force --size 8M -P 0:1M,1:0 "$img"
"$FI" info "$img" >"$T/out" 2>&1
expect_grep "... 2 partitions" '^partitions: +2$'
expect_grep "... partition 1 is the rest" '^  capacity: +7340032 bytes'
expect_rc 0 "create with -P 0:1M,1:1M (a third takes the rest)" "$FI" create --force --size 8M -P 0:1M,1:1M "$img"
"$FI" info "$img" >"$T/out" 2>&1
expect_grep "... 3 partitions" '^partitions: +3$'
expect_grep "... partition 2 is the rest" '^  capacity: +6291456 bytes'

head -c 100000 /dev/urandom >"$T/junk"
expect_rc 1 "info on a random file" "$FI" info "$T/junk"
expect_grep "random file: not an image" 'not a fusetape image'
expect_rc 1 "info on a missing file" "$FI" info "$T/missing.img"
expect_grep "missing file named" 'missing.img'
"$FI" create --size 4M "$T/trunc.img" >/dev/null 2>&1
truncate -s 1M "$T/trunc.img"
expect_rc 1 "info on a truncated image" "$FI" info "$T/trunc.img"
expect_grep "truncated: explained" 'truncated'

echo "1..$n"
[ "$failed" -eq 0 ]
