"""Pure numeric features: power spectrograms, mel spectrograms, MFCCs.

Parameter names and conventions follow librosa; results match librosa within
float32 precision (see ``tests/features``) and are faster (``benchmarks/``).
"""

from earmark.features.mel import log_mel, mel_filterbank, melspectrogram, mfcc, power_spectrogram, power_to_db

__all__ = ["log_mel", "mel_filterbank", "melspectrogram", "mfcc", "power_spectrogram", "power_to_db"]
