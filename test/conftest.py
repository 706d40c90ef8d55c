"""Fixtures shared by the Python tests."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """A small real corpus: Python standard library sources through data/prepare.py."""
    out = tmp_path_factory.mktemp("corpus")
    subprocess.run([sys.executable, os.path.join(ROOT, "data", "prepare.py"), "--default-corpus", "--out", str(out),
                    "--max-bytes", "3000000", "--val-tokens", "40000"], check=True, capture_output=True, text=True)
    return str(out)
