#!/usr/bin/env bash
# The newcomer's demo: build the 1 MB local image the example needs (there is no
# registry here), then start an isolated copy of examples/hello with `docker cilo up`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! docker image inspect cilo-test/busybox >/dev/null 2>&1; then
    if ! command -v busybox >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "run-demo: installing busybox-static (apt-get), the 1 MB image's only content"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null; }
    fi
    busybox=$(command -v busybox) || { echo "run-demo: install busybox-static first" >&2; exit 1; }
    ctx=$(mktemp -d)
    trap 'rm -rf "$ctx"' EXIT
    cp "$busybox" "$ctx/busybox"
    cp "$here/../tests/images/busybox/Dockerfile" "$ctx/"
    echo "run-demo: building the local image cilo-test/busybox"
    DOCKER_BUILDKIT=0 docker build -q -t cilo-test/busybox "$ctx" >/dev/null
fi
cd "$here/hello"
docker cilo up "${1:-demo}"
echo
echo "run-demo: the copy answers on its own address, without any host port:"
docker cilo exec "${1:-demo}" worker wget -qO- http://web/
