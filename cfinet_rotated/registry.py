"""Registration in MMRotate's and MMDetection's registries.

The SODA-A configs inherit ``mmrotate::`` configs and build in the ``mmrotate`` scope; the SODA-D configs inherit
``mmdet::`` Faster R-CNN, whose model and data dicts carry ``_scope_='mmdet'``, so that their parts (and ours
inside them) are looked up in MMDetection's registries. The same classes are therefore registered in both, under
their own names: one implementation, reachable from either scope.
"""
import mmdet.registry
import mmrotate.registry


def register_module(registry_name):
    """Class decorator: register the class in ``mmrotate.registry.<name>`` and ``mmdet.registry.<name>``
    (``'MODELS'``, ``'TASK_UTILS'``, ``'DATASETS'``, ``'METRICS'``); a registry that already holds it is left
    as it is."""
    def deco(cls):
        for lib in (mmrotate.registry, mmdet.registry):
            registry = getattr(lib, registry_name)
            if registry.module_dict.get(cls.__name__) is not cls:
                registry.register_module(module=cls)
        return cls
    return deco
