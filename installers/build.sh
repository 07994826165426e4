#!/usr/bin/env bash
# Build the one-folder desktop app dist/frstudio/ with installers/frstudio.spec, from a clean virtual environment
# (build/venv), so that nothing installed by hand in .venv can leak into the bundle.
#
#   bash installers/build.sh            # new build/venv, then PyInstaller
#   bash installers/build.sh --reuse    # keep an existing build/venv (rebuilds after a code change)
#
# Prints the build time and the size of dist/frstudio/. Linux and macOS; on Windows run the same steps by hand
# (see the README's Installers section).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=build/venv
start=$(date +%s)

if [[ "${1:-}" != "--reuse" || ! -x "$VENV/bin/python" ]]; then
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first and pinned, as in dev_env.sh: the CPU build, never a CUDA one pulled in by the project's loose range.
"$VENV/bin/python" -m pip install -q "torch==2.13.0"
# Not editable: PyInstaller reads the installed package's metadata (the app's version) from site-packages.
"$VENV/bin/python" -m pip install -q ".[gui,build]"

rm -rf build/pyinstaller dist/frstudio
"$VENV/bin/python" -m PyInstaller --noconfirm --log-level WARN \
    --workpath build/pyinstaller --distpath dist installers/frstudio.spec

end=$(date +%s)
echo "built dist/frstudio in $((end - start)) s: $(du -sh dist/frstudio | cut -f1) on disk," \
     "$(find dist/frstudio -type f | wc -l) files"
