#!/usr/bin/env bash
# Print the paths of runnable Kubernetes v1.20.2 server binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet) for the real-cluster tests, one line per COMPONENT in the order given.
#
# No package of PyPI, npm or Debian ships these binaries, so this script finds or makes each one:
#   (a) a cached binary whose sha256 matches the one recorded when it was cached;
#   (b) the shared xz archive (../shared/bin next to the repo, or $IAC_SHARED_DIR/bin), when its sha256 and
#       the decompressed binary's sha256 match the .sha256 file beside it;
#   (c) a build from Debian's `kubernetes` source package (see shared/notes/toolchain.md); every component
#       that (a) and (b) could not supply is built in one `make`.
# Only the paths go to stdout; progress goes to stderr.
set -euo pipefail

KUBE_VERSION=v1.20.2
KNOWN=(kube-apiserver kube-controller-manager kube-scheduler kubelet)
BUILD_DEPS=(golang-go dpkg-dev make rsync jq golang-github-modern-go-reflect2-dev
            golang-github-json-iterator-go-dev)

usage() {
  cat <<EOF
Usage: scripts/kube-binary.sh [--from-source] [--fetch-source-only] COMPONENT...

COMPONENT is one of: ${KNOWN[*]}.
Prints, one line per COMPONENT, the path of a runnable ${KUBE_VERSION} binary, found in this order:
  1. \${IAC_CACHE_DIR:-\$HOME/.cache/iac}/COMPONENT-${KUBE_VERSION} if its sha256 matches the recorded one;
  2. ../shared/bin/COMPONENT-${KUBE_VERSION}-linux-amd64.xz (or \$IAC_SHARED_DIR/bin/...), verified and
     decompressed into the cache;
  3. a build from Debian's kubernetes source package (~5 min on 2 cores for all four, needs root for apt).

Options:
  --from-source        skip 1 and 2 and build (the results replace the cached binaries)
  --fetch-source-only  stop after 'apt-get source kubernetes' in a private apt state dir (also a smoke test
                       of step 3); prints the unpacked source dir and keeps it; no COMPONENT needed
  -h, --help           this text

Environment:
  IAC_CACHE_DIR    cache directory (default \$HOME/.cache/iac)
  IAC_SHARED_DIR   directory holding bin/COMPONENT-${KUBE_VERSION}-linux-amd64.xz (default: ../shared next to the repo)
  IAC_BUILD_DIR    parent directory for the source build (default \$TMPDIR or /tmp)
EOF
}

log() { echo "kube-binary.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

from_source=0
fetch_only=0
components=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --from-source) from_source=1 ;;
    --fetch-source-only) from_source=1; fetch_only=1 ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubelet) components+=("$1") ;;
    *) usage >&2; exit 64 ;;
  esac
  shift
done
[ ${#components[@]} -gt 0 ] || [ "$fetch_only" -eq 1 ] || { usage >&2; exit 64; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${IAC_CACHE_DIR:-$HOME/.cache/iac}"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

shared_archive_of() {  # $1 = component; prints the first existing archive path, or nothing
  local dir archive="$1-${KUBE_VERSION}-linux-amd64.xz"
  for dir in ${IAC_SHARED_DIR:+"$IAC_SHARED_DIR/bin" "$IAC_SHARED_DIR"} "$(dirname "$repo_root")/shared/bin"; do
    if [ -f "${dir}/${archive}" ]; then echo "${dir}/${archive}"; return; fi
  done
}

# The .sha256 file has one line per artefact: "<hex>  <archive name>" and "<hex>  COMPONENT (decompressed)".
expected_from_sums() {  # $1 = sums file, $2 = "archive" | "binary", $3 = archive name
  case "$2" in
    archive) awk -v n="$3" '$2 == n { print $1; exit }' "$1" ;;
    binary) awk '/\(decompressed\)/ { print $1; exit }' "$1" ;;
  esac
}

runs_as_expected() {  # the binary starts and reports the version we want
  "$1" --version 2>/dev/null | grep -qF "Kubernetes ${KUBE_VERSION}"
}

# Install into the cache atomically, recording the sha256 the next run checks in step (a).
cache_binary() {  # $1 = component, $2 = binary to copy (or move when $3 = move)
  local name="$1-${KUBE_VERSION}" tmp
  mkdir -p "$cache_dir"
  tmp="$(mktemp "${cache_dir}/.${name}.XXXXXX")"
  if [ "${3:-copy}" = move ]; then mv -f "$2" "$tmp"; else cp "$2" "$tmp"; fi
  chmod 0755 "$tmp"
  sha256_of "$tmp" > "${tmp}.sha256"
  mv -f "${tmp}.sha256" "${cache_dir}/${name}.sha256"
  mv -f "$tmp" "${cache_dir}/${name}"
}

from_cache() {  # (a) $1 = component; succeeds when the cached binary is verified
  local cached="${cache_dir}/$1-${KUBE_VERSION}" expected="" archive
  [ -x "$cached" ] || return 1
  archive="$(shared_archive_of "$1")"
  if [ -s "${cached}.sha256" ]; then
    expected="$(cat "${cached}.sha256")"
  elif [ -n "$archive" ] && [ -f "${archive}.sha256" ]; then
    expected="$(expected_from_sums "${archive}.sha256" binary)"
  fi
  if [ -n "$expected" ] && [ "$(sha256_of "$cached")" = "$expected" ]; then
    log "using cached ${cached}"
    return 0
  fi
  log "cached ${cached} does not match its recorded sha256; ignoring it"
  return 1
}

from_archive() {  # (b) $1 = component; succeeds when the shared archive was verified and cached
  local archive sums want_archive want_binary unpacked
  archive="$(shared_archive_of "$1")"
  [ -n "$archive" ] || return 1
  sums="${archive}.sha256"
  if [ ! -f "$sums" ]; then
    log "no ${sums}; not trusting ${archive}"; return 1
  fi
  want_archive="$(expected_from_sums "$sums" archive "$(basename "$archive")")"
  want_binary="$(expected_from_sums "$sums" binary)"
  if [ -z "$want_archive" ] || [ -z "$want_binary" ]; then
    log "cannot read both checksums from ${sums}; not trusting ${archive}"; return 1
  fi
  if [ "$(sha256_of "$archive")" != "$want_archive" ]; then
    log "sha256 of ${archive} does not match ${sums}; ignoring it"; return 1
  fi
  command -v xz >/dev/null || die "xz is missing: run scripts/install-test-deps.sh"
  log "decompressing ${archive} (verified) into ${cache_dir}"
  mkdir -p "$cache_dir"
  unpacked="$(mktemp "${cache_dir}/.$1.unpack.XXXXXX")"
  xz -dc "$archive" > "$unpacked"
  if [ "$(sha256_of "$unpacked")" != "$want_binary" ]; then
    rm -f "$unpacked"
    log "decompressed $1 does not match the recorded sha256; ignoring the archive"; return 1
  fi
  cache_binary "$1" "$unpacked" move
  log "cached ${cache_dir}/$1-${KUBE_VERSION}"
}

to_build=()
for component in "${components[@]}"; do
  if [ "$from_source" -eq 0 ] && { from_cache "$component" || from_archive "$component"; }; then
    continue
  fi
  to_build+=("$component")
done

print_paths() { for component in "${components[@]}"; do echo "${cache_dir}/${component}-${KUBE_VERSION}"; done; }
if [ ${#to_build[@]} -eq 0 ] && [ "$fetch_only" -eq 0 ]; then
  print_paths
  exit 0
fi

# (c) build from Debian's source package
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "building from source needs root (or sudo) for apt-get install"
  as_root=(sudo)
fi

installed() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed; }
missing=()
needed=("${BUILD_DEPS[@]}")
[ "$fetch_only" -eq 0 ] || needed=(dpkg-dev)  # apt-get source unpacks with dpkg-source
for pkg in "${needed[@]}"; do installed "$pkg" || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing build dependencies: ${missing[*]}"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

build_parent="${IAC_BUILD_DIR:-${TMPDIR:-/tmp}}"
mkdir -p "$build_parent"
work="$(mktemp -d "${build_parent}/iac-kube-build.XXXXXX")"
# apt's download sandbox user (_apt) must be able to enter the private state dir.
chmod 0755 "$work"
if [ "$fetch_only" -eq 0 ]; then
  trap 'log "removing build dir ${work}"; rm -rf "$work"' EXIT
fi

# deb-src lines for the archive this machine already uses, derived from its own apt sources (both the
# one-line and the deb822 format). Only suites of this release are kept (bookworm, bookworm-updates, ...),
# which leaves out third-party repositories.
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"  # subshell: os-release sets VERSION too
[ -n "$codename" ] || die "cannot read VERSION_CODENAME from /etc/os-release"
state="${work}/apt"
mkdir -p "${state}/lists/partial" "${state}/cache/archives/partial"
{
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v rel="$codename" '
      $1 == "deb" {
        opts = ""; i = 2
        if ($2 ~ /^\[/) { while ($i !~ /\]$/) { opts = opts $i " "; i++ } opts = opts $i; i++ }
        uri = $i; suite = $(i + 1)
        if (suite != rel && index(suite, rel "-") != 1) next
        line = "deb-src " (opts == "" ? "" : opts " ") uri " " suite
        for (j = i + 2; j <= NF; j++) line = line " " $j
        print line
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v rel="$codename" '
      function flush(   n, m, s, u, k, t, suites, uris, opts) {
        if (types ~ /(^| )deb( |$)/ && enabled != "no" && uri_s != "") {
          opts = (signed != "" && signed !~ /BEGIN PGP/) ? "[signed-by=" signed "] " : ""
          n = split(uri_s, uris, " "); m = split(suite_s, suites, " ")
          for (u = 1; u <= n; u++) for (s = 1; s <= m; s++) {
            if (suites[s] != rel && index(suites[s], rel "-") != 1) continue
            print "deb-src " opts uris[u] " " suites[s] " " comps
          }
        }
        types = uri_s = suite_s = comps = signed = enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        key = tolower($1); sub(/:$/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
        if (key == "types") types = val
        else if (key == "uris") uri_s = val
        else if (key == "suites") suite_s = val
        else if (key == "components") comps = val
        else if (key == "signed-by") signed = val
        else if (key == "enabled") enabled = tolower(val)
      }
      END { flush() }' "$f"
  done
} | sort -u > "${state}/sources.list"
[ -s "${state}/sources.list" ] || die "found no '${codename}' entries in this machine's apt sources to derive deb-src from"
log "deb-src entries derived from this machine's apt sources:"
sed 's/^/  /' "${state}/sources.list" >&2

apt_private=(-o "Dir::Etc::SourceList=${state}/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
             -o "Dir::State::Lists=${state}/lists" -o "Dir::Cache=${state}/cache")
log "apt-get update (private state in ${state})"
apt-get "${apt_private[@]}" update -qq >&2
log "apt-get source kubernetes"
# The download lands in the private work dir, which the _apt sandbox user cannot write to.
(cd "$work" && apt-get "${apt_private[@]}" -o APT::Sandbox::User=root source -qq kubernetes >&2)
src="$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)"
[ -n "$src" ] && [ -d "${src}/vendor" ] || die "apt-get source kubernetes did not unpack a source tree with vendor/"

if [ "$fetch_only" -eq 1 ]; then
  log "source unpacked (not building, --fetch-source-only); remove ${work} when done"
  echo "$src"
  exit 0
fi

# reflect2 1.0.1 (vendored) crashes on Go >= 1.18 ("fatal error: fault" in mapiterinit about 15 s after
# start); Debian's packaged reflect2/json-iterator are fixed, so build against those.
for pkg in github.com/modern-go/reflect2 github.com/json-iterator/go; do
  system_copy="/usr/share/gocode/src/${pkg}"
  [ -d "$system_copy" ] || die "${system_copy} missing (Debian package for ${pkg})"
  log "replacing vendored ${pkg} with ${system_copy}"
  rsync -a --delete --exclude '*_test.go' --exclude '.git*' "${system_copy}/" "${src}/vendor/${pkg}/"
done

targets="$(printf 'cmd/%s ' "${to_build[@]}")"
log "building ${targets}(about 5 min on 2 cores)"
(
  cd "$src"
  # `make` runs the code generators (openapi) that a plain `go build` would miss; GOCACHE stays in the
  # build dir so nothing large is left behind.
  env KUBE_GIT_VERSION="$KUBE_VERSION" KUBE_GIT_TREE_STATE=clean GOPROXY=off GOFLAGS= CGO_ENABLED=0 \
      GOCACHE="${work}/gocache" make WHAT="${targets% }" >&2
)
for component in "${to_build[@]}"; do
  built="${src}/_output/bin/${component}"
  [ -x "$built" ] || built="$(find "${src}/_output" -type f -name "$component" -perm -u+x | head -n 1)"
  [ -n "$built" ] && [ -x "$built" ] || die "build finished but no _output/bin/${component}"
  runs_as_expected "$built" || die "built ${component} does not report Kubernetes ${KUBE_VERSION}"
  cache_binary "$component" "$built"
  log "cached ${cache_dir}/${component}-${KUBE_VERSION}"
done
log "removing ${src}/_output"
rm -rf "${src}/_output"
print_paths
