#!/usr/bin/env bash
# Print the path of a runnable kube-apiserver v1.20.2 (cache, verified shared archive, or a source build):
# scripts/kube-binary.sh does the work (see its --help); options pass through.
exec "$(dirname "${BASH_SOURCE[0]}")/kube-binary.sh" "$@" kube-apiserver
