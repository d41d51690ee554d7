"""What the Snakemake DAG needs to know, as plain functions of the resolved config.

Nothing here imports snakemake: ``workflow/rules/*.smk`` call into it, and the unit
tests feed it config dicts directly (``tests/workflow_lib/``).
"""
