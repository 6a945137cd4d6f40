"""The house PCM format: signed 16-bit little-endian mono at 22050 Hz."""

PCM_RATE = 22050
PCM_WIDTH = 2
PCM_CHANNELS = 1
