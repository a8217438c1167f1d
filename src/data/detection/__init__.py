"""Detection data: the synthetic shapes and the YOLO, COCO and VOC readers, their records and datasets."""
