"""Putting a trained model to work: detection in long recordings, live streams."""

from earmark.inference.detect import DetectionSettings, detect, detect_events

__all__ = ["DetectionSettings", "detect", "detect_events"]
