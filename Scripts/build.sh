#!/usr/bin/env bash
# Builds the release binary, .build/release/lifeline, with the Swift runtime, libstdc++ and
# SQLite linked in statically: a command then starts in half the time (no shared Swift libraries to
# load).
# Linked by the toolchain's lld at a fixed address (not position-independent), so the loader
# has no relative relocations to apply and the pages they would dirty stay shared with the file
# (a 'lifeline enqueue' takes 600 page faults instead of 930, and 8% fewer instructions; the
# price is that the binary's own code sits at the same address in every process, while its
# libraries, stack and heap are still placed at random), and without exporting the
# binary's 37,000 symbols, which the runtime's start-up path lookup otherwise searches one by one.
set -euo pipefail
cd "$(dirname "$0")/.."

Scripts/setup.sh

# Two libraries linked in from their static archives, each asked for by the toolchain as -lNAME:
# a directory searched first holds a linker script named like the shared library that answers
# with the archive; without the archive, the shared library is linked as before.
# - libstdc++, which the Swift runtime needs (the GCC Runtime Library Exception allows it):
#   loading the shared one bound 1,720 of its symbols to itself at every start, a fifth of a
#   'lifeline enqueue''s instructions and 90 of its page faults.
# - SQLite, libsqlite3-dev's own archive of the system library: the shared one is linked with
#   immediate binding, and binding its 1,596 symbols took 1.1 million of a 'lifeline enqueue''s
#   3.6 million instructions (callgrind), before its pages were mapped and faulted in.
mkdir -p .build/static-libs
rm -f .build/static-libs/*.so
clang="$(dirname "$(command -v swiftc)")/clang"
for library in stdc++ sqlite3; do
  archive=$("$clang" -print-file-name="lib$library.a" 2>/dev/null || true)
  # clang answers with the bare name when it finds no archive.
  if [[ $archive == /* && -f $archive ]]; then
    echo "INPUT(\"$archive\")" >".build/static-libs/lib$library.so"
  fi
done
static_libs=(-Xswiftc -Xclang-linker -Xswiftc "-L$PWD/.build/static-libs")

# Generic types with concrete arguments (a [AttemptKey: Entry], a Set<UInt8>) are made by
# calling their metadata accessors with the conformances the compiler already knows, not from
# mangled names the runtime decodes: each decode that needs a conformance (Hashable, say)
# scanned all of the binary's conformance records, some 600,000 instructions a type. By
# callgrind, a pool's runner process took 4.79 million instructions to start and end, and 1.96
# million this way; a one-job drain 25.6 and 22.0 million; a one-job 'lifeline enqueue' 2.44
# and 2.28 million.
direct_metadata=(-Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors)

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Without DWARF (--strip-debug): 107 MB instead of 173; symbol names stay for backtraces.
if ! swift build -c release --product lifeline --static-swift-stdlib -Xswiftc -use-ld=lld \
  -Xlinker --no-pie -Xlinker --no-export-dynamic -Xlinker --strip-debug "${static_libs[@]}" "${direct_metadata[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
# The linker writes the binary out of order, which leaves it in the page cache in small pieces;
# written again front to back, it is mapped in larger ones at every start: a 'lifeline enqueue'
# just after a build took 425 page faults and 4.5 ms, and 381 and 3.7 ms from a copy.
binary=$(swift build -c release --show-bin-path)/lifeline
cp "$binary" "$binary.copy"
mv -f "$binary.copy" "$binary"
