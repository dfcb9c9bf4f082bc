"""The models-from-code file of the MLflow copy of the tagger (`serving.pyfunc.log_tagger`).

MLflow runs this file when it logs and when it loads the model, so the model is rebuilt from
code and `model.pt` instead of being unpickled.
"""

from mlflow.models import set_model

from fashion_tagger.serving.pyfunc import TaggerModel

set_model(TaggerModel())
