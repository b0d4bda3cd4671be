"""Rotated CFINet for MMRotate 1.x.

Importing this package registers its datasets, metrics, models and hooks (``cfinet_rotated.registry``, the one
registration route); configs load it with ``custom_imports = dict(imports=['cfinet_rotated'],
allow_failed_imports=False)``. Module paths of earlier releases are resolved or explained by ``_moved``.
"""
from . import _moved

_moved.install()

from . import datasets, engine, evaluation, models  # noqa: E402,F401  (registration side effects)

__version__ = '0.1.0'
