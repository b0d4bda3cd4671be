"""Python API: detection on whole images of any size (sliding windows, merged detections).

    from cfinet_rotated.apis import init_detector, detect_large_image
"""
from .image_reader import PatchReader
from .inference import (
                        ModelPatchPredictor,
                        detect_large_image,
                        detect_with_predictor,
                        init_detector,
                        model_box_type,
                        patch_windows,
)

__all__ = ['init_detector', 'detect_large_image', 'detect_with_predictor', 'patch_windows', 'PatchReader',
           'ModelPatchPredictor', 'model_box_type']
