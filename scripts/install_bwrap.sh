#!/usr/bin/env bash
# Called by scripts/setup.sh (make setup): install bubblewrap, the embedded sandbox's strongest
# isolation level, where we can (root and apt-get present); otherwise print the one command.
# Without bwrap the sandbox falls back to unshare or rlimits, which hold less (docs/sandbox.md,
# `make env-check` names the level in force). A failed install (no network, a locked dpkg) costs
# only isolation, never the setup: this script always exits 0.
set -uo pipefail
command -v bwrap >/dev/null 2>&1 && exit 0
cmd="apt-get install -y bubblewrap"
if ! command -v apt-get >/dev/null 2>&1; then
  for pm in dnf yum zypper apk pacman; do
    if command -v "$pm" >/dev/null 2>&1; then
      case $pm in
        apk) cmd="apk add bubblewrap" ;;
        pacman) cmd="pacman -S --noconfirm bubblewrap" ;;
        *) cmd="$pm install -y bubblewrap" ;;
      esac
      break
    fi
  done
  [ "$(id -u)" = 0 ] || cmd="sudo $cmd"
  echo "setup: bubblewrap (bwrap) is not installed; the sandbox runs at a weaker isolation level" \
       "(make env-check says which and what it costs). Install it with: $cmd" >&2
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup: bubblewrap (bwrap) is not installed; the sandbox runs at a weaker isolation level" \
       "(make env-check says which and what it costs). Install it with: sudo $cmd" >&2
  exit 0
fi
echo "setup: installing bubblewrap (the sandbox's isolation layer)"
export DEBIAN_FRONTEND=noninteractive
# the package lists of a fresh image are often empty: update once when the first try fails
if apt-get install -y -qq bubblewrap >/dev/null 2>&1 ||
   { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1; }; then
  command -v bwrap >/dev/null 2>&1 && exit 0
fi
echo "setup: WARNING: apt-get could not install bubblewrap; the sandbox runs at a weaker isolation level" \
     "(make env-check says which). Retry later with: $cmd" >&2
exit 0
