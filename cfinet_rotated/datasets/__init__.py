from .sodaa import SODAADataset
from .sodaa_io import (IGNORE_ID, SODAA_CLASSES, AnnotationError, SodaaAnnotation, load_sodaa,
                       parse_sodaa, polygon_area)

__all__ = ['SODAADataset', 'SODAA_CLASSES', 'IGNORE_ID', 'AnnotationError', 'SodaaAnnotation',
           'load_sodaa', 'parse_sodaa', 'polygon_area']
