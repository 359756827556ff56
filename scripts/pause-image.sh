#!/usr/bin/env bash
# Print the path of an OCI archive of the pod sandbox ("pause") image for the one-node test cluster.
#
# There is no registry here, so the image is built from `build/pause/linux/pause.c` of Debian's kubernetes
# source package (the same source as the kube binaries): `gcc -Os -static`, `FROM scratch` with podman, then
# `podman save --format oci-archive` into the cache. The fixture imports it with `ctr images import` and names
# it in containerd's CRI `sandbox_image`. Progress goes to stderr, only the path to stdout.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/pause-image.sh [--rebuild]

Prints ${IAC_CACHE_DIR:-~/.cache/iac}/pause-<tag>.oci.tar (image localhost/iac-pause:<tag>), building it
when it is missing or does not match its recorded sha256.
  --rebuild   build again even when the cached archive is good
USAGE
}

rebuild=0
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --rebuild) rebuild=1 ;;
  "") ;;
  *) usage >&2; exit 64 ;;
esac

log() { echo "pause-image.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${IAC_CACHE_DIR:-$HOME/.cache/iac}"
# The tag of kubernetes v1.20's build/pause/Makefile; the archive name carries it.
TAG=3.4
IMAGE="localhost/iac-pause:${TAG}"
archive="${cache_dir}/pause-${TAG}.oci.tar"

if [ "$rebuild" -eq 0 ] && [ -s "$archive" ] && [ -s "${archive}.sha256" ] \
   && [ "$(sha256sum "$archive" | cut -d' ' -f1)" = "$(cat "${archive}.sha256")" ]; then
  log "using cached ${archive}"
  echo "$archive"
  exit 0
fi

for tool in gcc podman; do
  command -v "$tool" >/dev/null || die "${tool} is missing: run scripts/install-test-deps.sh"
done

src="$("${root}/scripts/kube-binary.sh" --fetch-source-only | tail -n 1)"
work="$(dirname "$src")"
trap 'rm -rf "$work"' EXIT
pause_c="${src}/build/pause/linux/pause.c"
[ -f "$pause_c" ] || die "no build/pause/linux/pause.c in ${src}"
grep -qx "TAG = ${TAG}" "${src}/build/pause/Makefile" \
  || log "warning: ${src}/build/pause/Makefile does not say TAG ${TAG}; keeping ${TAG} as the image tag"

ctx="${work}/pause-image"
mkdir -p "$ctx"
log "gcc -Os -static ${pause_c}"
gcc -Os -Wall -Werror -static -DVERSION="v${TAG}-iac" -o "${ctx}/pause" "$pause_c"
strip "${ctx}/pause"
cat > "${ctx}/Containerfile" <<'CONTAINERFILE'
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
CONTAINERFILE

export CONTAINERS_CONF="${root}/containers/containers.conf"
export CONTAINERS_STORAGE_CONF="${root}/containers/storage.conf"
log "podman build ${IMAGE}"
podman build -q --isolation chroot -t "$IMAGE" -f "${ctx}/Containerfile" "$ctx" >&2
mkdir -p "$cache_dir"
tmp="$(mktemp "${cache_dir}/.pause.XXXXXX")"
rm -f "$tmp"  # podman save refuses to overwrite
podman save --format oci-archive -o "$tmp" "$IMAGE" >&2
sha256sum "$tmp" | cut -d' ' -f1 > "${archive}.sha256"
mv -f "$tmp" "$archive"
log "cached ${archive}"
echo "$archive"
