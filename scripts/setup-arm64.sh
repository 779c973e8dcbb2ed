#!/usr/bin/env bash
# Installs what tests/ffi/arm64_test.ts needs to run the library's
# extension-free code on ARM64 (Raspberry Pi) under qemu user-mode emulation:
# qemu-user-static and arm64 libc from Debian, arm64 Deno and Bun from npm.
# Without them that test skips with a message (a failure under CI=true; .ci/run
# stops when this script fails). Needs root for apt-get. Exits non-zero, naming
# the step, when anything is missing afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/arm64
if ! command -v qemu-aarch64-static >/dev/null 2>&1 || [ ! -e /lib/ld-linux-aarch64.so.1 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup-arm64: not root, cannot apt-get install qemu"; exit 1; fi
  dpkg --add-architecture arm64
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    qemu-user-static libc6:arm64 libgcc-s1:arm64 >/dev/null
fi
deno_version=$(node -p 'require("./node_modules/deno/package.json").version')
bun_version=$(node -p 'require("./node_modules/bun/package.json").version')
mkdir -p "$dest"
( cd "$dest" && [ -f package.json ] || echo '{"private":true}' > package.json
  npm install --no-save --no-audit --no-fund --ignore-scripts --os=linux --cpu=arm64 --libc=glibc \
    "deno@$deno_version" "bun@$bun_version" >/dev/null )
# What tests/ffi/arm64_test.ts looks for; fail here, by name, rather than there as a skip.
for f in "$(command -v qemu-aarch64-static)" /lib/ld-linux-aarch64.so.1 \
  "$dest/node_modules/@deno/linux-arm64-glibc/deno" "$dest/node_modules/@oven/bun-linux-aarch64/bin/bun"; do
  if [ -z "$f" ] || [ ! -e "$f" ]; then echo "setup-arm64: missing after setup: ${f:-qemu-aarch64-static}"; exit 1; fi
done
echo "setup-arm64: qemu $(qemu-aarch64-static --version | head -1 | awk '{print $3}'), deno $deno_version, bun $bun_version (arm64) in $dest"
