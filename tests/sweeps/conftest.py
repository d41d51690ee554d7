"""The workflow tests' fixtures (a working directory with a copy of config/)."""

from tests.workflow.conftest import workdir  # noqa: F401  (re-exported fixture)
