"""Where raw data and weights come from: the GDC, public benchmark datasets, model hubs.

One idea per module: ``http`` (retry policy shared by every client), ``download``
(one resumable, verified file), ``gdc`` (query the GDC API), ``gdc_manifest``
(GDC hits -> slide manifest), ``gdc_labels`` (survival, TP53), ``hub`` (model
weights), ``datasets`` (one file per benchmark dataset), ``preflight`` (checks).
"""
