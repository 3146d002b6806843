"""search.storage: an Optuna storage URL (sqlite:///study.db, postgresql://host/db), so that the Optuna study
outlives the sweep and `optuna-dashboard <URL>` shows it live. The study is named after the sweep.

A new sweep refuses a study that already exists under its name (its trials would steer the sampler): --resume
continues it, --overwrite deletes it first, --name starts another. A URL with a password is refused: spec.yaml
saves the spec as written (use ~/.pgpass or the database's own credential files instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lora_sweep.spec.errors import SpecError

if TYPE_CHECKING:  # for the annotation only: spec.py imports this module
    from lora_sweep.spec.spec import SweepSpec

KEY = "search.storage"


def check_url(url) -> str | None:
    """The spec's value, validated before anything starts (spec.parse_search)."""
    if url is None:
        return None
    if not isinstance(url, str) or "://" not in url:
        raise SpecError(f"{KEY}: got {url!r}; must be an Optuna storage URL such as sqlite:///optuna.db")
    if urlsplit(url).password:
        raise SpecError(
            f"{KEY}: the URL holds a password, which spec.yaml would keep; leave it out of the URL "
            "(the database's credential file, e.g. ~/.pgpass, supplies it)"
        )
    return url


def storage(url: str):
    import optuna

    try:
        return optuna.storages.RDBStorage(url)
    except Exception as err:  # noqa: BLE001 - SQLAlchemy and Optuna raise many kinds; one line names the URL
        raise SpecError(f"{KEY}: cannot open {url}: {(str(err).splitlines() or [''])[0][:200]}") from err


def check_fresh(spec: SweepSpec, resume: bool, overwrite: bool) -> None:
    """Before a new sweep: the study named after it must not exist, unless --overwrite (then it is deleted)."""
    if spec.algorithm != "optuna" or not spec.optuna_storage or resume:
        return
    import optuna

    store = storage(spec.optuna_storage)
    names = {s.study_name for s in optuna.study.get_all_study_summaries(store, include_best_trial=False)}
    if spec.name not in names:
        return
    if not overwrite:
        raise SpecError(
            f"{KEY}: an Optuna study named '{spec.name}' exists in {spec.optuna_storage}; use --resume to continue "
            "it, --overwrite to replace it, or --name NAME for a new sweep"
        )
    optuna.delete_study(study_name=spec.name, storage=store)
