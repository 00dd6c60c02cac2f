"""Audio in: decoding, mono mixdown, resampling, streaming and analysis windows."""

from earmark.audio.io import SUPPORTED_EXTENSIONS, AudioInfo, audio_info, find_audio_files, load, stream
from earmark.audio.windows import Framer, frame_windows, peak_normalize, rms_db

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "AudioInfo",
    "Framer",
    "audio_info",
    "find_audio_files",
    "frame_windows",
    "load",
    "peak_normalize",
    "rms_db",
    "stream",
]
