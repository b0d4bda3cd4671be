from .sodaa import SODAADataset
from .sodaa_io import IGNORE_ID, SODAA_CLASSES, AnnotationError, SodaaAnnotation, load_sodaa, parse_sodaa, polygon_area
from .sodad import SODADDataset
from .sodad_io import SODAD_CLASSES, SODAD_IGNORE_ID, load_sodad

__all__ = ['SODAADataset', 'SODAA_CLASSES', 'IGNORE_ID', 'AnnotationError', 'SodaaAnnotation',
           'load_sodaa', 'parse_sodaa', 'polygon_area', 'SODADDataset', 'SODAD_CLASSES', 'SODAD_IGNORE_ID',
           'load_sodad']
