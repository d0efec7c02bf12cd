"""Datasets: named, frozen versions of a selection of files and annotations, with splits, and the
training formats (COCO, YOLO, Pascal VOC, MetaLake JSON) they are exported to and imported from."""
