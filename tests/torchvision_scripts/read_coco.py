"""Read one split of a COCO export with torchvision's CocoDetection and its transforms-v2
wrapper; print JSON: per file name, the image size, the raw annotations and the v2 target
(boxes as xyxy, labels, masks' shape and pixel counts).

Runs under a Python with torchvision and pycocotools (not the lake's virtualenv).
Usage: read_coco.py EXPORT_FOLDER SPLIT
"""

import json
import sys
from pathlib import Path

import torchvision
from torchvision.datasets import CocoDetection, wrap_dataset_for_transforms_v2

RAW_KEYS = ("bbox", "category_id", "area", "iscrowd")
V2_KEYS = ("boxes", "labels", "image_id", "masks")


def v2_target(target):
    """The v2 target as plain JSON (the wrapper gives only `image_id` for an image with no
    annotations)."""
    found = {"keys": sorted(target), "image_id": target["image_id"]}
    if "boxes" in target:
        boxes = target["boxes"]
        found["boxes_format"] = boxes.format.name
        found["canvas_size"] = list(boxes.canvas_size)
        found["boxes"] = boxes.tolist()
        found["labels"] = target["labels"].tolist()
        masks = target["masks"]
        found["masks_shape"] = list(masks.shape)
        found["mask_pixels"] = [int(mask.sum()) for mask in masks]
    return found


def main():
    folder, split = Path(sys.argv[1]), sys.argv[2]
    root = folder / "images" / split
    ann_file = folder / "annotations" / f"instances_{split}.json"
    raw = CocoDetection(root=str(root), annFile=str(ann_file))
    wrapped = wrap_dataset_for_transforms_v2(raw, target_keys=V2_KEYS)
    result = {}
    for index, image_id in enumerate(raw.ids):
        file_name = raw.coco.loadImgs(image_id)[0]["file_name"]
        image, annotations = raw[index]
        v2_image, target = wrapped[index]
        result[file_name] = {
            "image_id": image_id,
            "size": list(image.size),
            "v2_size": list(v2_image.size),
            "annotations": [{key: a[key] for key in RAW_KEYS} for a in annotations],
            "target": v2_target(target),
        }
    print(json.dumps({"torchvision": torchvision.__version__, "images": result}))


main()
