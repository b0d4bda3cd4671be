"""cfinet_rotated: CFINet (ICCV 2023) for oriented small objects, as an MMRotate 1.x extension."""
from setuptools import find_packages, setup

setup(
    name='cfinet_rotated',
    version='0.1.0',
    description='Rotated CFINet (Coarse-to-fine RPN + Feature Imitation) for MMRotate 1.x',
    long_description=open('README.md', encoding='utf-8').read() if __import__('os').path.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['cfinet_rotated', 'cfinet_rotated.*']),
    python_requires='>=3.11,<3.12',
    # The stack (torch, a source-built mmcv with ops, mmdet, mmrotate) is installed by tools/setup/setup_env.sh;
    # see requirements/stack.txt for the pins and why.
    install_requires=[],
    license='Apache-2.0',
)
