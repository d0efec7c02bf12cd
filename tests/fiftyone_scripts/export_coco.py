"""Make a FiftyOne dataset of the images in a folder with boxes from a JSON file, export it as
COCODetectionDataset, and print the boxes (relative, as FiftyOne holds them) as JSON.

Usage: export_coco.py IMAGES_DIR BOXES_JSON EXPORT_DIR
BOXES_JSON: {file name: [{"label", "bounding_box": [x, y, w, h] relative, "confidence"?}]}
"""

import json
import sys
from pathlib import Path

import fiftyone as fo


def main() -> None:
    images_dir, boxes_path, export_dir = sys.argv[1:4]
    boxes = json.loads(Path(boxes_path).read_text())
    dataset = fo.Dataset()
    samples = []
    for name, objects in boxes.items():
        sample = fo.Sample(filepath=str(Path(images_dir) / name))
        sample["ground_truth"] = fo.Detections(
            detections=[
                fo.Detection(
                    label=o["label"],
                    bounding_box=o["bounding_box"],
                    confidence=o.get("confidence"),
                )
                for o in objects
            ]
        )
        samples.append(sample)
    dataset.add_samples(samples)
    dataset.compute_metadata()
    dataset.export(
        export_dir=export_dir,
        dataset_type=fo.types.COCODetectionDataset,
        label_field="ground_truth",
    )
    result = {
        Path(sample.filepath).name: [
            {"label": d.label, "bounding_box": d.bounding_box, "confidence": d.confidence}
            for d in sample["ground_truth"].detections
        ]
        for sample in dataset
    }
    print(json.dumps(result))


main()
