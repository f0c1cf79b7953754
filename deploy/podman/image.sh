#!/usr/bin/env bash
# The container image: `base` makes the Debian base (debootstrap, the mirror apt already uses),
# `build` builds the Containerfile on it. Needs root and podman, runc, debootstrap
# (`install` gets them with apt-get). Used by `make image` and `make image-test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="$PWD/deploy/podman/containers.conf"
BASE=${BASE:-localhost/twitterclone-base:bookworm}
IMAGE=${IMAGE:-localhost/twitterclone:0.1.0}

install() {
    if command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null; then
        return
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
}

mirror() {  # the Debian mirror apt is set up with
    local uri
    uri=$(grep -rhoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -v security | head -1 | awk '{print $2}')
    echo "${uri:?no Debian mirror found in the apt sources}"
}

base() {
    if podman image exists "$BASE"; then return; fi
    # No RETURN trap here: it would outlive this function and fire, under set -u, where the local
    # is gone (the build failed so on a machine without the base image).
    local root status=0
    root=$(mktemp -d)
    if ! debootstrap --variant=minbase --include=python3.11,python3.11-venv,python3-distutils \
        bookworm "$root" "$(mirror)" >/dev/null; then
        tail -20 "$root/debootstrap/debootstrap.log" >&2
        rm -rf "$root"
        return 1
    fi
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | podman import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' - "$BASE" >/dev/null || status=$?
    rm -rf "$root"
    return "$status"
}

build() {
    base
    # The web client's htmx (web/package-lock.json) is copied into src/ before the image copies src.
    make --no-print-directory web-assets
    # RUN steps reach PyPI with the host's CA bundle mounted for the build, never baked in.
    local uv_version  # the uv the Makefile bootstraps, so the image locks the same way
    uv_version=$(grep -oE 'uv==[0-9.]+' Makefile | head -1 | cut -d= -f3)
    podman build --build-arg "BASE=$BASE" --build-arg "UV_VERSION=${uv_version:?}" \
        -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
        -t "$IMAGE" -f Containerfile .
}

case "${1:-build}" in
    install) install ;;
    base) install; base ;;
    build) install; build ;;
    *) echo "usage: $0 install|base|build" >&2; exit 2 ;;
esac
