"""Gradio upload demo of the emotion encoder.

Not implemented yet: this package is reserved for issue #5.
"""
