#!/usr/bin/env bash
# Builds (once) a Debian-unstable root holding Asterisk 22 from Debian's packages, for running the real
# Asterisk on a Debian/Ubuntu host without Docker. Idempotent and safe to interrupt: the root is built in
# a scratch folder and renamed into place only when complete, so a half-built root is never used.
#
#   scripts/asterisk-root.sh [ROOT]     (default: $HOTLINE_ASTERISK_ROOT or /var/cache/hotline-19524/asterisk-root)
set -euo pipefail

root="${1:-${HOTLINE_ASTERISK_ROOT:-/var/cache/hotline-19524/asterisk-root}}"
ready="$root/.hotline-ready"
packages="asterisk asterisk-modules"

if [ -f "$ready" ] && [ -x "$root/usr/sbin/asterisk" ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "asterisk-root: building the Asterisk root needs root (debootstrap, chroot)" >&2
    exit 1
fi

log() { echo "asterisk-root: $*" >&2; }

# The mirror the host's own apt uses: never a hard-coded host.
mirror() {
    local uri=""
    if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
        uri=$(grep -h -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources | grep -v security | head -n1 | awk '{print $2}')
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(grep -h -E '^deb ' /etc/apt/sources.list | grep -v security | head -n1 | awk '{print $2}')
    fi
    # Ubuntu hosts carry an Ubuntu archive; Debian unstable needs a Debian one.
    case "$uri" in *ubuntu*) uri="${HOTLINE_DEBIAN_MIRROR:-}";; esac
    [ -n "${HOTLINE_DEBIAN_MIRROR:-}" ] && uri="$HOTLINE_DEBIAN_MIRROR"
    if [ -z "$uri" ]; then
        log "cannot tell which Debian mirror to use; set HOTLINE_DEBIAN_MIRROR"
        exit 1
    fi
    echo "${uri%/}"
}

if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

parent=$(dirname "$root")
mkdir -p "$parent"
# Remove scratch roots left by an interrupted run (nothing is ever mounted in them); a scratch root whose
# builder (.build-PID) still runs is another run's work in progress, and stays.
for old in "$parent"/.build-*; do
    [ -d "$old" ] || continue
    builder="${old##*.build-}"
    if [[ "$builder" =~ ^[0-9]+$ ]] && kill -0 "$builder" 2>/dev/null; then
        log "leaving $old alone: run $builder is building it"
    elif grep -qs " $old" /proc/mounts; then
        log "leaving $old alone: something is mounted in it"
    else
        rm -rf --one-file-system "$old"
    fi
done

scratch="$parent/.build-$$"
trap 'rm -rf --one-file-system "$scratch"' EXIT
m=$(mirror)
log "debootstrap sid from $m into $scratch (about a minute)"
debootstrap --variant=minbase sid "$scratch" "$m" >"$parent/debootstrap.log" 2>&1 || {
    tail -n 20 "$parent/debootstrap.log" >&2
    exit 1
}
log "installing $packages"
chroot "$scratch" apt-get -qq -o Acquire::Check-Valid-Until=false update
chroot "$scratch" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends $packages >/dev/null
chroot "$scratch" apt-get clean
# Debian's own service files and configs stay unused: every instance runs with the project's configs.
chroot "$scratch" asterisk -V >"$scratch/.hotline-ready"
if [ -d "$root" ]; then
    rm -rf --one-file-system "$root"
fi
mv "$scratch" "$root"
trap - EXIT
log "ready: $(cat "$ready")"
