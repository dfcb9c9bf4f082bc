"""End to end: `dvc repro` in a temporary copy of the repo, on a small embedded sample."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def repo_files() -> list[str]:
    """Tracked files plus new files git does not ignore: what a fresh clone would hold."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    return [name for name in listed if name and (REPO / name).is_file()]


def copy_repo(target: Path) -> None:
    """Copy what a fresh clone would hold into `target`."""
    for name in repo_files():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target / name)


def tiny_stage_params(params: dict) -> dict:
    """A few seconds per stage: tiny images, a small untrained network, one epoch."""
    params["prepare"] |= {"height": 32, "width": 24}
    params["train"] |= {"backbone": "resnet18", "pretrained": False, "epochs": 1}
    params["train"] |= {"batch_size": 8, "min_val_positives": 2}
    params["evaluate"] |= {"gallery_size": 4, "tta": False}
    params["similar"] |= {"queries": 2, "neighbours": 2}
    return params


def small_params(params: dict) -> dict:
    """The tiny params on a 120-item sample: the whole pipeline in well under a minute."""
    params["download"]["sample"]["items"] = 120
    return tiny_stage_params(params)


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def environment(workdir: Path) -> dict:
    return {
        **os.environ,
        **GIT_IDENTITY,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
    }


def dvc(workdir: Path, *args: str) -> str:
    result = subprocess.run(
        ["dvc", *args],
        cwd=workdir,
        env=environment(workdir),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def git(workdir: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=workdir, env=environment(workdir), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def commit_all(workdir: Path, message: str) -> None:
    git(workdir, "add", "-A")
    git(workdir, "commit", "-q", "--allow-empty", "-m", message)


def edit_params(workdir: Path, change) -> None:
    params_file = workdir / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    change(params)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))


UP_TO_DATE = "Data and pipelines are up to date."


@pytest.fixture(scope="module")
def pipeline_copy(tmp_path_factory) -> Path:
    """A fresh copy of the repo that has run `dvc repro` once."""
    workdir = tmp_path_factory.mktemp("repo")
    copy_repo(workdir)
    params_file = workdir / "params.yaml"
    params = small_params(yaml.safe_load(params_file.read_text()))
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    git(workdir, "init", "-q")
    dvc(workdir, "repro")
    commit_all(workdir, "pipeline on a small sample")
    return workdir


def test_repro_builds_every_output(pipeline_copy):
    items = json.loads((pipeline_copy / "data/raw/items.json").read_text())
    assert len(items) == 120
    assert all((pipeline_copy / "data/raw" / item["image"]).is_file() for item in items)
    classes = json.loads((pipeline_copy / "data/encode/classes.json").read_text())
    assert 10 <= len(classes) <= 50
    splits = json.loads((pipeline_copy / "data/split/split.json").read_text())
    together = splits["train"] + splits["val"] + splits["test"]
    assert sorted(together) == sorted(item["id"] for item in items)
    coverage = json.loads((pipeline_copy / "metrics/translate.json").read_text())
    assert coverage["coverage"] > 0.9


def test_second_repro_does_nothing(pipeline_copy):
    output = dvc(pipeline_copy, "repro")
    assert "Running stage" not in output


def test_changing_a_param_reruns_only_the_stages_that_read_it(pipeline_copy):
    before = (pipeline_copy / "data/train/model.pt").read_bytes()
    params_file = pipeline_copy / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["evaluate"]["gallery_size"] += 1
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    output = dvc(pipeline_copy, "repro")
    assert "Running stage 'evaluate'" in output
    upstream = ("download", "translate", "tags", "encode", "split", "prepare", "train")
    for stage in (*upstream, "similar", "package"):
        assert f"Running stage '{stage}'" not in output
    assert (pipeline_copy / "data/train/model.pt").read_bytes() == before


def test_runtime_params_rerun_nothing(pipeline_copy):
    original = (pipeline_copy / "params.yaml").read_text()

    def faster(params):
        params["runtime"]["train"] |= {"workers": 1, "resume": True}
        params["runtime"]["evaluate"]["batch_size"] = 7
        params["runtime"]["similar"]["device"] = "cpu"
        params["runtime"]["prepare"]["workers"] = 2

    edit_params(pipeline_copy, faster)
    assert UP_TO_DATE in dvc(pipeline_copy, "status")
    (pipeline_copy / "params.yaml").write_text(original)


def model_run_id(workdir: Path) -> str:
    """The MLflow run that trained the workspace's model (found by the model's sha256)."""
    from fashion_tagger.tracking import find_model_run

    return find_model_run(workdir / "data/train/model.pt", f"sqlite:///{workdir / 'mlflow.db'}")


def mlflow_run_params(workdir: Path) -> dict:
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    return client.get_run(model_run_id(workdir)).data.params


def test_retraining_with_the_same_params_changes_nothing_git_sees(pipeline_copy):
    """Same params, seed and data: the same model bytes, so dvc.lock, the metrics and the
    curves stay as committed, and evaluate and similar need no re-run; packaging the model
    again writes the same MLflow model folder."""
    commit_all(pipeline_copy, "before a retrain")  # whatever earlier tests changed
    dvc(pipeline_copy, "repro", "--force", "--single-item", "train")
    assert "Running stage" not in dvc(pipeline_copy, "repro")
    assert git(pipeline_copy, "status", "--porcelain") == ""
    dvc(pipeline_copy, "repro", "--force", "--single-item", "package")
    assert git(pipeline_copy, "status", "--porcelain") == ""


def test_exp_apply_leaves_a_consistent_workspace(pipeline_copy):
    commit_all(pipeline_copy, "before experiments")
    dvc(pipeline_copy, "exp", "run", "-n", "lr-low", "-S", "train.lr=0.002")
    dvc(pipeline_copy, "exp", "run", "-n", "lr-high", "-S", "train.lr=0.004")
    assert mlflow_run_params(pipeline_copy)["train.lr"] == "0.004"
    dvc(pipeline_copy, "exp", "apply", "lr-low")
    assert UP_TO_DATE in dvc(pipeline_copy, "status")
    assert "Running stage" not in dvc(pipeline_copy, "repro")
    # evaluate alone logs to the applied experiment's run, not the last one trained
    assert mlflow_run_params(pipeline_copy)["train.lr"] == "0.002"
    git(pipeline_copy, "checkout", "--", ".")
    dvc(pipeline_copy, "checkout", "--force")


def documented_exp_show() -> list[tuple[str, int]]:
    """(command, columns it fits) of each `dvc exp show` line in docs/results.md."""
    lines = (REPO / "docs/results.md").read_text().splitlines()
    found = []
    for line in lines:
        if line.startswith("dvc exp show") and "# fits " in line:
            command, _, comment = line.partition("#")
            found.append((command.strip(), int(comment.split("fits ")[1].split()[0])))
    return found


def test_documented_exp_show_commands_fit_their_terminals(pipeline_copy):
    """On the real pipeline's experiments (lr-low, lr-high: retrained models), each documented
    `dvc exp show` fits its width and still shows the changed param and the headline F1."""
    commands = documented_exp_show()
    assert [columns for _, columns in commands] == [200, 80]
    for command, columns in commands:
        shown = subprocess.run(
            f"{command} --no-pager",
            shell=True,
            cwd=pipeline_copy,
            env=environment(pipeline_copy) | {"COLUMNS": "1000"},
            capture_output=True,
            text=True,
        )
        assert shown.returncode == 0, shown.stderr
        table = shown.stdout
        assert "lr-low" in table and "train.lr" in table and "micro_f1" in table, table
        width = max(len(line.rstrip()) for line in table.splitlines())
        assert width <= columns, f"{command}: {width} columns\n{table}"


def test_push_then_pull_into_a_fresh_clone_is_up_to_date(pipeline_copy, tmp_path):
    dvc(pipeline_copy, "remote", "add", "-d", "shared", str(tmp_path / "remote"))
    assert UP_TO_DATE in dvc(pipeline_copy, "status")
    commit_all(pipeline_copy, "shared remote")
    dvc(pipeline_copy, "push")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(pipeline_copy), str(clone))
    dvc(clone, "pull")
    assert UP_TO_DATE in dvc(clone, "status")
    assert "Running stage" not in dvc(clone, "repro")


def test_a_failed_train_then_a_good_one_keeps_the_run_id(pipeline_copy):
    """DVC deletes train's outputs before train runs; the error line says how to get back, and
    with the params restored `dvc checkout` alone brings the last model back, and with the model
    its MLflow run: no retrain. The curves (persist) are never removed."""
    model_file = pipeline_copy / "data/train/model.pt"
    run_id = model_run_id(pipeline_copy)
    original = (pipeline_copy / "params.yaml").read_text()
    edit_params(pipeline_copy, lambda params: params["train"].update(backbone="no_such_network"))
    failed = subprocess.run(
        ["dvc", "repro"],
        cwd=pipeline_copy,
        env=environment(pipeline_copy),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert failed.returncode != 0 and "no_such_network" in failed.stderr
    [line] = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert "restore the last good ones with `dvc checkout`)" in line
    assert not model_file.exists()
    assert (pipeline_copy / "metrics/train_curves.csv").stat().st_size > 0
    assert "deleted" in dvc(pipeline_copy, "status")

    (pipeline_copy / "params.yaml").write_text(original)
    dvc(pipeline_copy, "checkout")
    assert model_run_id(pipeline_copy) == run_id
    assert "Running stage" not in dvc(pipeline_copy, "repro")
    assert UP_TO_DATE in dvc(pipeline_copy, "status")
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{pipeline_copy / 'mlflow.db'}")
    runs = client.search_runs([client.get_run(run_id).info.experiment_id])
    assert "FAILED" not in {run.info.status for run in runs}  # the bad param left no run


def test_labelled_data_is_a_tracked_dependency(pipeline_copy):
    from PIL import Image

    shop = pipeline_copy / "labelled/shop"
    (shop / "images").mkdir(parents=True)
    for index, colour in enumerate([(200, 20, 20), (20, 20, 200), (20, 160, 20)]):
        Image.new("RGB", (64, 96), colour).save(shop / "images" / f"d{index}.jpg")
    csv_file = shop / "labels.csv"
    csv_file.write_text("image,tags\nimages/d0.jpg,red\nimages/d1.jpg,blue\nimages/d2.jpg,green\n")

    def labelled(params):
        params["download"]["source"] = "labelled"
        params["download"]["labelled"]["csv"] = "labelled/shop/labels.csv"

    edit_params(pipeline_copy, labelled)
    dvc(pipeline_copy, "add", "labelled/shop")
    dvc(pipeline_copy, "repro", "download")
    assert "download" not in dvc(pipeline_copy, "status", "download")

    csv_file.write_text(csv_file.read_text().replace("d1.jpg,blue", "d1.jpg,navy"))
    status = dvc(pipeline_copy, "status", "download")
    assert "download:" in status and "changed deps" in status
    dvc(pipeline_copy, "repro", "download")
    assert "download:" not in dvc(pipeline_copy, "status", "download")

    Image.new("RGB", (64, 96), (250, 250, 0)).save(shop / "images/d2.jpg")
    status = dvc(pipeline_copy, "status", "download")
    assert "download:" in status and "changed deps" in status
