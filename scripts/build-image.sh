#!/usr/bin/env bash
# Build the runtime image here, without any container registry:
#   1. a Debian bookworm base (python3) from debootstrap, using the mirror of this machine's apt sources,
#      cached as a reproducible tar in the cache dir and imported into podman;
#   2. a wheelhouse of the runtime's dependencies and the project wheel (pip, as configured on this machine);
#   3. `podman build --build-arg BASE=<that base>` of the Containerfile (which elsewhere builds unchanged
#      from a python slim image with plain docker build).
# Prints the image reference on stdout.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/build-image.sh [--rebuild-base]

Builds localhost/baton-iac:<package version> (override with IAC_IMAGE) with podman, offline.
  --rebuild-base   ignore the cached base image and run debootstrap again
Environment: IAC_CACHE_DIR (default ~/.cache/iac), IAC_IMAGE, PYTHON (default .venv/bin/python)
USAGE
}

rebuild_base=0
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --rebuild-base) rebuild_base=1 ;;
  "") ;;
  *) usage >&2; exit 64 ;;
esac

log() { echo "build-image: $*" >&2; }
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-$root/.venv/bin/python}"
cache_dir="${IAC_CACHE_DIR:-$HOME/.cache/iac}"
export CONTAINERS_CONF="$root/containers/containers.conf"
export CONTAINERS_STORAGE_CONF="$root/containers/storage.conf"

version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' iac/_version.py)"
image="${IAC_IMAGE:-localhost/baton-iac:${version}}"

# -- tools -------------------------------------------------------------------------------------------
needed=(podman buildah runc debootstrap)
missing=()
for pkg in "${needed[@]}"; do
  dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { log "needs root to install: ${missing[*]}"; exit 1; }
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# -- base image --------------------------------------------------------------------------------------
suite=bookworm
packages=python3,python3-venv,ca-certificates
recipe_id="$(printf '%s|%s|%s' minbase "$suite" "$packages" | sha256sum | cut -c1-12)"
base="localhost/iac-base:${suite}-${recipe_id}"
base_tar="${cache_dir}/base-${suite}-${recipe_id}.tar"

debian_mirror() {  # the URI this machine's apt uses for the main archive of $suite
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    uri="$(awk -v s="$suite" '
      /^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) found = u }
      /^$/ { u = "" } END { print found }' /etc/apt/sources.list.d/*.sources)"
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri="$(awk -v s="$suite" '$1 == "deb" && $3 == s { print $2; exit }' /etc/apt/sources.list)"
  fi
  [ -n "$uri" ] || { log "no apt source for ${suite} found in /etc/apt"; exit 1; }
  echo "$uri"
}

if [ "$rebuild_base" -eq 1 ]; then
  podman image rm -f "$base" >/dev/null 2>&1 || true
  rm -f "$base_tar"
fi
if podman image exists "$base"; then
  log "base ${base} present"
elif [ -s "$base_tar" ]; then
  log "importing cached base ${base_tar}"
  podman import --change 'CMD ["/bin/sh"]' "$base_tar" "$base" >/dev/null
else
  mirror="$(debian_mirror)"
  rootfs="$(mktemp -d "${TMPDIR:-/tmp}/iac-rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  log "debootstrap ${suite} (${packages}) — about a minute"
  # A clean environment: an inherited TMPDIR breaks ca-certificates' postinst inside the chroot.
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin debootstrap --variant=minbase --include="$packages" \
    "$suite" "$rootfs" "$mirror" >"${rootfs}.log" 2>&1 || { tail -20 "${rootfs}.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*
  mkdir -p "$cache_dir"
  # Reproducible: same recipe and packages → same tar → same image ID.
  tar --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 -C "$rootfs" -cf "${base_tar}.tmp" .
  mv -f "${base_tar}.tmp" "$base_tar"
  rm -f "${rootfs}.log"
  podman import --change 'CMD ["/bin/sh"]' "$base_tar" "$base" >/dev/null
  log "base ${base} built and cached in ${base_tar}"
fi

# -- wheelhouse --------------------------------------------------------------------------------------
wheels="$root/build/image/wheels"
rm -rf "$wheels"
mkdir -p "$wheels"
log "collecting wheels"
"$python" -m pip wheel -q -w "$wheels" -r containers/runtime-requirements.txt >&2
"$python" -m pip wheel -q --no-deps --no-build-isolation -w "$wheels" . >&2

# -- image -------------------------------------------------------------------------------------------
log "building ${image}"
podman build -q --isolation chroot --build-arg "BASE=${base}" --build-arg "VERSION=${version}" \
  -t "$image" -f Containerfile . >&2
echo "$image"
