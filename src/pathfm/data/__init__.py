"""Data: tile datasets, online patching and multi-crop augmentation."""
