from pathlib import Path

import operators
from operators.registry import ADAPTERS

ROOT = Path(operators.__file__).parent
NOT_ADAPTERS = {"fares", "__pycache__"}


def test_every_adapter_folder_is_registered_under_its_own_name() -> None:
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and p.name not in NOT_ADAPTERS}
    assert folders == {spec.id for spec in ADAPTERS}


def test_every_adapter_has_the_same_files() -> None:
    # client.py holds a wire format: only adapters that call a back-end have one.
    for spec in ADAPTERS:
        files = {p.name for p in (ROOT / spec.id).glob("*.py")}
        assert files >= {"__init__.py", "adapter.py", "mapping.py"}, spec.id
