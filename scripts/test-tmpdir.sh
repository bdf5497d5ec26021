#!/bin/sh
# Prints the TMPDIR `make unit` gives the test suite: a directory of its own on /dev/shm when that
# is a RAM-backed tmpfs with room to spare and lets files there run, otherwise the TMPDIR already
# in force (or /tmp).
#
# Why: a run creates and removes tens of thousands of small files (git repositories, build
# checkouts, sandbox state, the fake docker's records) but holds under 100 MB at its peak. On a
# disk those writes and removals cost the suite ~5 s of system CPU and ~3 s of I/O wait against
# none in RAM. The checks keep it safe where /dev/shm is small or mounted noexec (a container's
# default is 64 MB, noexec): the tests run scripts they write into their temporary directories.
set -u

fallback=${TMPDIR:-/tmp}
shm=${1:-/dev/shm} # an argument stands in for /dev/shm (the tests use one)
dir="$shm/releasectl-tests-$(id -u)"
need_kb=1048576 # 1 GiB free

use_fallback() {
	printf '%s\n' "$fallback"
	exit 0
}

[ "$(stat -f -c %T "$shm" 2>/dev/null)" = tmpfs ] || use_fallback
free_kb=$(df -Pk "$shm" 2>/dev/null | awk 'NR == 2 { print $4 }')
[ -n "$free_kb" ] && [ "$free_kb" -ge "$need_kb" ] || use_fallback
mkdir -p "$dir" 2>/dev/null && chmod 700 "$dir" || use_fallback
probe="$dir/.exec-probe"
printf '#!/bin/sh\nexit 0\n' >"$probe" && chmod +x "$probe" && "$probe" || use_fallback
printf '%s\n' "$dir"
