"""The workflow tests' helpers: a fresh working directory with config/, snakemake as a user runs it."""

from tests.workflow.conftest import snakemake, workdir  # noqa: F401
