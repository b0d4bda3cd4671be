from .dota import DIORRDataset, DOTAPatchDataset
from .formats import DIOR_CLASSES, DOTA_CLASSES, load_annotation, load_dior, load_dota, resolve_classes
from .sodaa import SODAADataset
from .sodaa_io import IGNORE_ID, SODAA_CLASSES, AnnotationError, SodaaAnnotation, load_sodaa, parse_sodaa, polygon_area
from .sodad import SODADDataset
from .sodad_io import SODAD_CLASSES, SODAD_IGNORE_ID, load_sodad

__all__ = ['SODAADataset', 'SODAA_CLASSES', 'IGNORE_ID', 'AnnotationError', 'SodaaAnnotation',
           'load_sodaa', 'parse_sodaa', 'polygon_area', 'SODADDataset', 'SODAD_CLASSES', 'SODAD_IGNORE_ID',
           'load_sodad', 'DOTAPatchDataset', 'DIORRDataset', 'DOTA_CLASSES', 'DIOR_CLASSES', 'load_annotation',
           'load_dota', 'load_dior', 'resolve_classes']
