#!/usr/bin/env bash
# Regenerates the pictures of docs/tools.md with the tools themselves, on small synthetic runs (CPU, minutes):
#   bash docs/images/tools/regenerate.sh [work folder]
set -euo pipefail
cd "$(dirname "$0")/../../.."
WORK=${1:-/tmp/imagelab_tool_pictures}
PICS=docs/images/tools
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$WORK"   # runs already trained there are reused
CPU="trainer.accelerator=cpu ++trainer.enable_progress_bar=false callbacks.rich_progress_bar=null seed=0"
UNET="model=unet data.image_size=64 data.reader.num_train=64 data.reader.num_val=16 data.reader.num_test=16 data.num_workers=0"
YOLO="model=yolo data.image_size=96 data.reader.num_train=128 data.reader.num_val=16 data.reader.num_test=16 data.num_workers=0"
FACES="model=siamese data.image_size=48 data.reader.num_train_identities=24 data.reader.num_val_identities=8 data.reader.num_test_identities=8 data.num_workers=0"

[ -f "$WORK/unet_sweep/summary.md" ] || $PY train.py -m $UNET $CPU trainer.max_epochs=6 model.net.depth=1,2 hydra.sweep.dir="$WORK/unet_sweep"
[ -f "$WORK/yolo/metrics.json" ] || $PY train.py $YOLO $CPU trainer.max_epochs=40 hydra.run.dir="$WORK/yolo"
[ -f "$WORK/siamese/metrics.json" ] || $PY train.py $FACES $CPU trainer.max_epochs=4 hydra.run.dir="$WORK/siamese"
rm -rf "$WORK"/browse_* "$WORK"/compare "$WORK"/mistakes_* "$WORK"/profile

$PY tools.py browse $YOLO split=train n=8 hydra.run.dir="$WORK/browse_yolo"
$PY tools.py browse $UNET split=train n=8 hydra.run.dir="$WORK/browse_unet"
$PY tools.py browse $FACES split=train n=12 hydra.run.dir="$WORK/browse_faces"
$PY tools.py compare runs="[$WORK/unet_sweep]" metrics="[val/miou,train/loss_epoch]" hydra.run.dir="$WORK/compare"
$PY tools.py mistakes ckpt_path="$WORK/yolo/checkpoints/last.ckpt" data.reader.num_val=16 data.num_workers=0 k=4 hydra.run.dir="$WORK/mistakes_yolo"
$PY tools.py mistakes ckpt_path="$WORK/unet_sweep/1/checkpoints/last.ckpt" data.reader.num_val=16 data.num_workers=0 k=3 hydra.run.dir="$WORK/mistakes_unet"
$PY tools.py mistakes ckpt_path="$WORK/siamese/checkpoints/last.ckpt" data.reader.num_val_identities=8 data.num_workers=0 k=4 hydra.run.dir="$WORK/mistakes_faces"
$PY tools.py profile model=yolo batch_sizes="[1,8]" steps=3 trainer.accelerator=cpu data.num_workers=0 hydra.run.dir="$WORK/profile"

cp "$WORK/browse_yolo/browse_train.png" $PICS/browse_yolo.png
cp "$WORK/browse_unet/browse_train.png" $PICS/browse_unet.png
cp "$WORK/browse_faces/browse_train.png" $PICS/browse_siamese.png
cp "$WORK/compare/compare.png" $PICS/compare.png
cp "$WORK/compare/compare.md" $PICS/compare.md
cp "$WORK/mistakes_yolo/mistakes.png" $PICS/mistakes_yolo.png
cp "$WORK/mistakes_unet/mistakes.png" $PICS/mistakes_unet.png
cp "$WORK/mistakes_faces/mistakes.png" $PICS/mistakes_siamese.png
cp "$WORK/yolo/plots/test_confusion.png" $PICS/confusion_yolo.png
cp "$WORK/unet_sweep/1/plots/test_confusion.png" $PICS/confusion_unet.png
cp "$WORK/profile/profile.md" $PICS/profile.md
# small files: 64-colour palettes
$PY - "$PICS" <<'PYEOF'
import sys
from pathlib import Path
from PIL import Image
for path in Path(sys.argv[1]).glob("*.png"):
    Image.open(path).convert("RGB").quantize(64).save(path, optimize=True)
PYEOF
ls -la $PICS
