"""A tiny random model saved to disk once per test session, and problems to run it on."""

from pathlib import Path

import pytest

from traces.importing import import_problems
from traces.modeling import build_tiny_model
from traces.models import Checkpoint, Problem

DATA = Path(__file__).resolve().parents[2] / "traces" / "data" / "cotempqa"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def checkpoint(db, tiny_model_dir) -> Checkpoint:
    return Checkpoint.objects.create(name="tiny", path=str(tiny_model_dir))


@pytest.fixture
def equal_problems(db) -> list[Problem]:
    import_problems("cotempqa", DATA / "equal.json", "equal")
    return list(Problem.objects.filter(subset="equal").order_by("pk"))
