"""Build a FiftyOne dataset from images and boxes given as JSON, export it as YOLOv5 (one export
per split, into one folder) and as VOC; print the boxes that went in.

Input (argv[1]): {"images": [{"path": ..., "split": "train"|"val", "boxes": [{"label", "box",
"confidence"}]}], "yolo": folder, "voc": folder}.
"""

import json
import sys
from pathlib import Path

import fiftyone as fo


def build(spec):
    dataset = fo.Dataset()
    for image in spec["images"]:
        sample = fo.Sample(filepath=image["path"], tags=[image["split"]])
        sample["ground_truth"] = fo.Detections(
            detections=[
                fo.Detection(label=b["label"], bounding_box=b["box"], confidence=b["confidence"])
                for b in image["boxes"]
            ]
        )
        dataset.add_sample(sample)
    return dataset


def export(dataset, spec):
    classes = sorted({b["label"] for image in spec["images"] for b in image["boxes"]})
    for split in ("train", "val"):
        dataset.match_tags(split).export(
            export_dir=spec["yolo"],
            dataset_type=fo.types.YOLOv5Dataset,
            label_field="ground_truth",
            split=split,
            classes=classes,
            include_confidence=True,
        )
    dataset.compute_metadata()
    dataset.export(
        export_dir=spec["voc"],
        dataset_type=fo.types.VOCDetectionDataset,
        label_field="ground_truth",
    )


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    dataset = build(spec)
    export(dataset, spec)
    print(json.dumps({Path(s.filepath).name: len(s.ground_truth.detections) for s in dataset}))
