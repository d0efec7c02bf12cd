"""Training formats: how a dataset version is written as a COCO, YOLO, Pascal VOC or MetaLake
JSON folder, and how such a folder is read back as files plus one annotation document."""
