#!/usr/bin/env bash
# Checks the README's promise on a fresh Debian 12 machine: builds a clean Debian 12 (bookworm) root
# with debootstrap in a scratch folder and, inside it (chroot; /proc, /sys and /dev mounted; the
# network reachable), runs the README's two commands on a fresh clone of this repository's HEAD:
# scripts/example.sh fully, then scripts/test.sh with a quick subset of the tests (every target
# still builds), then `pip install .` of the Python package when pyproject.toml exists.
#
#   scripts/check-fresh-machine.sh [--tests 'CTEST ARGS'] [--keep] [--refresh]
#     --tests    what scripts/test.sh runs (default: -L unit)
#     --keep     keep the scratch folder (the root) for a look afterwards
#     --refresh  debootstrap again instead of using the cached root
#
# Needs root (or sudo) and about 14 GB of scratch space (SALVO_FRESH_SCRATCH, default /var/tmp).
# Only committed files are checked: the clone is of HEAD. Caches, outside the repository, in
# SALVO_CACHE (default ~/.cache/salvo): the debootstrap result as debootstrap-bookworm.tar.zst, and
# the downloads of apt and npm (fresh-downloads/), so repeated runs are faster; pip's downloads go to
# the machine's own pip cache (PIP_CACHE_DIR, default ~/.cache/pip). The machine's
# extra CA certificates (/usr/local/share/ca-certificates, e.g. a TLS-inspecting proxy's) are
# trusted inside too: they are part of the network, not of the machine being checked.
set -euo pipefail

tests="-L unit"
keep=0
refresh=0
while (($#)); do
  case $1 in
    --tests) tests=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --refresh) refresh=1; shift ;;
    *) echo "usage: $0 [--tests 'CTEST ARGS'] [--keep] [--refresh]" >&2; exit 2 ;;
  esac
done

if [[ $(id -u) != 0 ]]; then
  exec sudo --preserve-env=SALVO_CACHE,SALVO_FRESH_SCRATCH,SALVO_FRESH_REPO,DEBIAN_MIRROR,PIP_CACHE_DIR "$0" --tests "$tests" \
    $( ((keep)) && echo --keep) $( ((refresh)) && echo --refresh)
fi

repo=${SALVO_FRESH_REPO:-$(cd "$(dirname "$0")/.." && pwd)}  # the repository whose HEAD is checked
cache=${SALVO_CACHE:-$HOME/.cache/salvo}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
tarball=$cache/debootstrap-bookworm.tar.zst
downloads=$cache/fresh-downloads
pip_cache=${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pip}
mkdir -p "$cache" "$downloads/apt" "$downloads/npm"

start=$(date +%s)
phase_name=""
phase_start=$start
timings=""
phase() {  # ends the current phase (noting its duration) and starts the next one
  local now
  now=$(date +%s)
  [[ -z $phase_name ]] || timings+=$(printf '%6d s  %s\n' $((now - phase_start)) "$phase_name")$'\n'
  phase_name=$1
  phase_start=$now
  [[ -z $1 ]] || echo "check-fresh-machine: [$((now - start)) s] $1" >&2
}

for tool in debootstrap zstd git; do
  if ! command -v "$tool" >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap zstd git >/dev/null
    break
  fi
done

scratch=$(mktemp -d "${SALVO_FRESH_SCRATCH:-/var/tmp}/salvo-fresh.XXXXXX")
free_gb=$(($(df --output=avail -k "$scratch" | tail -1) / 1024 / 1024))
echo "check-fresh-machine: $free_gb GB free in $scratch (the check needs about 14 GB there)" >&2
root=$scratch/root
mounts=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # Unmount in reverse order; lazily, so that a process still inside cannot keep a mount alive.
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount -R "${mounts[i]}" 2>/dev/null || umount -R -l "${mounts[i]}" 2>/dev/null || true
  done
  # Never delete through a mount that is still there.
  if grep -q " $scratch/" /proc/self/mounts; then
    echo "check-fresh-machine: mounts remain under $scratch; not removing it" >&2
  elif ((keep)); then
    echo "check-fresh-machine: kept $scratch" >&2
  else
    rm -rf --one-file-system "$scratch"
  fi
  phase ""
  printf 'check-fresh-machine: time per phase\n%s%6d s  total, exit %d\n' "$timings" $(($(date +%s) - start)) "$rc" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

phase "debian 12 root"
mkdir -p "$root"
if [[ -f $tarball && $refresh == 0 ]]; then
  tar --zstd -xpf "$tarball" --numeric-owner -C "$root"
else
  # ca-certificates: a fresh machine has it (pip, npm and Java verify TLS with it).
  debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror" >"$scratch/debootstrap.log" 2>&1 ||
    { tail -20 "$scratch/debootstrap.log" >&2; exit 1; }
  tar --zstd -cpf "$tarball.tmp" --numeric-owner -C "$root" .
  mv "$tarball.tmp" "$tarball"
fi
# The security and update suites, as on an installed machine.
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf"
echo "salvo-fresh" >"$root/etc/hostname"
# Services never start inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
extra_ca=0
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  extra_ca=1
fi

phase "mounts and clone"
mount_into() {  # mount_into TARGET mount-args...
  local target=$1
  shift
  mkdir -p "$target"
  mount "$@" "$target"
  mounts+=("$target")
}
mount_into "$root/proc" -t proc proc
mount_into "$root/sys" -t sysfs sysfs
mount_into "$root/dev" --rbind /dev
mount --make-rslave "$root/dev"
mount_into "$root/tmp" -t tmpfs tmpfs
# Download caches only: what is installed still comes fresh from the archives.
mount_into "$root/var/cache/apt/archives" --bind "$downloads/apt"
# pip's cache is the machine's own: the wheels pip builds from source distributions (PySpark's) are
# built once, here or by scripts/test.sh on the machine.
mkdir -p "$pip_cache"
mount_into "$root/root/.cache/pip" --bind "$pip_cache"
mount_into "$root/root/.npm" --bind "$downloads/npm"

head=$(git -C "$repo" rev-parse HEAD)
if [[ -n $(git -C "$repo" status --porcelain --untracked-files=no) ]]; then
  echo "check-fresh-machine: note: uncommitted changes are not checked (the clone is of $head)" >&2
fi
git clone --quiet --no-checkout "$repo" "$root/root/salvo"
git -C "$root/root/salvo" checkout --quiet --detach "$head"

in_root() {
  local env=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
             TERM=dumb DEBIAN_FRONTEND=noninteractive)
  if ((extra_ca)); then
    env+=(PIP_CERT=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
          REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt)
  fi
  chroot "$root" /usr/bin/env -i "${env[@]}" /bin/bash -c "$1"
}
((extra_ca)) && in_root "update-ca-certificates >/dev/null 2>&1"

phase "scripts/example.sh"
in_root "cd /root/salvo && scripts/example.sh"

phase "scripts/test.sh $tests"
in_root "cd /root/salvo && scripts/test.sh $tests"

if [[ -f $root/root/salvo/pyproject.toml ]]; then
  phase "pip install ."
  in_root "cd /root/salvo && \${SALVO_VENV:-.venv}/bin/pip install -q . && .venv/bin/python -c 'import salvo'"
fi

phase ""
echo "check-fresh-machine: the README's commands work on a fresh Debian 12 machine" >&2
