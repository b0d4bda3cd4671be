"""Code for tests, samples and benchmarks that the tools import: the synthetic scene generator."""
from .synthetic import count_objects, generate_image, sodaa_items, sodad_items, to_sodad

__all__ = ['generate_image', 'to_sodad', 'count_objects', 'sodaa_items', 'sodad_items']
