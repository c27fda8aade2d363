"""Alignment of emotion timelines to speech (mel frames, phonemes, subtitles).

Not implemented yet: this package is reserved for issue #4. Until then, use
``EmotionEncoder().embed(video)``, whose clips carry start/end times in seconds.
"""
