# mkfs-lib.sh - shared by the mkfs-*, fsck-* host tests (sourced, not run).
# TAP output, binaries from $FUSETAPE_BIN (default build/san/bin), a scratch
# directory that is removed on exit.
set -u
cd "$(dirname "$0")/../.."
BIN=${FUSETAPE_BIN:-$PWD/build/san/bin}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=23}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=24}
MKFS=$BIN/mkfs.fusetape
FSCK=$BIN/fsck.fusetape
T=$(mktemp -d /var/tmp/fusetape-test.XXXXXX)
n=0 failed=0
cleanup_hooks=()
_cleanup() {
	local h
	for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done
	chattr -i "$T"/* 2>/dev/null || true
	rm -rf "$T"
}
trap _cleanup EXIT

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
diag() { sed 's/^/#   /'; }
# check DESCRIPTION COMMAND...: passes if the command succeeds
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# run_rc OUTFILE CMD...: run, stdout+stderr to OUTFILE, return code in $rc
run_rc() {
	local out=$1; shift
	rc=0
	"$@" >"$out" 2>&1 || rc=$?
}
# expect_rc WANT WHAT OUTFILE CMD...
expect_rc() {
	local want=$1 what=$2 out=$3; shift 3
	run_rc "$out" "$@"
	if [ "$rc" -eq "$want" ]; then
		ok "$what (exit $rc)"
	else
		not_ok "$what: exit $rc, want $want"
		diag <"$out"
	fi
}
# expect_grep WHAT FILE REGEX
expect_grep() {
	if grep -qE -- "$3" "$2"; then ok "$1"; else not_ok "$1: no /$3/ in output"; diag <"$2"; fi
}
done_testing() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
}
require_bins() {
	local b
	for b in "$@"; do
		if [ ! -x "$BIN/$b" ]; then
			echo "1..0 # SKIP $BIN/$b not built"
			exit 77
		fi
	done
}
# The UUID mkfs.fusetape printed into FILE.
printed_uuid() { sed -n 's/^  UUID *//p' "$1" | head -1; }
