#!/usr/bin/env bash
# Writes libtorch.so and libc10.so that are not the libtorch TorchSharp was built for: what another
# libtorch on the library path (Debian's python3-torch 1.13, a conda or pip PyTorch in LD_LIBRARY_PATH)
# looks like to the dynamic loader. They export none of libtorch's symbols, so a process that binds
# TorchSharp to them fails with "undefined symbol". Run from this folder; needs a C compiler.
set -euo pipefail
cd "$(dirname "$0")"
cat > conflicting.c <<'C'
/* Stands in for a different libtorch build: a library with the right name and none of its symbols. */
int conflicting_libtorch_version(void) { return 113; }
C
for name in libtorch libc10; do
  cc -shared -fPIC -O2 -s -Wl,-soname,$name.so -o $name.so conflicting.c
done
rm conflicting.c
