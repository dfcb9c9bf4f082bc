"""fashion_tagger: learn to tag fashion images from German descriptions (DVC + MLflow).

Subpackages by subject: `data` (sources, items, image cache), `text` (translation, POS tagging,
tags), `labels` (encode, split), `model` (network, losses, training), `evaluation` (metrics,
thresholds, reports), `serving` (predict, similar images, the MLflow model); `tracking` is the
MLflow run. The DVC stages in `stages/` only read params, call these and write outputs.
"""
