#!/usr/bin/env bash
# Regenerates tlsh-length-classes.txt from the reference library itself:
# calls libtlsh's l_capturing() for every 32-bit length and prints where
# the class changes. Needs gcc and Debian's tlsh-tools; takes ~30 s.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=$(ls /usr/lib/*/libtlsh.so.0 | head -1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/lc.c" <<'C'
#include <stdio.h>
#include <stdint.h>
unsigned char _Z11l_capturingj(unsigned int len); /* l_capturing(unsigned) */
int main(void) {
	unsigned prev = _Z11l_capturingj(1);
	printf("1 %u\n", prev);
	for (uint64_t n = 2; n <= 0xffffffffULL; n++) {
		unsigned l = _Z11l_capturingj((unsigned)n);
		if (l != prev) { printf("%llu %u\n", (unsigned long long)n, l); prev = l; }
	}
	return 0;
}
C
gcc -O2 -o "$tmp/lc" "$tmp/lc.c" "$lib"
{
	echo "# TLSH length classes of libtlsh 3.4.4 (tlsh-tools): each line is the"
	echo "# smallest input length N with length class L, as 'N L'. Made by"
	echo "# tlsh-length-classes.sh; checked by TestTLSHLengthClasses."
	"$tmp/lc"
} >"$here/tlsh-length-classes.txt"
