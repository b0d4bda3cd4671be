# Tiny CPU Oriented R-CNN on the embedded sample (the tiny Rotated Faster R-CNN with Oriented R-CNN's heads).
_base_ = ['./rotated-faster-rcnn_tiny_sample.py', '../_base_/oriented_rcnn.py']
model = {{_base_.oriented_rcnn}}
