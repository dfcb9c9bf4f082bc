"""params.yaml: validated sections, one pydantic model each.

A stage reads the sections it declares in dvc.yaml, and the matching part of `runtime:`, which
no stage declares: values there change only speed or placement (devices, worker counts,
inference batch sizes, resume, download concurrency and timeouts), so changing them re-runs
nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from fashion_tagger.errors import PipelineError

PARAMS_FILE = Path("params.yaml")

Section = TypeVar("Section", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for params sections: unknown keys are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def load_params_file(path: Path = PARAMS_FILE) -> dict:
    """The whole of params.yaml as a dict (a missing file is a one-line error)."""
    if not path.exists():
        raise PipelineError(f"{path}: file not found")
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def read_params(section: str, model: type[Section], path: Path = PARAMS_FILE) -> Section:
    """Read one section of params.yaml (dotted for nested ones: `runtime.train`) and validate
    it with `model`."""
    value = load_params_file(path)
    for part in section.split("."):
        if not isinstance(value, dict) or part not in value:
            raise PipelineError(f"{path}: missing section '{section}'")
        value = value[part]
    try:
        return model.model_validate(value)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join([section, *(str(part) for part in first["loc"])])
        raise PipelineError(f"{path}: param {where}: {first['msg']}") from None


def flatten(mapping: dict, prefix: str = "") -> dict:
    """Nested params as flat 'section.key' entries (lists stay whole values)."""
    flat: dict = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
