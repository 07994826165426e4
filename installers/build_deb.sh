#!/usr/bin/env bash
# Package the one-folder app (dist/frstudio/, from installers/build.sh) as a Debian package with dpkg-deb:
#
#   /opt/frstudio/                           the app (executable + _internal/)
#   /usr/bin/frstudio                        launcher on the PATH
#   /usr/share/applications/frstudio.desktop menu entry; opens JPEG, PNG and TIFF photos (MIME associations)
#   /usr/share/icons/hicolor/NxN/apps/frstudio.png
#
#   bash installers/build_deb.sh             # writes dist/frstudio_<version>_<arch>.deb, zstd-compressed
#   bash installers/build_deb.sh --xz        # xz instead: smaller, for dpkg older than 1.21.18, but ~14 min
#
# Measured on the 2-core development machine: zstd -9 338 MiB in 29 s; xz 288 MiB in 827 s; installed 1001 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x dist/frstudio/frstudio ]] || { echo "dist/frstudio is missing: run installers/build.sh first" >&2; exit 1; }

version=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
arch=$(dpkg --print-architecture)
# The bundle carries its own libraries except the C library and the graphics stack; its binaries were linked on
# this machine, so it needs this machine's glibc or newer.
# getconf, not `ldd --version | head -1`: under pipefail ldd's SIGPIPE (exit 141) would stop the build at random.
glibc=$(getconf GNU_LIBC_VERSION | cut -d' ' -f2)
root=build/deb/frstudio_${version}_${arch}
deb=dist/frstudio_${version}_${arch}.deb
rm -rf "$root" "$deb"
mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin" "$root/usr/share/applications" "$root/usr/share/doc/frstudio"

cp -a dist/frstudio "$root/opt/frstudio"

# A script, not a symlink: the app finds _internal/ next to the executable it was started as.
cat > "$root/usr/bin/frstudio" <<'EOF'
#!/bin/sh
exec /opt/frstudio/frstudio "$@"
EOF
chmod 755 "$root/usr/bin/frstudio"

for png in resources/icons/frstudio-*.png; do
    size=$(basename "$png" .png | cut -d- -f2)
    install -D -m 644 "$png" "$root/usr/share/icons/hicolor/${size}x${size}/apps/frstudio.png"
done

# %f: one photo per start (a file manager starts one window per photo opened with the app).
cat > "$root/usr/share/applications/frstudio.desktop" <<EOF
[Desktop Entry]
Type=Application
Name=FR Studio
GenericName=Photo Face Restoration
Comment=Restore the faces in old, blurry or dark photos, offline
Exec=frstudio %f
TryExec=frstudio
Icon=frstudio
Terminal=false
Categories=Graphics;2DGraphics;RasterGraphics;Photography;Qt;
MimeType=image/jpeg;image/png;image/tiff;
Keywords=photo;restore;face;old;scan;
StartupWMClass=frstudio
EOF

cat > "$root/usr/share/doc/frstudio/copyright" <<'EOF'
FR Studio
Code: MIT licence.
Bundled model weights: trained on CelebA (non-commercial research use only) and All-Age-Faces (no licence stated);
the weights inherit those terms (see /opt/frstudio/_internal/resources/weights/README.md).
dlib: Boost Software License. face_recognition_models: MIT; its 68-point landmark model was trained on iBUG 300-W,
whose terms exclude commercial use. Python, PyTorch, Qt (LGPLv3, PySide6), OpenCV, NumPy and Pillow keep their own
licences. Sample photo: NASA, public domain.
EOF

# Refresh the desktop's MIME and icon caches when the tools exist (a server install has neither).
for script in postinst postrm; do
    cat > "$root/DEBIAN/$script" <<'EOF'
#!/bin/sh
set -e
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q /usr/share/applications || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f /usr/share/icons/hicolor/index.theme ]; then
    gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
fi
exit 0
EOF
    chmod 755 "$root/DEBIAN/$script"
done

cat > "$root/DEBIAN/control" <<EOF
Package: frstudio
Version: ${version}
Architecture: ${arch}
Maintainer: FR Studio developers <frstudio@localhost>
Installed-Size: $(du -sk "$root" | cut -f1)
Depends: libc6 (>= ${glibc}), libgl1, libegl1, libxcb1, libfontconfig1
Recommends: libwayland-client0, libwayland-cursor0
Section: graphics
Priority: optional
Description: restore the faces in old photos, offline, on a CPU
 FR Studio finds every face in a photo, restores it with a neural network and
 blends it back, leaving the rest of the photo and its metadata untouched.
 Includes its own Python runtime, PyTorch (CPU) and Qt; nothing is downloaded.
EOF

compression=(-Zzstd -z9)  # Debian 12+ and Ubuntu 21.10+ read zstd packages
[[ "${1:-}" == "--xz" ]] && compression=(-Zxz)
start=$(date +%s)
dpkg-deb --root-owner-group "${compression[@]}" --build "$root" "$deb" >/dev/null
installed=$(( $(du -sk "$root" | cut -f1) / 1024 ))
rm -rf "$root"  # a second 1 GB copy of the app: the package holds it now
echo "built $deb in $(( $(date +%s) - start )) s: $(du -h "$deb" | cut -f1) (installed: ${installed} MiB)"
