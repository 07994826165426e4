#!/usr/bin/env bash
# Smoke test of the Linux package on this machine (needs root, dpkg and xvfb-run):
#   install it with dpkg -i, run `frstudio --self-test`, start the desktop app under Xvfb on the faded sample,
#   restore it and take a screenshot, open a photo the way a file manager does (`frstudio PHOTO`), check the
#   menu entry and the launcher, then remove the package and check that nothing is left behind.
#
#   bash installers/smoke_test.sh [dist/frstudio_<version>_<arch>.deb]
#
# Prints the self-test's time and the frozen app's start-up time (launch to window shown). Exits non-zero on the
# first failure; the package is removed again in any case.
set -euo pipefail
cd "$(dirname "$0")/.."
# No `ls | head` here: under pipefail an early-closing head can fail the pipeline with SIGPIPE (exit 141).
newest_deb() { local f newest=; for f in dist/frstudio_*.deb; do [[ -f $f && ( -z $newest || $f -nt $newest ) ]] && newest=$f; done; echo "$newest"; }
deb=${1:-$(newest_deb)}
[[ -f "$deb" ]] || { echo "no .deb found: run installers/build.sh and installers/build_deb.sh first" >&2; exit 1; }
[[ $EUID -eq 0 ]] || { echo "the smoke test installs a package: run it as root" >&2; exit 1; }
bash installers/system_deps.sh
sample=$PWD/resources/samples/astronaut_faded.jpg
work=$(mktemp -d)
export FRSTUDIO_CONFIG_DIR=$work/config  # the app's settings go here, never into the user's
mkdir -p "$FRSTUDIO_CONFIG_DIR"

fail() { echo "smoke test FAILED: $*" >&2; exit 1; }
cleanup() {
    dpkg -s frstudio >/dev/null 2>&1 && dpkg -r frstudio >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "${2:-$(now)}"; }
in_xvfb() { xvfb-run -a -s "-screen 0 1380x900x24" env -u QT_QPA_PLATFORM "$@"; }

echo "== install $deb ($(du -h "$deb" | cut -f1))"
t=$(now)
dpkg -i "$deb" >/dev/null
echo "installed in $(since "$t") s: $(du -sh /opt/frstudio | cut -f1) in /opt/frstudio"
[[ "$(command -v frstudio)" == /usr/bin/frstudio ]] || fail "frstudio is not on the PATH"
[[ -f /usr/share/applications/frstudio.desktop ]] || fail "no menu entry"
[[ -f /usr/share/icons/hicolor/256x256/apps/frstudio.png ]] || fail "no icon"
if command -v desktop-file-validate >/dev/null; then desktop-file-validate /usr/share/applications/frstudio.desktop; fi
if command -v update-desktop-database >/dev/null; then
    grep -q "image/jpeg=.*frstudio.desktop" /usr/share/applications/mimeinfo.cache || fail "JPEG is not associated with the app"
fi

echo "== frstudio --self-test"
t=$(now)
(cd "$work" && frstudio --self-test) || fail "the self-test failed"
echo "self-test took $(since "$t") s (including start-up)"

echo "== desktop app under Xvfb: --open $sample --restore --screenshot"
t=$(now)
FRSTUDIO_REPORT_SHOWN=1 in_xvfb frstudio --open "$sample" --restore --screenshot "$work/restored.png" > "$work/gui.log" 2>&1 \
    || { cat "$work/gui.log"; fail "the app did not restore the sample"; }
shown=$(grep -oE '^window-shown [0-9.]+' "$work/gui.log" | cut -d' ' -f2)
[[ -n "$shown" ]] || { cat "$work/gui.log"; fail "the window was never shown"; }
[[ $(stat -c %s "$work/restored.png") -gt 20000 ]] || fail "the screenshot is missing or empty"
! grep -q "helper process stopped" "$work/gui.log" || fail "dlib's helper process did not run in the frozen app"
cp "$work/restored.png" /tmp/frstudio_smoke_restored.png
echo "window shown $(since "$t" "$shown") s after launch; restored and screenshot taken in $(since "$t") s" \
     "(/tmp/frstudio_smoke_restored.png)"

echo "== frstudio PHOTO (what a file manager runs)"
in_xvfb frstudio "$sample" --screenshot "$work/opened.png" > "$work/open.log" 2>&1 \
    || { cat "$work/open.log"; fail "frstudio PHOTO did not open the photo"; }
[[ -s "$work/opened.png" ]] || fail "no screenshot of the opened photo"

echo "== remove"
dpkg -r frstudio >/dev/null
left=$(find /opt/frstudio /usr/share/applications/frstudio.desktop /usr/bin/frstudio \
            /usr/share/icons/hicolor -name 'frstudio*' 2>/dev/null || true)
[[ -z "$left" && ! -e /opt/frstudio ]] || fail "left behind after removal: ${left:-/opt/frstudio}"
echo "smoke test passed"
