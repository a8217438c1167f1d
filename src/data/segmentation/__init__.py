"""Segmentation data: the synthetic shapes and the mask-folder and VOC readers."""
