"""Packaging for emotion-encoder: the metadata lives in pyproject.toml (see README.md).

Kept so that ``pip install -e .`` and ``python setup.py ...`` work as the README says.
"""

from setuptools import setup

setup()
