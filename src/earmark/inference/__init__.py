"""Putting a trained model to work: detection in long recordings."""

from earmark.inference.detect import DetectionSettings, detect_events, window_scores

__all__ = ["DetectionSettings", "detect_events", "window_scores"]
