"""The one registration route of this package's classes: ``@register_module('<REGISTRY>')``.

* ``MODELS``, ``TASK_UTILS``, ``DATASETS``, ``METRICS`` (scoped): the class goes into MMRotate's and MMDetection's
  registry of that name. The SODA-A configs inherit ``mmrotate::`` configs and build in the ``mmrotate`` scope; the
  SODA-D configs inherit ``mmdet::`` Faster R-CNN, whose model and data dicts carry ``_scope_='mmdet'``, so that
  their parts (and ours inside them) are looked up in MMDetection's registries. One implementation, reachable from
  either scope, under its own name (no ``'mmrotate.'`` prefix needed in configs).
* ``HOOKS``, ``MODEL_WRAPPERS``, ``OPTIM_WRAPPER_CONSTRUCTORS`` (root): MMEngine's root registry, which the runner
  searches from every scope (it looks model wrappers up with ``MODEL_WRAPPERS.get``, which does not search the
  scoped child registries).

A registry that already holds the class is left as it is (modules may be imported twice under reload).
"""
import mmdet.registry
import mmengine.registry
import mmrotate.registry

SCOPED = ('MODELS', 'TASK_UTILS', 'DATASETS', 'METRICS')
ROOT = ('HOOKS', 'MODEL_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS')


def registries(registry_name):
    """The registries that ``register_module(registry_name)`` puts a class into."""
    if registry_name in SCOPED:
        return [getattr(mmrotate.registry, registry_name), getattr(mmdet.registry, registry_name)]
    if registry_name in ROOT:
        return [getattr(mmengine.registry, registry_name)]
    raise ValueError(f'register_module: unknown registry {registry_name!r}; one of {SCOPED + ROOT}')


def register_module(registry_name):
    """Class decorator: register the class in :func:`registries` of ``registry_name``."""
    targets = registries(registry_name)

    def deco(cls):
        for registry in targets:
            if registry.module_dict.get(cls.__name__) is not cls:
                registry.register_module(module=cls)
        return cls
    return deco
