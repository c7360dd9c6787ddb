#!/usr/bin/env bash
# Installs what EfficientViT.MLNet needs on a Linux machine, idempotently, and says what it does:
#  - the Fashion-MNIST data set (Debian package dataset-fashion-mnist), used by the demo and some tests;
#  - ONNX's own model checker (Debian package python3-onnx), which the tests run on exported models;
#  - headless Chromium and its WebDriver (Debian packages chromium and chromium-driver), which drive the
#    image-classification service's page in tests/Service.Tests;
#  - gperftools' tcmalloc (Debian package libtcmalloc-minimal4), which the efficientvit command line
#    preloads: libtorch allocates every tensor with malloc, and training runs faster with it
#    (docs/guide/performance.md#the-malloc-tcmalloc);
#  - a libstdc++ new enough for TorchSharp's native glue (GLIBCXX_3.4.32, GCC 13+). Debian 12 ships
#    GCC 12's, so there the library is taken from Debian 13 (trixie), pinned low so that nothing else
#    is upgraded by default.
#  - on x86_64, QEMU's user-mode emulator (Debian package qemu-user, 10 or newer, without the
#    recommended binfmt registration), with which scripts/int8-without-vnni.sh runs the int8 tests on an
#    emulated CPU without VNNI. Debian 12's QEMU 7.2 starts signal handlers on a misaligned stack, which
#    crashes .NET now and then, so where Debian 13 is an apt source (added for libstdc++ above) the
#    package comes from there: its binaries are static and bring nothing else along.
#  - on x86_64, a C compiler (Debian package gcc), with which scripts/avx2-only.sh builds the small library
#    that hides AVX-512 and VNNI from the tests' second run (scripts/tests-avx2-only.sh).
# Nothing is done when everything is already present. When another apt or dpkg process holds the package
# locks (unattended-upgrades on a fresh machine), it waits for them, at most APT_LOCK_WAIT seconds (default 600).
set -euo pipefail

say() { printf '[setup] %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO="__none__"; fi
fi
as_root() {
  if [ "$SUDO" = "__none__" ]; then
    say "needs root to run: $*  (run this script as root or install sudo)"; return 1
  fi
  $SUDO "$@"
}

. "$(dirname "$0")/apt-get-waiting.sh"

FASHION_DIR=/usr/share/datasets/fashion-mnist
NEEDED_GLIBCXX=GLIBCXX_3.4.32

find_libstdcxx() {
  local p
  for p in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib/aarch64-linux-gnu/libstdc++.so.6 /usr/lib64/libstdc++.so.6 /usr/lib/libstdc++.so.6; do
    [ -e "$p" ] && { echo "$p"; return 0; }
  done
  return 1
}

has_glibcxx() {
  local lib; lib=$(find_libstdcxx) || return 1
  grep -aq "$NEEDED_GLIBCXX" "$lib"
}

apt_updated=0
apt_update_once() {
  if [ $apt_updated = 0 ]; then
    say "apt-get update"
    apt_get_waiting update -qq
    apt_updated=1
  fi
}

if ! command -v apt-get >/dev/null 2>&1; then
  say "not a Debian-like system: install Fashion-MNIST to $FASHION_DIR and a libstdc++ with $NEEDED_GLIBCXX yourself."
else
  if [ -f "$FASHION_DIR/train-images-idx3-ubyte.gz" ]; then
    say "Fashion-MNIST present in $FASHION_DIR"
  else
    apt_update_once
    say "installing dataset-fashion-mnist"
    apt_get_waiting install -y -qq dataset-fashion-mnist >/dev/null
  fi

  if /usr/bin/python3 -c 'import onnx' >/dev/null 2>&1; then
    say "ONNX checker (python3-onnx) present"
  else
    apt_update_once
    say "installing python3-onnx (ONNX's model checker, used by the tests)"
    apt_get_waiting install -y -qq python3-onnx >/dev/null
  fi

  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    say "Chromium and chromedriver present"
  else
    apt_update_once
    say "installing chromium and chromium-driver (the service's browser test)"
    apt_get_waiting install -y -qq --no-install-recommends chromium chromium-driver fonts-liberation >/dev/null
  fi

  if has_glibcxx; then
    say "libstdc++ provides $NEEDED_GLIBCXX (TorchSharp's native prerequisite is met)"
  else
    . /etc/os-release
    if [ "${ID:-}" = "debian" ] && [ "${VERSION_ID:-}" = "12" ]; then
      say "libstdc++ lacks $NEEDED_GLIBCXX (Debian 12 has GCC 12's); installing libstdc++6 from Debian 13 (trixie), pinned low"
      if [ ! -f /etc/apt/sources.list.d/efficientvit-trixie.sources ]; then
        as_root tee /etc/apt/sources.list.d/efficientvit-trixie.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
        as_root tee /etc/apt/preferences.d/efficientvit-trixie >/dev/null <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
        apt_updated=0
      fi
      apt_update_once
      apt_get_waiting install -y -qq -t trixie libstdc++6 >/dev/null
      has_glibcxx || { say "libstdc++6 from trixie did not provide $NEEDED_GLIBCXX"; exit 1; }
      say "libstdc++ now provides $NEEDED_GLIBCXX"
    else
      say "libstdc++ lacks $NEEDED_GLIBCXX: TorchSharp needs GCC 13's libstdc++ or newer (Ubuntu 24.04+, Debian 13+)."
      exit 1
    fi
  fi

  # After libstdc++, which adds Debian 13 as a source on Debian 12.
  if [ "$(uname -m)" = "x86_64" ]; then
    qemu_version=$(qemu-x86_64 --version 2>/dev/null | sed -n '1s/^qemu-x86_64 version \([0-9][0-9.]*\).*/\1/p' || true)
    if [ -n "$qemu_version" ] && [ "${qemu_version%%.*}" -ge 10 ]; then
      say "QEMU user-mode emulator $qemu_version present (qemu-user)"
    elif [ -f /etc/apt/sources.list.d/efficientvit-trixie.sources ]; then
      apt_update_once
      say "installing qemu-user from Debian 13 (trixie), QEMU 10, for the int8 tests on an emulated CPU without VNNI (Debian 12's QEMU 7.2 crashes .NET)"
      apt_get_waiting install -y -qq --no-install-recommends -t trixie qemu-user >/dev/null
    elif [ -z "$qemu_version" ]; then
      apt_update_once
      say "installing qemu-user (the int8 tests on an emulated CPU without VNNI)"
      apt_get_waiting install -y -qq --no-install-recommends qemu-user >/dev/null
    else
      say "QEMU user-mode emulator $qemu_version present (qemu-user; scripts/int8-without-vnni.sh checks that it runs .NET)"
    fi
  fi

  if [ "$(uname -m)" = "x86_64" ]; then
    if command -v gcc >/dev/null 2>&1; then
      say "C compiler (gcc) present"
    else
      # Where libc6 came from Debian 13 (step above), so must the C library's headers that gcc brings along.
      apt_update_once
      say "installing gcc (scripts/avx2-only.sh builds its CPUID library with it)"
      trixie=()
      [ -f /etc/apt/sources.list.d/efficientvit-trixie.sources ] && trixie=(-t trixie)
      apt_get_waiting install -y -qq --no-install-recommends "${trixie[@]}" gcc libc6-dev >/dev/null \
        || say "gcc could not be installed: the tests' run as an AVX2-only CPU will be skipped"
    fi
  fi

  # After libstdc++: on Debian 12 the package comes from Debian 12 itself (Debian 13 renamed it ...t64).
  if ls /usr/lib/*-linux-gnu/libtcmalloc_minimal.so.4 >/dev/null 2>&1; then
    say "tcmalloc (libtcmalloc-minimal4) present"
  else
    apt_update_once
    say "installing libtcmalloc-minimal4 (gperftools' malloc, which the efficientvit command line preloads)"
    apt_get_waiting install -y -qq libtcmalloc-minimal4 >/dev/null 2>&1 \
      || apt_get_waiting install -y -qq libtcmalloc-minimal4t64 >/dev/null
  fi
fi
