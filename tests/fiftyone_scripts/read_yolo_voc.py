"""Read a YOLO folder and a VOC folder with FiftyOne's importers; print JSON: per format, per
file name, its split and detections as FiftyOne gives them (relative [x, y, w, h])."""

import json
import sys
from pathlib import Path

import fiftyone as fo

SPLIT_KEYS = {"train": "train", "val": "validation", "test": "test"}


def detections(sample, split):
    found = sample["ground_truth"]
    return {
        "split": split,
        "detections": [
            {"label": d.label, "box": list(d.bounding_box), "confidence": d.confidence}
            for d in (found.detections if found is not None else [])
        ],
    }


def read_yolo(folder):
    files = {}
    for key, split in SPLIT_KEYS.items():
        if not (Path(folder) / "images" / split).is_dir():
            continue
        dataset = fo.Dataset.from_dir(
            dataset_dir=folder,
            dataset_type=fo.types.YOLOv5Dataset,
            yaml_path="data.yaml",
            split=key,
            label_field="ground_truth",
        )
        for sample in dataset:
            files[Path(sample.filepath).name] = detections(sample, split)
    return files


def read_voc(folder):
    dataset = fo.Dataset.from_dir(
        dataset_type=fo.types.VOCDetectionDataset,
        data_path=str(Path(folder) / "JPEGImages"),
        labels_path=str(Path(folder) / "Annotations"),
        label_field="ground_truth",
    )
    return {Path(s.filepath).name: detections(s, None) for s in dataset}


if __name__ == "__main__":
    yolo_folder, voc_folder = sys.argv[1:3]
    print(json.dumps({"yolo": read_yolo(yolo_folder), "voc": read_voc(voc_folder)}))
