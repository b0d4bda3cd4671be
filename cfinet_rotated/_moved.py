"""Module paths of earlier releases that users may have in ``custom_imports`` or scripts.

A renamed module keeps working under its old path (the new module itself, with a ``FutureWarning`` naming it); a
module whose contents moved out of the package fails with an ``ImportError`` that names where they are now. The
table is the only place that knows the old paths (``tests/test_layout.py`` checks every entry).
"""
import importlib
import importlib.abc
import importlib.util
import sys
import warnings

#: old module -> new module (same contents, importable under the old name)
RENAMED = {
    'cfinet_rotated.datasets.split': 'cfinet_rotated.datasets.sodaa_split',
}
#: old module -> where its contents are now (not importable under the old name)
REMOVED = {
    'cfinet_rotated.mmcv_build': ('the run-time check is cfinet_rotated.ops_check (check_ops_for_device, '
                                  'OpsDeviceError); the build decisions are setup tooling, tools/setup/mmcv_build.py'),
}


class _Alias(importlib.abc.Loader):
    def __init__(self, new):
        self.new = new

    def create_module(self, spec):
        return importlib.import_module(self.new)

    def exec_module(self, module):
        pass


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Resolves the old paths of :data:`RENAMED` and explains those of :data:`REMOVED`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in RENAMED:
            new = RENAMED[fullname]
            warnings.warn(f'{fullname} is now {new}; import that (the old path will be removed)', FutureWarning,
                          stacklevel=2)
            return importlib.util.spec_from_loader(fullname, _Alias(new))
        if fullname in REMOVED:
            raise ImportError(f'{fullname} no longer exists: {REMOVED[fullname]}', name=fullname)
        return None


def install():
    """Put :class:`MovedModuleFinder` on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())
