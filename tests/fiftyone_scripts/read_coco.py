"""Read COCO files with FiftyOne's importer; print, per file name, the detections and keypoints
FiftyOne made of them (relative coordinates, as FiftyOne gives them) as JSON.

Usage: read_coco.py DATA_DIR LABELS_JSON [DATA_DIR LABELS_JSON ...] (one FiftyOne start for all)
"""

import json
import math
import sys

import fiftyone as fo


def labels(sample: fo.Sample, field: str) -> list:
    """The detections or keypoints of a sample's field (FiftyOne makes no field it has no use
    for: no keypoints in a file without any)."""
    if not sample.has_field(field) or sample[field] is None:
        return []
    return getattr(sample[field], field)


def read(data_path: str, labels_path: str) -> dict:
    dataset = fo.Dataset.from_dir(
        dataset_type=fo.types.COCODetectionDataset,
        data_path=data_path,
        labels_path=labels_path,
        # Segmentations (masks) need pycocotools, which FiftyOne's virtualenv does not have.
        label_types=["detections", "keypoints"],
    )
    result = {}
    for sample in dataset:
        detections = labels(sample, "detections")
        keypoints = labels(sample, "keypoints")
        result[sample.filename] = {
            "detections": [
                {
                    "label": d.label,
                    "bounding_box": d.bounding_box,
                    "confidence": d.confidence,
                    "color": d["color"] if d.has_field("color") else None,
                }
                for d in detections
            ],
            "keypoints": [
                {"label": k.label, "points": [p for p in k.points if not math.isnan(p[0])]}
                for k in keypoints
            ],
        }
    return result


def main() -> None:
    paths = sys.argv[1:]
    result = {}
    for data_path, labels_path in zip(paths[::2], paths[1::2], strict=True):
        result.update(read(data_path, labels_path))
    print(json.dumps(result))


main()
