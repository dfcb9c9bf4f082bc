"""How `fashion-tagger predict` shows its results: a first line naming the model, then a table
per image (tag, score, threshold), or the same as JSON. Presentation only: no stage imports it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fashion_tagger.labels.exclusive import Excluded
from fashion_tagger.serving.origin import ModelOrigin

if TYPE_CHECKING:  # the record's type only: no torch import for printing
    from fashion_tagger.model.network import ModelRecord

TIME_FORMAT = "%Y-%m-%d %H:%M %Z"


@dataclass(frozen=True)
class ImageTags:
    """One image's result: tags kept (best first), tags set aside by an exclusive group, its
    most probable class per attribute, and whether it was padded to the model's aspect ratio."""

    path: Path
    tags: list[tuple[str, float]]
    excluded: list[Excluded] = field(default_factory=list)
    attributes: dict[str, tuple[str, float]] = field(default_factory=dict)
    padded: bool = False


def model_line(origin: ModelOrigin, record: ModelRecord, mode: str) -> str:
    """One line: which model file, its MLflow run and training time, and the thresholds used."""
    if origin.run_id is None:
        run = "no MLflow run recorded beside it"
    else:
        run = f"MLflow run {origin.run_id} ({origin.tracking_uri})"
    if origin.trained is not None:
        when = f"trained {origin.trained.strftime(TIME_FORMAT)}"
    else:
        when = f"file written {origin.file_time.strftime(TIME_FORMAT)} (run time unknown)"
    return (
        f"model {origin.file}: {record.backbone}, {len(record.classes)} tags, "
        f"{record.width}x{record.height} px; {run}, {when}; thresholds: {mode}"
    )


def table(header: list[str], rows: list[list[str]], align: str, indent: str = "  ") -> list[str]:
    """Rows under a header, indented, each column padded to its widest cell; `align` has one
    letter per column: l (left) or r (right, for numbers)."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [
            cell.rjust(width) if side == "r" else cell.ljust(width)
            for cell, width, side in zip(row, widths, align, strict=True)
        ]
        return (indent + "  ".join(cells)).rstrip()

    return [line(header), *map(line, rows)]


def format_table(
    results: list[ImageTags], thresholds: dict[str, float], width: int, height: int
) -> str:
    """Per image: its path, a line if it was padded, then its tags (and attributes) as tables."""
    lines: list[str] = []
    for result in results:
        lines.append(f"{result.path}")
        if result.padded:
            lines.append(
                f"  padded with white to the model's {width}:{height} aspect ratio "
                "(its own differs), not squeezed"
            )
        rows = [[tag, f"{score:.2f}", f"{thresholds[tag]:.2f}", ""] for tag, score in result.tags]
        rows += [
            [
                item.tag,
                f"{item.score:.2f}",
                f"{thresholds[item.tag]:.2f}",
                f"excluded: one {item.group} only, {item.kept} scores higher",
            ]
            for item in result.excluded
        ]
        if rows:
            lines += table(["tag", "score", "threshold", ""], rows, "lrrl")
        else:
            lines.append("  no tag reaches its threshold")
        if result.attributes:
            lines += table(
                ["attribute", "class", "score"],
                [[name, value, f"{p:.2f}"] for name, (value, p) in result.attributes.items()],
                "llr",
            )
    return "\n".join(lines)


def format_json(
    origin: ModelOrigin, record: ModelRecord, mode: str, results: list[ImageTags], thresholds: dict
) -> str:
    """{"model": what model_line says, "images": [per image: tags with score and threshold,
    excluded tags, padded, and attributes for attribute models]}."""
    model = {
        "file": str(origin.file),
        "backbone": record.backbone,
        "mlflow_run_id": origin.run_id,
        "tracking_uri": origin.tracking_uri,
        "trained": origin.trained.isoformat() if origin.trained else None,
        "file_time": origin.file_time.isoformat(),
        "thresholds": mode,
    }
    images = []
    for result in results:
        entry: dict = {
            "image": str(result.path),
            "padded": result.padded,
            "tags": [
                {"tag": tag, "score": round(score, 4), "threshold": round(thresholds[tag], 4)}
                for tag, score in result.tags
            ],
            "excluded": [
                {
                    "tag": item.tag,
                    "score": round(item.score, 4),
                    "group": item.group,
                    "kept": item.kept,
                }
                for item in result.excluded
            ],
        }
        if result.attributes:
            entry["attributes"] = {
                name: {"value": value, "score": round(p, 4)}
                for name, (value, p) in result.attributes.items()
            }
        images.append(entry)
    return json.dumps({"model": model, "images": images}, indent=2, ensure_ascii=False)
