#!/bin/bash
# vm-tape.sh - the guest benchmarks of bench/guest/ in the VM rig: 1 MiB
# records through /dev/tapedma0 (uring_cmd on registered buffers, write(2))
# versus /dev/nst0 (tape-stream.c, issue 4), 512 KiB records through the
# library's tapedma backend, synchronous versus queued at several depths
# (tape-queue.c), and a 256 MiB file through the filesystem on each device
# (fs-stream.sh, issue 5).  Not part of make check: the rig runs them only
# because VM_GUEST_DIR points it here.
#
#   bench/vm-tape.sh [--only tape-stream|tape-queue|fs-stream[,...]] [--head]
#
#   --only NAME  one of the benchmarks, or a comma-separated list (default: all)
#   --head       measure the committed state: build HEAD's tree (git
#                archive) in a temporary directory and give the guest its
#                binaries and library, not build/rel, which other people
#                rebuild from work in progress.  The guest programs and
#                tapedma.ko still come from this work tree.
#
# Prints the host's load before and after and the CPU time its hypervisor
# stole meanwhile (TCG is CPU-bound: figures taken
# on a busy host are low), the rig's TAP output, then a summary: the
# benchmarks' RESULT lines, failures, and st's direct-I/O setting from the
# guest's kernel log.  The whole output is also kept in
# build/bench/vm-tape.log.  Exit status: the rig's.
#
# Environment: VM_BENCH_RUNS (rounds of fs-stream, default 3),
# VM_TAPE_MB (default 800: fs-stream keeps two 256 MiB
# copies), VM_TIMEOUT (default 3000 s), VM_TEST_TIMEOUT (default 1800 s),
# FUSETAPE_REL_BIN / VM_LIB / TAPEDMA_KO as for tests/vm/run.  Needs root,
# as the rig does.  A full run takes about 15 minutes on a loaded 2-core
# host (fs-stream most of it).
set -u
cd "$(dirname "$0")/.." || exit 1
root=$PWD

only= head=0
while [ $# -gt 0 ]; do
	case $1 in
	--only) only=${2:?--only needs tape-stream, tape-queue or fs-stream}; shift ;;
	--only=*) only=${1#--only=} ;;
	--head) head=1 ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "vm-tape.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

export VM_GUEST_DIR=$root/bench/guest
export VM_TAPE_MB=${VM_TAPE_MB:-800}
export VM_TIMEOUT=${VM_TIMEOUT:-3000}
export VM_TEST_TIMEOUT=${VM_TEST_TIMEOUT:-1800}

snap=
cleanup() { [ -n "$snap" ] && rm -rf "$snap"; }
trap cleanup EXIT
if [ $head = 1 ]; then
	snap=$(mktemp -d /tmp/fusetape-bench-head.XXXXXX) || exit 1
	git archive HEAD | tar -x -C "$snap" || { echo "vm-tape.sh: git archive HEAD failed" >&2; exit 1; }
	echo "vm-tape.sh: building HEAD $(git rev-parse --short HEAD) in $snap" >&2
	make -C "$snap" -s -j2 VARIANT=rel B=build/rel user >"$snap/make.log" 2>&1 || {
		tail -20 "$snap/make.log" >&2
		echo "vm-tape.sh: building HEAD failed" >&2
		exit 1
	}
	export FUSETAPE_REL_BIN=$snap/build/rel/bin VM_LIB=$snap/build/rel/libfusetape.a
fi

args=()
[ -n "$only" ] && args=(--only "$only")
mkdir -p build/bench
log=build/bench/vm-tape.log
{
	echo "# bench/vm-tape.sh ${*:-} at $(date -u +%Y-%m-%dT%H:%M:%SZ), tree $(git describe --always --dirty 2>/dev/null)$([ $head = 1 ] && echo ", binaries of HEAD")"
	echo "# command: VM_GUEST_DIR=bench/guest VM_BENCH_RUNS=${VM_BENCH_RUNS:-} VM_TAPE_MB=$VM_TAPE_MB VM_TIMEOUT=$VM_TIMEOUT VM_TEST_TIMEOUT=$VM_TEST_TIMEOUT tests/vm/run ${args[*]:-}"
	echo "# host: $(nproc) CPUs, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$log"
# busy and stolen jiffies of this machine: when it is itself a VM, time its
# hypervisor gave to others slows the emulated guest in bursts
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9; exit }' /proc/stat; }
ticks0=$(cpu_ticks)
tests/vm/run "${args[@]}" | tee -a "$log"
rc=${PIPESTATUS[0]}
{
	echo "# host load after: $(cut -d' ' -f1-3 /proc/loadavg); CPU time stolen by the hypervisor during the run: $(echo "$ticks0 $(cpu_ticks)" |
		awk '{ b = $3 - $1; s = $4 - $2; printf "%.1f%% of busy time", (b + s > 0 ? 100 * s / (b + s) : 0) }')"
	echo "# ---- summary ----"
	sed -n 's/^# [a-z-]*: RESULT //p' "$log"
	grep '^not ok' "$log"
	# build/vm/console.log is the last rig run's: another run may have
	# replaced it since, so this is only a hint.
	grep -ao 'st0: try direct i/o: [^\r]*' build/vm/console.log 2>/dev/null | head -1 | sed 's/^/st (guest kernel log): /'
	echo "rig exit status $rc"
} | tee -a "$log"
exit "$rc"
