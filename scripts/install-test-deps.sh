#!/usr/bin/env bash
# Install the Debian packages the real-cluster tests need: etcd (the apiserver's store), xz (to unpack the
# cached kube binaries), openssl (service-account signing key, serving certs), and for the one-node cluster
# (tests/_node.py) containerd, runc and the CNI plugins, iproute2 (its network namespace), gcc with a static
# libc (the pause image) and podman (images without a registry); chromium and the DejaVu fonts for the
# access-review report's browser tests (tests/test_review.py: headless, fixed fonts for its screenshot). Idempotent: when everything is present it
# only runs `dpkg -s` and exits; `apt-get update` runs only when something is missing.
set -euo pipefail

PACKAGES=(etcd-server xz-utils openssl containerd runc containernetworking-plugins iproute2 gcc libc6-dev
          podman chromium fonts-dejavu-core)

usage() {
  cat <<'EOF'
Usage: scripts/install-test-deps.sh [--check]

Installs the Debian packages needed by the real-cluster tests when they are missing:
  etcd-server xz-utils openssl containerd runc containernetworking-plugins iproute2 gcc libc6-dev podman
  chromium fonts-dejavu-core

  --check   only report what is missing; exit 1 if anything is
  -h, --help
EOF
}

check_only=0
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --check) check_only=1 ;;
  "") ;;
  *) usage >&2; exit 64 ;;
esac

installed() {
  # `dpkg -s` also succeeds for removed-but-configured packages, so check the status line.
  dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done
# The GitOps tests build trees with `kubectl kustomize`; any kubectl will do, Debian's when there is none.
command -v kubectl >/dev/null || missing+=(kubernetes-client)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all present (${PACKAGES[*]})" >&2
  exit 0
fi

if [ "$check_only" -eq 1 ]; then
  echo "install-test-deps: missing: ${missing[*]}" >&2
  exit 1
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-test-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi

echo "install-test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
echo "install-test-deps: done" >&2
