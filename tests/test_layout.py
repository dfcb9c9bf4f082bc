"""The package layout and the DVC contract: no import circles, each stage declares exactly the
modules it imports, and no stage declares the `runtime:` params."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from fashion_tagger.serving.packaging import (
    PACKAGE_DIR,
    imported_names,
    module_file,
    package_closure,
)

REPO = Path(__file__).resolve().parents[1]
DVC_YAML = yaml.safe_load((REPO / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def package_modules() -> list[Path]:
    return sorted(path for path in PACKAGE_DIR.rglob("*.py") if path.name != "__init__.py")


def direct_imports(path: Path) -> set[Path]:
    found = {module_file(name) for name in imported_names(path)}
    return {file for file in found if file is not None and file.name != "__init__.py"}


def test_package_inits_import_nothing():
    """Importing a module runs its packages' __init__.py: they stay empty but for a docstring,
    so a module's deps are exactly the modules it imports."""
    for init in PACKAGE_DIR.rglob("__init__.py"):
        assert imported_names(init) <= {"__future__"}, init


def test_no_import_circle_in_the_package():
    graph = {path: direct_imports(path) for path in package_modules()}
    visiting, done = set(), set()

    def visit(node: Path, trail: list[Path]) -> None:
        if node in done:
            return
        assert node not in visiting, "import circle: " + " -> ".join(
            str(p.relative_to(REPO)) for p in [*trail, node]
        )
        visiting.add(node)
        for neighbour in graph[node]:
            visit(neighbour, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for module in graph:
        visit(module, [])


def test_a_circle_would_be_found(tmp_path):
    """The circle check above sees `from package import module` imports too."""
    source = tmp_path / "example.py"
    source.write_text("from fashion_tagger.model import network\nimport fashion_tagger.io\n")
    assert direct_imports(source) == {PACKAGE_DIR / "model/network.py", PACKAGE_DIR / "io.py"}


def stage_entry(stage: dict) -> Path:
    match = re.fullmatch(r"python -m stages\.(\w+)", stage["cmd"])
    assert match, f"unexpected command {stage['cmd']!r}"
    return REPO / "stages" / f"{match.group(1)}.py"


def declared_code(stage: dict) -> list[Path]:
    return [REPO / dep for dep in stage["deps"] if dep.endswith(".py")]


def test_each_stage_declares_exactly_the_code_it_imports():
    for name, stage in DVC_YAML["stages"].items():
        entry = stage_entry(stage)
        expected = {entry, *package_closure(entry)}
        declared = declared_code(stage)
        assert len(declared) == len(set(declared)), f"stage {name}: a code dep listed twice"
        assert set(declared) == expected, (
            f"stage {name}: missing {sorted(str(p) for p in expected - set(declared))}, "
            f"not imported {sorted(str(p) for p in set(declared) - expected)}"
        )
        for dep in stage["deps"]:
            assert (REPO / dep).exists() or dep.startswith("data/"), f"{name}: {dep} missing"


def resource_files(module: Path) -> set[Path]:
    """The data files of the module's own resources/ folder that it names in its source."""
    folder = module.parent / "resources"
    names = re.findall(r"[\"']([\w-]+\.(?:tsv|json))[\"']", module.read_text(encoding="utf-8"))
    return {folder / name for name in names if (folder / name).is_file()}


def test_each_stage_declares_the_data_files_its_code_reads():
    for name, stage in DVC_YAML["stages"].items():
        entry = stage_entry(stage)
        needed = {file for module in package_closure(entry) for file in resource_files(module)}
        declared = {REPO / dep for dep in stage["deps"]}
        missing = sorted(str(path.relative_to(REPO)) for path in needed - declared)
        assert not missing, f"stage {name}: undeclared data files {missing}"


# Code deps (entry point included) a stage may have: each module more is a reason to re-run it
# that is not its own work. Lower these when a stage sheds code; never raise them silently.
CODE_DEP_LIMITS = {"train": 22, "evaluate": 19, "similar": 12}
# Presentation and commands: no stage that trains, scores or embeds may import them.
NOT_FOR_STAGES = {"serving/predict.py", "serving/pyfunc.py", "serving/packaging.py", "cli.py"}


def test_stages_import_only_their_own_work():
    for name, limit in CODE_DEP_LIMITS.items():
        entry = stage_entry(DVC_YAML["stages"][name])
        closure = package_closure(entry)
        assert len(closure) + 1 <= limit, f"stage {name}: {len(closure) + 1} code deps > {limit}"
        modules = {str(path.relative_to(PACKAGE_DIR)) for path in closure}
        assert not modules & NOT_FOR_STAGES, f"stage {name} imports {modules & NOT_FOR_STAGES}"
        stage_modules = {name for name in imported_names(entry) if name.startswith("stages")}
        assert not stage_modules, f"stage {name} imports other entry points {stage_modules}"


def test_the_packaged_model_is_a_dvc_artifact():
    """`dvc artifacts get` finds the model: its path is an out of the package stage."""
    artifact = DVC_YAML["artifacts"]["fashion-tagger"]
    assert artifact["type"] == "model"
    outs = DVC_YAML["stages"]["package"]["outs"]
    assert any(artifact["path"] == out or artifact["path"].startswith(f"{out}/") for out in outs)


def test_no_stage_declares_runtime_params():
    runtime = PARAMS["runtime"]
    for name, stage in DVC_YAML["stages"].items():
        declared = stage.get("params", [])
        assert "runtime" not in declared, name
        for section in declared:
            assert isinstance(section, str) and section in PARAMS, (name, section)
    # a runtime key never also sits in the section of the stage that reads it
    for section, keys in runtime.items():
        flat_section = PARAMS.get(section, {})  # runtime.tracking belongs to no stage section
        nested = [flat_section, *(v for v in flat_section.values() if isinstance(v, dict))]
        for key in keys:
            assert all(key not in part for part in nested), f"{section}.{key} is also declared"


def test_every_param_section_is_read_by_a_stage():
    declared = {s for stage in DVC_YAML["stages"].values() for s in stage.get("params", [])}
    assert set(PARAMS) - {"runtime"} == declared
