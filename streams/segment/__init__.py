"""Segmentation stage: split a raw story (text dump, HTML page or wire copy) into its parts.

``segment(raw) -> Segmented`` is pure and never raises on any ``str`` payload.
"""

from streams.segment.core import segment

__all__ = ["segment"]
