"""Rotated CFINet for MMRotate 1.x.

Importing this package registers its datasets, metrics and models in MMRotate's registries; configs load it
with ``custom_imports = dict(imports=['cfinet_rotated'], allow_failed_imports=False)``.
"""
from . import datasets, engine, evaluation, models  # noqa: F401  (registration side effects)

__version__ = '0.1.0'
