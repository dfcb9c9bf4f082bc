"""MLflow tracking: one run per pipeline run, opened by train and reopened by evaluate.

The store is `sqlite:///<root>/mlflow.db` with artifacts in `<root>/mlartifacts`, where root is
`$DVC_ROOT` (set by `dvc exp run --temp/--queue`, which run in a temporary copy of the repo) or
else the current directory; `$MLFLOW_TRACKING_URI` overrides the store. With a tracking server
(an http(s) URI) the server decides where artifacts and models go (its
`--artifacts-destination`); only a local database store gets `<root>/mlartifacts`.

Tracking is a side channel: if the store cannot be used, the stage prints one warning line and
carries on without it. A server is asked once, with a short timeout, before anything else, and
MLflow's own HTTP retries are bounded for the stage, so an unreachable server costs seconds,
not minutes. Every run is tagged with the host and process id that opened it; a run still
RUNNING whose process on this host has gone (a killed stage) is marked KILLED when the next
stage opens a run; a run that evaluate reopened gets back the status train left it with.
A store copied or moved with its repo is pointed at the new root's `mlartifacts/` (one note
line), so a copy never writes into the original.

Train tags its run with the model file's sha256; evaluate and similar reopen the newest run with
the workspace model's hash (no run id among DVC's outputs). Runs are named after the DVC
experiment, or `repro-<commit>`; every picture and chart goes to the run's `plots/` folder, and
the experiment holds a view of its runs with the headline columns (`Tracker.headline_url`).

What a run shows in the UI: metric names grouped by `/` prefix into sections (`Train/` and `Val/`
per epoch, `test/`, `baseline/` and `model/` once; the run page sorts sections by name, capitals
first, so the curves come first), a one-line description, the training data as a dataset
input (digest: sha256 of the encoded labels and the split), and the pyfunc model that the
package stage logs (registered under `package.register_as` with the alias `package.alias`
when set).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fashion_tagger.io import process_alive, sha256_files
from fashion_tagger.params import PARAMS_FILE, StrictModel, flatten, load_params_file
from fashion_tagger.paths import repo_root

EXPERIMENT_NAME = "fashion-tagger"
# The experiment's kind, as the UI's own "Model training" choice writes it (MLflow 3.17 reads it
# where the UI's global GenAI / Model training switch does not decide instead).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
# A view of the training runs with the headline columns, stored with the experiment: the UI
# loads it from `#/experiments/<id>/runs?viewStateShareKey=headline` (`headline_url`), which
# opens on the training runs whatever the UI's GenAI / Model training switch says.
VIEW_KEY = "headline"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
HEADLINE_COLUMNS = [
    *(f"metrics.`{name}`" for name in ("test/micro_f1", "test/macro_f1", "test/map")),
    "metrics.`baseline/micro_f1`",
    *(f"params.`{name}`" for name in ("train.backbone", "train.epochs", "train.lr")),
]
HEADLINE_VIEW = json.dumps(
    {
        "selectedColumns": HEADLINE_COLUMNS,
        "orderByKey": "attributes.start_time",
        "orderByAsc": False,
    }
)
# The model file's sha256, set by train: evaluate and similar find their run by it, so no run id
# sits among the outputs DVC hashes (same params, seed and data: same data/train).
MODEL_TAG = "fashion_tagger.model_sha256"
PLOTS_DIR = "plots"  # the run's artifact folder for every picture, chart and its data
SERVER_SCHEMES = ("http", "https")
HEALTH_TIMEOUT = 5.0  # seconds to wait for a tracking server's first answer
# MLflow's HTTP client retries 7 times with backoff by default (minutes against a dead server);
# a user's own settings of these variables win.
HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
HOST_TAG = "fashion_tagger.host"
PID_TAG = "fashion_tagger.pid"
REOPENED_STATUS_TAG = "fashion_tagger.status_before"  # a reopened run's status before reopening
# where mlflow.db (MLflow 3.x schema) keeps absolute artifact paths
ARTIFACT_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
)
DESCRIPTION_TAG = "mlflow.note.content"  # the run page's description
DIGEST_LENGTH = 32  # MLflow keeps at most 36 characters of a dataset digest


class PackageParams(StrictModel):
    """`package` in params.yaml: what the package stage does with the logged model."""

    register_as: str | None  # registered model name for each packaged model; null: none
    alias: str  # alias moved to each newly registered version (models:/name@alias)


def epoch_metric_names(row: dict[str, float]) -> dict[str, float]:
    """One epoch's row under the UI's curve sections: train_loss -> Train/loss, lr -> Train/lr,
    val_map -> Val/map (the epoch itself is the step)."""
    named = {}
    for key, value in row.items():
        if key == "epoch":
            continue
        section, _, name = key.partition("_")
        named[f"{section.capitalize()}/{name}" if name else f"Train/{key}"] = value
    return named


def grouped(section: str, figures: dict[str, float]) -> dict[str, float]:
    """`figures` under one section of the UI: {"map": x} -> {"test/map": x}."""
    return {f"{section}/{key}": value for key, value in figures.items()}


def run_name() -> str:
    """The run's name: the DVC experiment's, or `repro-<commit>` for a plain `dvc repro`."""
    if os.environ.get("DVC_EXP_NAME"):
        return os.environ["DVC_EXP_NAME"]
    revision = git_revision(repo_root())
    return f"repro-{revision[:7]}" if revision else "repro"


def train_description(params: dict[str, Any], tags: int) -> str:
    """The run's one-line description after training: experiment, backbone and key params."""
    epochs = int(params["train.epochs"])
    return (
        f"{run_name()}: {params['train.backbone']} ({params['train.head']} head), "
        f"{tags} tags, {epochs} epoch{'s' if epochs != 1 else ''}, lr {params['train.lr']}, "
        f"batch {params['train.batch_size']}, loss {params['train.loss.name']}, "
        f"source {params.get('download.source', '?')}"
    )


def test_description(headline: dict) -> str:
    """The headline numbers that evaluate appends to the description."""
    baseline = headline["baseline"]
    return (
        f"test micro-F1 {headline['micro_f1']:.3f} (baseline {baseline['micro_f1']:.3f}), "
        f"mAP {headline['map']:.3f} (baseline {baseline['map']:.3f})"
    )


def tracking_uri() -> str:
    """$MLFLOW_TRACKING_URI, else the SQLite store in the tracking root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / 'mlflow.db'}"


def is_server(uri: str) -> bool:
    """True for a tracking server (http or https), which owns its artifact store."""
    return uri.split(":", 1)[0].lower() in SERVER_SCHEMES


def artifact_location() -> str | None:
    """Where a newly created experiment keeps its artifacts: <root>/mlartifacts for a local
    database store; None (the server's own default) for a tracking server."""
    if is_server(tracking_uri()):
        return None
    return (repo_root() / "mlartifacts").as_uri()


def follow_repo(stored: str) -> None:
    """Point a store copied or moved with its repo (it still names `stored`, the old root's
    mlartifacts) at this root's mlartifacts: experiment, runs and models, with one note line."""
    here = artifact_location()
    database = repo_root() / "mlflow.db"
    if here is None or stored == here or tracking_uri() != f"sqlite:///{database}":
        return
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        for table, column in ARTIFACT_COLUMNS:
            connection.execute(
                f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                f"WHERE {column} = ? OR substr({column}, 1, ?) = ?",
                (here, len(stored) + 1, stored, len(stored) + 1, f"{stored}/"),
            )
    print(
        f"note: {database} came with the repo from elsewhere: its artifact paths now point to "
        f"{here} instead of {stored}",
        file=sys.stderr,
    )


def check_server(uri: str) -> None:
    """Ask a tracking server once, with a short timeout; raise ConnectionError if it is silent.

    Any HTTP answer counts as reachable (a server behind auth may refuse /health).
    """
    import requests

    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=HEALTH_TIMEOUT)
    except requests.RequestException as error:
        kind = "timed out" if isinstance(error, requests.Timeout) else "connection failed"
        raise ConnectionError(f"server unreachable ({kind} within {HEALTH_TIMEOUT:g} s)") from None


def limit_http_waits() -> None:
    """Bound MLflow's HTTP retries and timeout for this stage (a user's own settings win)."""
    for name, value in HTTP_LIMITS.items():
        os.environ.setdefault(name, value)


def owner_tags() -> dict[str, str]:
    """Tags naming the process that holds a run open, so a later stage can tell it died."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def mark_killed_runs(experiment_id: str) -> None:
    """Mark KILLED the runs left RUNNING by processes of this host that no longer exist (a
    run evaluate reopened gets back the status it had).

    Runs opened on other hosts, and runs whose process is alive (a parallel `dvc queue`
    worker), are left alone.
    """
    import mlflow

    client = mlflow.MlflowClient()
    running = client.search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = "
        f"'{socket.gethostname()}'",
    )
    for run in running:
        pid = run.data.tags.get(PID_TAG, "")
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            status = run.data.tags.get(REOPENED_STATUS_TAG, "KILLED")  # evaluate's: train's
            client.set_terminated(run.info.run_id, status)


def read_all_params(path: Path = PARAMS_FILE) -> dict[str, Any]:
    """Every param in params.yaml except `runtime:`, flattened (empty if the file is missing)."""
    if not path.exists():
        return {}
    params = load_params_file(path)
    params.pop("runtime", None)
    return flatten(params)


def section_params(*sections: str, include: bool = True) -> dict[str, Any]:
    """The flattened params of the given sections of params.yaml, or (include=False) of all
    the others."""
    prefixes = tuple(f"{section}." for section in sections)
    return {
        key: value
        for key, value in read_all_params().items()
        if key.startswith(prefixes) == include
    }


def git_revision(root: Path) -> str | None:
    """HEAD's commit in `root`, or None without git or commits."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip() or None


def quiet_mlflow() -> None:
    """Keep MLflow's INFO chatter (database set-up, ...) out of the stage output.

    MLflow configures its loggers when first imported, from $MLFLOW_LOGGING_LEVEL; a user's own
    setting of that variable wins.
    """
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    # Logging a model reads its artifacts back; no "Downloading artifacts" bars in stage output.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


class Tracker:
    """An MLflow run that turns itself off, with one warning line, on the first failure.

    Every method is a no-op once tracking is off, so stage code calls them unconditionally.
    """

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.enabled = True
        self.reopened_status: str | None = None  # the reopened run's status before start()

    def _guard(self, action: str, function, *args, **kwargs) -> Any:
        if not self.enabled:
            return None
        try:
            return function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - any MLflow failure must not stop the stage
            self.enabled = False
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            print(
                f"warning: MLflow tracking off ({action} failed at {tracking_uri()}: {reason})",
                file=sys.stderr,
            )
            return None

    def start(
        self,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Tracker:
        """Reopen `run_id` (or create a run when it is None) and log `params` to it.

        MLflow params cannot change once logged: when the reopened run already holds other values
        for some of `params` (evaluate re-run with new settings), a new run nested under it
        takes them instead.
        """
        self._guard("start", self._start, run_id, tags or {}, params or {})
        return self

    def reopen(self, model_file: Path, params: dict[str, Any] | None = None) -> Tracker:
        """Reopen the run that trained `model_file` (found by its sha256, the newest such run),
        or, when the store holds none, start a new run for it saying so."""
        self._guard("start", self._reopen, Path(model_file), params or {})
        return self

    def _reopen(self, model_file: Path, params: dict[str, Any]) -> None:
        digest = sha256_files([model_file])
        experiment_id = self._connect()
        run_id = model_run(experiment_id, digest)
        if run_id is None:
            print(
                f"MLflow: no run holds {model_file} (sha256 {digest[:12]}); logging to a new run",
                file=sys.stderr,
            )
        self._open(experiment_id, run_id, {MODEL_TAG: digest}, params)

    def _connect(self) -> str:
        """Point MLflow at the store and return the pipeline's experiment id."""
        quiet_mlflow()
        limit_http_waits()
        uri = tracking_uri()
        if is_server(uri):
            check_server(uri)
        import mlflow

        mlflow.set_tracking_uri(uri)
        experiment_id = self._experiment_id()
        mark_killed_runs(experiment_id)
        return experiment_id

    def _start(self, run_id: str | None, tags: dict[str, Any], params: dict[str, Any]) -> None:
        self._open(self._connect(), run_id, tags, params)

    def _open(
        self, experiment_id: str, run_id: str | None, tags: dict[str, Any], params: dict[str, Any]
    ) -> None:
        import mlflow

        params = {key: str(value) for key, value in params.items()}
        if run_id is None:
            run = self._new_run(experiment_id, tags)
        else:
            previous = mlflow.get_run(run_id)
            logged = previous.data.params
            if all(logged.get(key, value) == value for key, value in params.items()):
                self.reopened_status = previous.info.status
                run = mlflow.start_run(run_id=run_id)
                mlflow.set_tags(owner_tags() | {REOPENED_STATUS_TAG: self.reopened_status})
            else:
                run = self._new_run(experiment_id, tags | {"mlflow.parentRunId": run_id})
        self.run_id = run.info.run_id
        mlflow.log_params(params)

    @staticmethod
    def _experiment_id() -> str:
        """The pipeline's experiment, created on first use, shown as model training, with the
        headline view of its runs."""
        import mlflow

        experiment = mlflow.get_experiment_by_name(EXPERIMENT_NAME)
        if experiment is None:
            return mlflow.create_experiment(
                EXPERIMENT_NAME,
                artifact_location(),
                tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND, VIEW_TAG: HEADLINE_VIEW},
            )
        follow_repo(experiment.artifact_location)
        client = mlflow.MlflowClient()
        if EXPERIMENT_KIND_TAG not in experiment.tags:  # the user's own choice stays
            client.set_experiment_tag(
                experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND
            )
        if experiment.tags.get(VIEW_TAG) != HEADLINE_VIEW:
            client.set_experiment_tag(experiment.experiment_id, VIEW_TAG, HEADLINE_VIEW)
        return experiment.experiment_id

    def headline_url(self, base: str = "http://127.0.0.1:5000") -> str | None:
        """The UI page of the experiment's training runs with the headline columns, for a UI
        at `base` (`mlflow ui`'s default), or None when tracking is off."""
        import mlflow

        run = self._guard("read run", mlflow.get_run, self.run_id) if self.run_id else None
        if run is None:
            return None
        base = tracking_uri() if is_server(tracking_uri()) else base
        experiment = run.info.experiment_id
        return f"{base.rstrip('/')}/#/experiments/{experiment}/runs?viewStateShareKey={VIEW_KEY}"

    @staticmethod
    def _new_run(experiment_id: str, tags: dict[str, Any]):
        import mlflow

        return mlflow.start_run(
            experiment_id=experiment_id, run_name=run_name(), tags=tags | owner_tags()
        )

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import mlflow

        self._guard("log metrics", mlflow.log_metrics, metrics, step=step)

    def log_artifact(self, path: Path | str, directory: str | None = None) -> None:
        import mlflow

        self._guard("log artifact", mlflow.log_artifact, str(path), directory)

    def log_plots(self, paths: Iterable[Path | str], figures: dict[str, Any] | None = None) -> None:
        """Pictures and chart data (files), and matplotlib `figures` by file name, all under
        the run's one `plots/` folder."""
        import mlflow

        for path in paths:
            self.log_artifact(path, PLOTS_DIR)
        for name, figure in (figures or {}).items():
            self._guard("log figure", mlflow.log_figure, figure, f"{PLOTS_DIR}/{name}")

    def tag_model(self, model_file: Path) -> None:
        """Tag the run with the sha256 of the model it wrote (what `reopen` looks for)."""
        import mlflow

        self._guard("tag model", mlflow.set_tag, MODEL_TAG, sha256_files([model_file]))

    def call(self, action: str, function, *args, **kwargs) -> Any:
        """Run any MLflow call (e.g. logging a model) under the same one-warning guard."""
        return self._guard(action, function, *args, **kwargs)

    def describe(self, text: str) -> None:
        """Set the run's description (one line, shown at the top of the run page)."""
        import mlflow

        self._guard("set description", mlflow.set_tag, DESCRIPTION_TAG, text)

    def description(self) -> str:
        """The run's current description ('' when tracking is off or none is set)."""
        import mlflow

        run = self._guard("read run", mlflow.get_run, self.run_id) if self.run_id else None
        return run.data.tags.get(DESCRIPTION_TAG, "") if run else ""

    def log_dataset(
        self, directory: Path, name: str, digest: str, context: str = "training"
    ) -> None:
        """Record the data in `directory` as the run's dataset input (Datasets column): its
        location and `digest` (the files' sha256, as `pipeline_tags` computes it)."""
        self._guard("log dataset", _log_dataset, directory, name, digest, context)

    def register(self, model_uri: str | None, settings: PackageParams) -> None:
        """Register the logged model under `settings.register_as` (if set) and point
        `settings.alias` at the new version."""
        if model_uri and settings.register_as:
            self._guard("register model", _register, model_uri, settings)

    def end(self, status: str = "FINISHED") -> None:
        import mlflow

        self._guard("end run", mlflow.end_run, status)

    def interrupted(self) -> None:
        """End after a failure or an interrupt: a reopened run gets back the status it had,
        a new one is marked FAILED."""
        self.end(self.reopened_status or "FAILED")

    def discard(self) -> None:
        """End and delete the run: a stage stopped by bad input leaves no FAILED run behind."""
        import mlflow

        run_id = self.run_id
        self.end("FAILED")
        if run_id is not None:
            self._guard("delete run", mlflow.delete_run, run_id)


def model_run(experiment_id: str, digest: str) -> str | None:
    """The newest top-level run of the experiment tagged with the model's sha256, or None."""
    import mlflow

    runs = mlflow.MlflowClient().search_runs(
        [experiment_id],
        filter_string=f"tags.`{MODEL_TAG}` = '{digest}'",
        order_by=["attributes.start_time DESC"],
    )
    trained = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    return trained[0].info.run_id if trained else None


def find_model_run(model_file: Path | str, uri: str | None = None) -> str | None:
    """The id of the newest run that trained `model_file` in the store at `uri` (default:
    `tracking_uri()`), or None: what evaluate, similar and a user reopen."""
    import mlflow

    mlflow.set_tracking_uri(uri or tracking_uri())
    experiment = mlflow.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is None:
        return None
    return model_run(experiment.experiment_id, sha256_files([model_file]))


def pipeline_tags(data_files: Iterable[Path]) -> dict[str, str]:
    """Tags that tie an MLflow run to its DVC experiment, git revision and data."""
    root = repo_root()
    tags = {"dvc.root": str(root), "data.sha256": sha256_files(data_files)}
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc.exp_name"] = os.environ["DVC_EXP_NAME"]
    revision = git_revision(root)
    if revision:
        tags["git.revision"] = revision
    return tags


def _log_dataset(directory: Path, name: str, digest: str, context: str) -> None:
    """Log a metadata-only MLflow dataset: where the files are, and their digest."""
    import mlflow
    from mlflow.data.dataset_source_registry import get_dataset_source_from_json
    from mlflow.data.meta_dataset import MetaDataset

    uri = (repo_root() / directory).as_uri()
    source = get_dataset_source_from_json(json.dumps({"uri": uri}), "local")
    mlflow.log_input(MetaDataset(source, name=name, digest=digest[:DIGEST_LENGTH]), context=context)


def _register(model_uri: str, settings: PackageParams) -> None:
    """Register `model_uri` as a new version and move the alias to it."""
    import mlflow

    version = mlflow.register_model(model_uri, settings.register_as)
    mlflow.MlflowClient().set_registered_model_alias(
        settings.register_as, settings.alias, version.version
    )
