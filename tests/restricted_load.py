"""Load an MLflow model and tag a folder of images: `python restricted_load.py MODEL IMAGES`.

The test runs it with `python -S` and a site folder holding only the model's requirements
(tests/restricted_env.py), from outside the repo. Prints the tags and where the code came from.
"""

import json
import sys
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

model = mlflow.pyfunc.load_model(sys.argv[1])
result = model.predict(pd.DataFrame({"image": [sys.argv[2]]}))
import fashion_tagger  # noqa: E402  (already imported by the model: where from?)

print(
    json.dumps(
        {
            "tags": [list(tags) for tags in result["tags"]],
            "package": str(Path(fashion_tagger.__file__).resolve().parent),
            "imported": sorted({name.split(".")[0] for name in sys.modules}),
        }
    )
)
