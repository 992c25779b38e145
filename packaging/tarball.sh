#!/usr/bin/env bash
# Builds the release tarball: openclaw-node-<version>-<target>.tar.gz containing
#   bin/openclaw-node, share/openclaw-node/{systemd,launchd}/…, README.md, CHANGELOG.md
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
target=$(rustc -vV | sed -n 's/^host: //p')
name="openclaw-node-$version-$target"
out=${1:-target/dist}
cargo build --release --locked
stage=$(mktemp -d)
mkdir -p "$stage/$name/bin" "$stage/$name/share/openclaw-node"
install -m 0755 target/release/openclaw-node "$stage/$name/bin/"
cp -r packaging/systemd packaging/launchd packaging/deb "$stage/$name/share/openclaw-node/"
cp README.md CHANGELOG.md "$stage/$name/"
mkdir -p "$out"
tar -C "$stage" -czf "$out/$name.tar.gz" "$name"
rm -rf "$stage"
echo "$out/$name.tar.gz"
