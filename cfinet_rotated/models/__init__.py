"""CFINet models. One line per module; each import registers its classes in MMRotate's registries."""
