"""SODA-A / SODA-D evaluation: merging patch results and COCO-style AP by size subset."""
