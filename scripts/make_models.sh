#!/usr/bin/env bash
# Regenerate every shipped model table layers/<name>.yaml through the toolkit's
# own registration path (relmas models register). Run from the repository root
# with the virtual environment active:
#
#     scripts/make_models.sh            # writes layers/*.yaml (overwrites)
#     LAYERS_DIR=/tmp/l scripts/make_models.sh
#
# RELMAS overrides the command used (default: relmas). The output is
# deterministic: the same torch/torchvision versions give byte-identical files.
# See docs/models.md for the choice of each variant.
set -euo pipefail

RELMAS=${RELMAS:-relmas}
LAYERS_DIR=${LAYERS_DIR:-layers}
MOCA="MoCA artifact SeahK/gemmini-rocc-tests-moca-ae@0e37739"

reg() {  # reg NAME SOURCE INPUT VARIANT REFERENCE DESCRIPTION
  $RELMAS models register "$2" --name "$1" --input "$3" --layers-dir "$LAYERS_DIR" --force \
    --variant "$4" --reference "$5" --description "$6"
}

# --- The seven models as the RELMAS paper names them (Table 2) -------------
# Light
reg squeezenet torchvision.models:squeezenet1_1 3x224x224 \
  "SqueezeNet 1.1 (torchvision squeezenet1_1), the variant MoCA uses" \
  "Iandola et al. 2016, arXiv:1602.07360; torchvision 0.28 models.squeezenet1_1; $MOCA imagenet/squeezenet_params_1.h" \
  "SqueezeNet 1.1, 224x224 RGB, 26 conv (8 fire modules with parallel 1x1/3x3 expands)"
reg yolo_lite characterize.zoo:yolo_lite 3x224x224 \
  "YOLO-Lite, MoCA's 7-conv version (conv7 1x1 256->128 as in MoCA; the original VOC head has 125)" \
  "Pedoeem & Huang 2018, arXiv:1811.05588; $MOCA imagenet/yololitenet_params_1.h" \
  "YOLO-Lite, 224x224 RGB, 7 conv, 2x2 max-pools after conv1-conv5"
reg kws characterize.zoo:kws 3x96x96 \
  "MoCA keyword-spotting residual network: 45 channels, 25 conv, 11 residual adds, no classifier" \
  "$MOCA imagenet/kwsnet_params_1.h and funct_kwsnet_1.h (after Tang & Lin 2018 res26, arXiv:1710.10361)" \
  "KWS ResNet, 96x96x3 input, conv1 + max-pool, 11 two-conv residual blocks, 2 plain convs"
# Heavy
reg alexnet torchvision.models:alexnet 3x224x224 \
  "AlexNet (torchvision alexnet: 64-192-384-256-256 convs, FC 9216-4096-4096-1000)" \
  "Krizhevsky 2014, arXiv:1404.5997; torchvision 0.28 models.alexnet" \
  "AlexNet, 224x224 RGB, 5 conv + 3 FC"
reg inception_v3 torchvision.models:inception_v3 3x299x299 \
  "Inception-v3 (torchvision inception_v3 at 299x299; the auxiliary classifier runs only in training and is not in the inference graph)" \
  "Szegedy et al. 2016, arXiv:1512.00567; torchvision 0.28 models.inception_v3" \
  "Inception-v3, 299x299 RGB, 94 conv + 1 FC, parallel Inception branches"
reg resnet50 torchvision.models:resnet50 3x224x224 \
  "ResNet-50 v1.5 (torchvision resnet50: stride 2 on the 3x3 conv, 4 projection shortcuts)" \
  "He et al. 2016, arXiv:1512.03385; torchvision 0.28 models.resnet50" \
  "ResNet-50, 224x224 RGB, 53 conv + 1 FC, bottleneck blocks with shortcuts"
reg yolov2 characterize.zoo:yolov2 3x416x416 \
  "YOLOv2 for VOC at 416x416 (Darknet cfg/yolo-voc.cfg): Darknet-19 trunk without classifier, 3 x 3x3x1024, passthrough 1x1 512->64 + reorg, 1x1 -> 125 head" \
  "Redmon & Farhadi 2017, arXiv:1612.08242; pjreddie/darknet cfg/yolo-voc.cfg" \
  "YOLOv2 (VOC, 5 anchors x 25), 416x416 RGB, 23 conv, passthrough concatenated before conv22"

# --- Extras: MoCA's variants, for comparison -------------------------------
reg googlenet torchvision.models:googlenet 3x224x224 \
  "GoogLeNet / Inception-v1 (torchvision googlenet; auxiliary classifiers not in the inference graph), MoCA's stand-in for InceptionV3" \
  "Szegedy et al. 2015, arXiv:1409.4842; torchvision 0.28 models.googlenet; $MOCA imagenet/googlenet_params_1.h" \
  "GoogLeNet, 224x224 RGB, 57 conv + 1 FC, parallel Inception branches"
reg yolov2_moca characterize.zoo:yolov2_moca 3x224x224 \
  "MoCA's YOLOv2 (yolonet): Darknet-19 backbone only at 224x224, last 1x1 1024->1024, no passthrough, no detection head" \
  "$MOCA imagenet/yolonet_params_1.h" \
  "Darknet-19 trunk, 224x224 RGB, 19 conv in a chain"
