"""Gradio upload demo of the emotion encoder (``emotion-encoder demo`` or ``python -m demo``).

See :mod:`demo.app`: :func:`~demo.app.build_app`, :func:`~demo.app.launch`.
"""
