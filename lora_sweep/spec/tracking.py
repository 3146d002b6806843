"""The `tracking:` spec section: every trial's settings and per-epoch metrics also go to the user's MLflow.

    tracking:
      mlflow: sqlite:///mlflow.db     # an MLflow tracking URI: a database, file:./mlruns or http://host:5000
      experiment: glue_ranks          # the MLflow experiment; default: the sweep's name

Ray Tune's MLflowLoggerCallback does the logging (sweep/driver.py), on the driver: one MLflow run per trial (named
like its folder), the trial's settings as parameters (`trial/learning_rate`, ...), and every report as metrics at
step = epoch (`score`, `score_min`, `score_max`, `by_seed/<seed>/eval_accuracy`, ...). A URI with a password is
refused, because spec.yaml keeps the spec as written: MLflow reads MLFLOW_TRACKING_USERNAME/PASSWORD or
MLFLOW_TRACKING_TOKEN from the environment.
"""

from __future__ import annotations

import importlib.util
from urllib.parse import urlsplit

KEYS = ("mlflow", "experiment")


def parse(raw: dict, name: str, fail) -> dict | None:
    """The validated section, or None without one; `fail(key, message)` raises the spec's one-line error."""
    section = raw.get("tracking")
    if section is None:
        return None
    if not isinstance(section, dict):
        fail("tracking", f"got {section!r}; must be a mapping with keys {', '.join(KEYS)}")
    unknown = sorted(set(section) - set(KEYS))
    if unknown:
        fail(f"tracking.{unknown[0]}", f"unknown key; allowed: {', '.join(KEYS)}")
    uri = section.get("mlflow")
    if not isinstance(uri, str) or not uri:
        fail("tracking.mlflow", f"got {uri!r}; must be an MLflow tracking URI such as sqlite:///mlflow.db")
    if urlsplit(uri).password:
        fail(
            "tracking.mlflow",
            "the URI holds a password, which spec.yaml would keep; set MLFLOW_TRACKING_PASSWORD (or "
            "MLFLOW_TRACKING_TOKEN) in the environment instead",
        )
    if importlib.util.find_spec("mlflow") is None:
        fail("tracking.mlflow", "needs MLflow's client: pip install mlflow-skinny")
    experiment = section.get("experiment", name)
    if not isinstance(experiment, str) or not experiment:
        fail("tracking.experiment", f"got {experiment!r}; must be a non-empty name")
    return {"mlflow": uri, "experiment": experiment}
