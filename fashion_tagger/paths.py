"""Where the pipeline's files live: the repo root and each stage's outputs, in one place."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The real repo root: `DVC_ROOT` when DVC sets it (`dvc exp run --temp/--queue` run stages
    in a temporary copy), else the working directory. Caches and run stores live here."""
    return Path(os.environ.get("DVC_ROOT") or ".").resolve()


def repo_path(path: Path | str) -> Path:
    """`path` as is when absolute, else relative to `repo_root()`."""
    path = Path(path)
    return path if path.is_absolute() else repo_root() / path


# download: the normalised items file and its images (see fashion_tagger.data.items)
RAW_DIR = Path("data/raw")
ITEMS_FILE = RAW_DIR / "items.json"
IMAGES_DIR = RAW_DIR / "images"
TRUE_TAGS_FILE = RAW_DIR / "true_tags.json"  # sample source only: what each image really shows
# the labelled source's data: folders users `dvc add` (see labelled/README.md); not under
# data/, which git ignores, since DVC does not look for .dvc files in git-ignored folders
LABELLED_DIR = Path("labelled")
OLD_LABELLED_DIR = Path("data/labelled")  # the earlier place: download names the move
# translate
TRANSLATED_FILE = Path("data/translate/items.json")
TRANSLATE_METRICS_FILE = Path("metrics/translate.json")
UNTRANSLATED_FILE = Path("metrics/untranslated.csv")
# tags
TAGS_DIR = Path("data/tags")
TAGGED_ITEMS_FILE = TAGS_DIR / "items.json"
VOCABULARY_FILE = TAGS_DIR / "vocabulary.json"
TAG_FREQUENCY_FILE = Path("metrics/tag_frequency.csv")
TAG_REPORT_FILE = Path("metrics/tags.json")
TAG_REPORT_PLOT_FILE = Path("metrics/tag_report.csv")
# encode
ENCODE_DIR = Path("data/encode")
LABELS_FILE = ENCODE_DIR / "labels.csv"
CLASSES_FILE = ENCODE_DIR / "classes.json"
ATTRIBUTES_FILE = ENCODE_DIR / "attributes.csv"  # id, then one class name per attribute
ATTRIBUTE_CLASSES_FILE = ENCODE_DIR / "attribute_classes.json"  # {attribute: [classes]}
MENTIONS_FILE = ENCODE_DIR / "mentions.csv"  # id, descriptions, texts stating each class
# split
SPLIT_FILE = Path("data/split/split.json")
SPLIT_SUMMARY_FILE = Path("metrics/split.json")
SPLIT_TAGS_FILE = Path("metrics/split_tags.csv")
# prepare
PREPARE_DIR = Path("data/prepare")
CACHE_IMAGES_FILE = PREPARE_DIR / "images.npy"
CACHE_IDS_FILE = PREPARE_DIR / "ids.json"
# train
TRAIN_DIR = Path("data/train")
MODEL_FILE = TRAIN_DIR / "model.pt"
CHECKPOINTS_DIR = Path("data/cache/train")  # under repo_root(): kept across runs, not an output
CURVES_FILE = Path("metrics/train_curves.csv")
# evaluate
EVAL_FILE = Path("metrics/eval.json")
EVAL_DETAILS_FILE = Path("metrics/eval_details.json")
PER_TAG_FILE = Path("metrics/per_tag.csv")
PR_CURVE_FILE = Path("metrics/pr_curve.csv")
GALLERY_FILE = Path("metrics/test_gallery.png")
ATTRIBUTE_METRICS_FILE = Path("metrics/attributes.json")
TRUTH_METRICS_FILE = Path("metrics/truth.json")  # model vs the images' true tags (sample)
LABEL_ISSUES_FILE = Path("metrics/label_issues.csv")  # suspected text-label errors, ranked
LABEL_ISSUES_PICTURE_FILE = Path("metrics/label_issues.png")
CONFUSION_FILE = Path("metrics/confusion.png")  # per attribute: model and baseline
PACKAGE_MODEL_DIR = Path("data/package/model")  # the MLflow pyfunc model (a DVC artifact)
# lr_find (a command, not a stage: its outputs are not tracked)
LR_FIND_DIR = Path("data/lr_find")
LR_FIND_PLOT_FILE = LR_FIND_DIR / "lr_find.png"
LR_FIND_CSV_FILE = LR_FIND_DIR / "lr_find.csv"
# similar
SIMILAR_DIR = Path("data/similar")
EMBEDDINGS_FILE = SIMILAR_DIR / "embeddings.npy"
EMBEDDING_IDS_FILE = SIMILAR_DIR / "ids.json"
SIMILAR_PICTURE_FILE = Path("metrics/similar.png")
