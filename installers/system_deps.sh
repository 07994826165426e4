#!/usr/bin/env bash
# Debian packages the installers' smoke test and the screenshot script need and a fresh machine lacks: a virtual
# screen (xvfb, with xauth for xvfb-run), the X libraries Qt's xcb platform plugin loads, dpkg-deb's zstd, and
# desktop-file-utils to check the menu entry. Installs only what is missing; needs root.
set -euo pipefail
packages=(xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0
          libxcb-cursor0 libxkbcommon-x11-0 zstd desktop-file-utils)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
[[ $EUID -eq 0 ]] || { echo "missing Debian packages (${missing[*]}): install them as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
# a fresh machine may have empty package lists: update once if the install cannot find a package
apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
echo "installed: ${missing[*]}"
