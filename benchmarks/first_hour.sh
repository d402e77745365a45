#!/bin/bash
# The first hour of a new user (issue 25), step by step on real material, with the time of each step:
# a JPEG photo without colour tags and a scene-linear EXR of it through degrade -> infer -> PNG; a video
# pair (48 real frames of OpenCV's vtest.avi as the reference AVI, their digital_tape copy as the scan)
# through pairs -> align -> restore; a dataset from a real clip.
#
#     benchmarks/first_hour.sh CHECKOUT WORK_DIR     (CHECKOUT: a clone with its .venv set up, README step 1)
#
# Needs Debian's opencv-doc (apt-get install opencv-doc) for the photo and the clip.
set -u
[ -d /usr/share/doc/opencv-doc/examples/data ] || { echo "first_hour.sh: needs opencv-doc (apt-get install opencv-doc)"; exit 1; }
C=$(cd "$1" && pwd); W=$2; R="$C/.venv/bin/reelkit"; PY="$C/.venv/bin/python"
rm -rf "$W"; mkdir -p "$W"; cd "$W"
EX=/usr/share/doc/opencv-doc/examples/data
t() { local s=$(date +%s.%N); "$@" > "$W/last.log" 2>&1; local rc=$?; local e=$(date +%s.%N);
      printf "%-8s rc=%d %6.1f s  %s\n" "$STEP" $rc $(awk "BEGIN{print $e - $s}") "$(tail -1 "$W/last.log" | cut -c1-110)"; }
# a real JPEG photo and a scene-linear EXR made from it (no colour tags on the JPEG)
cp $EX/fruits.jpg photo.jpg
STEP=exr     t $R convert photo.jpg photo.exr --output-dir exr
STEP=degrade t $R degrade photo.jpg --preset faded_16mm --seed 7 --output-dir damaged
STEP=degrEXR t $R degrade exr/photo.exr --preset dusty_35mm --seed 7 --output-dir damaged_exr
STEP=infer   t $R infer damaged/photo.jpg --model film_restore --output-dir restored
STEP=toPNG   t $R convert restored/photo.exr photo_restored.png --output-dir review
STEP=inferX  t $R infer damaged_exr/photo.exr --model film_restore --output-dir restored_exr
$PY - <<'P'
import cv2, numpy as np
a = cv2.imread("photo.jpg").astype(float).mean((0, 1)); b = cv2.imread("damaged/photo.jpg").astype(float).mean((0, 1))
c = cv2.imread("review/photo_restored.png").astype(float).mean((0, 1))
print("mean BGR 8-bit: photo", a.round(1), "damaged", b.round(1), "restored", c.round(1))
P
# a video pair: 48 real frames of vtest.avi as the clean reference (AVI), their digital_tape copy as the scan
$PY - <<'P'
import cv2
cap = cv2.VideoCapture("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
w = None
for i in range(160):
    ok, f = cap.read()
    if i >= 112:
        if w is None:
            w = cv2.VideoWriter("reference.avi", cv2.VideoWriter_fourcc(*"MJPG"), 10, (f.shape[1], f.shape[0]))
        w.write(f)
w.release()
P
STEP=scan    t $R degrade reference.avi scan.####.exr --preset digital_tape --seed 3 --output-dir scan
STEP=pairs   t $R pairs build --source "scan/scan.####.exr" --reference reference.avi --output-dir pairs
STEP=align   t $R align --source "scan/scan.####.exr" --reference reference.avi --output-dir aligned
STEP=init    t $R restore init shot --source "scan/scan.####.exr" --reference reference.avi --steps 200
STEP=restore t $R restore run shot
$R restore status shot | cut -c1-200
# a dataset from a real clip
STEP=dataset t $R dataset run /usr/share/doc/opencv-doc/examples/data/vtest.avi --output-dir ds
tail -3 "$W/last.log" | cut -c1-200
