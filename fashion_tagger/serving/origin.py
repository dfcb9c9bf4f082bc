"""Where a model file came from: the MLflow run that trained it and when, so a command that
uses the model can say which one it used (`train` tags its run with the model file's sha256).

The training time is the run's start time in MLflow when the store answers; otherwise the
model file's modification time, which `dvc checkout` or `dvc pull` reset, so it is labelled as
the file's time.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelOrigin:
    file: Path
    run_id: str | None  # None: no store, or no run in it trained this file
    tracking_uri: str | None
    trained: datetime.datetime | None  # the MLflow run's start; None: the store did not answer
    file_time: datetime.datetime  # the model file's modification time


def sqlite_file(uri: str) -> Path | None:
    """The database file of a `sqlite:///path` tracking URI, else None."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]) if uri.startswith(prefix) else None


def trained_by(model_file: Path, uri: str) -> tuple[str | None, datetime.datetime | None]:
    """The run that trained the model and when it started, or Nones if the store is missing,
    silent or holds no run of this model file."""
    from fashion_tagger.tracking import (
        check_server,
        find_model_run,
        is_server,
        limit_http_waits,
        quiet_mlflow,
    )

    database = sqlite_file(uri)
    if database is not None and not database.exists():
        return None, None  # MLflow would create an empty store there
    quiet_mlflow()  # before MLflow's first import, which sets up its loggers
    import mlflow

    try:
        if is_server(uri):
            limit_http_waits()
            check_server(uri)
        run_id = find_model_run(model_file, uri)
        if run_id is None:
            return None, None
        run = mlflow.MlflowClient(uri).get_run(run_id)
    except (ConnectionError, mlflow.exceptions.MlflowException):
        return None, None
    return run_id, datetime.datetime.fromtimestamp(run.info.start_time / 1000).astimezone()


def model_origin(model_file: Path | str) -> ModelOrigin:
    """The model file's run (found by the file's sha256) and training time."""
    from fashion_tagger.tracking import tracking_uri

    model_file = Path(model_file)
    uri = tracking_uri()
    file_time = datetime.datetime.fromtimestamp(model_file.stat().st_mtime).astimezone()
    run_id, trained = trained_by(model_file, uri)
    return ModelOrigin(model_file, run_id, uri, trained, file_time)
