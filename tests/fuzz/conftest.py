from __future__ import annotations

import pytest

from protect.apps import train_credit  # shared with tests/protect


@pytest.fixture(scope="session")
def credit_model(artifacts_dir):
    return train_credit(artifacts_dir)
