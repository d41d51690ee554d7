import sys
from pathlib import Path

# The synthetic data helper is imported by tests and by their subprocesses.
sys.path.insert(0, str(Path(__file__).parent))
