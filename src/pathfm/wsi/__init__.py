"""Whole-slide images: reading at an exact mpp, masking, tiling, registration, synthesis."""
