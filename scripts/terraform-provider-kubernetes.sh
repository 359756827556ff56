#!/usr/bin/env bash
# Print the path of a filesystem mirror holding the real hashicorp/kubernetes Terraform provider v2.21.1, for
# the tests and benchmarks that apply synthesized stacks with it.
#
# The provider is a Go binary that no package registry ships offline; shared/notes/toolchain.md says how the
# archive was built (upstream commit d8885de9, the last one that vendored its Go modules). The script uses:
#   (a) a cached mirror whose binary's sha256 matches the one recorded beside the archive;
#   (b) the shared xz archive (../shared/bin next to the repo, or $IAC_SHARED_DIR/bin), when its sha256 and
#       the decompressed binary's sha256 match the .sha256 file beside it.
# The mirror layout is Terraform's: MIRROR/registry.terraform.io/hashicorp/kubernetes/VERSION/linux_amd64/BINARY.
# Only the mirror path goes to stdout; progress goes to stderr.
set -euo pipefail

VERSION=2.21.1
BINARY="terraform-provider-kubernetes_v${VERSION}"
ARCHIVE="${BINARY}-linux-amd64.xz"

usage() {
  cat <<USAGE
Usage: scripts/terraform-provider-kubernetes.sh

Prints a filesystem mirror directory (for a CLI config's provider_installation { filesystem_mirror { ... } })
holding hashicorp/kubernetes ${VERSION} for linux_amd64, unpacked once from ../shared/bin/${ARCHIVE}
(or \$IAC_SHARED_DIR/bin/...) after checking both sha256 sums.

Environment:
  IAC_CACHE_DIR    cache directory (default \$HOME/.cache/iac)
  IAC_SHARED_DIR   directory holding bin/${ARCHIVE} (default: ../shared next to the repo root)
USAGE
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 64 ;;
esac

log() { echo "terraform-provider-kubernetes.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${IAC_CACHE_DIR:-$HOME/.cache/iac}"
mirror="${cache_dir}/terraform-mirror-kubernetes-${VERSION}"
platform_dir="${mirror}/registry.terraform.io/hashicorp/kubernetes/${VERSION}/linux_amd64"
target="${platform_dir}/${BINARY}"

archive=""
for dir in ${IAC_SHARED_DIR:+"$IAC_SHARED_DIR/bin" "$IAC_SHARED_DIR"} "$(dirname "$repo_root")/shared/bin"; do
  if [ -f "${dir}/${ARCHIVE}" ]; then archive="${dir}/${ARCHIVE}"; break; fi
done
[ -n "$archive" ] || die "no ${ARCHIVE} in ../shared/bin or \$IAC_SHARED_DIR/bin (see shared/notes/toolchain.md)"
sums="${archive}.sha256"
[ -f "$sums" ] || die "no ${sums}; not trusting ${archive}"
want_archive="$(awk -v n="$ARCHIVE" '$2 == n { print $1; exit }' "$sums")"
want_binary="$(awk '/\(decompressed\)/ { print $1; exit }' "$sums")"
{ [ -n "$want_archive" ] && [ -n "$want_binary" ]; } || die "cannot read both checksums from ${sums}"

# (a) the cache
if [ -x "$target" ] && [ "$(sha256_of "$target")" = "$want_binary" ]; then
  echo "$mirror"
  exit 0
fi

# (b) the shared archive
[ "$(sha256_of "$archive")" = "$want_archive" ] || die "sha256 of ${archive} does not match ${sums}"
command -v xz >/dev/null || die "xz is missing: run scripts/install-test-deps.sh"
mkdir -p "$platform_dir"
unpacked="$(mktemp "${platform_dir}/.${BINARY}.XXXXXX")"
trap 'rm -f "$unpacked"' EXIT
xz -dc "$archive" > "$unpacked"
[ "$(sha256_of "$unpacked")" = "$want_binary" ] || die "the decompressed provider does not match ${sums}"
chmod 0755 "$unpacked"
mv -f "$unpacked" "$target"  # atomic: a parallel run sees no binary or the whole one, never half of it
log "unpacked ${archive} (verified) into ${mirror}"
echo "$mirror"
