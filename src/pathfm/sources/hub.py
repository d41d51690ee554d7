"""Model weights from a hub (huggingface_hub) or from a local path.

Gated models (H-Optimus-0, UNI, CONCH, …) need a token of an account that
accepted their terms: it is read from ``HF_TOKEN`` and handed to huggingface_hub,
never logged. Every failure becomes ``WeightsUnavailable`` naming the model, the
hub id and what to set, because the raw hub errors do not say which config entry
caused them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pathfm.sources.http import token_from_env

log = logging.getLogger(__name__)


class WeightsUnavailable(RuntimeError):
    """The weights of a model could not be found locally nor fetched from its hub."""


def _fix_hint(model_name: str, hub_id: str | None, token_env: str) -> str:
    where = f"https://huggingface.co/{hub_id}" if hub_id else "the model's hub page"
    return (f"set {token_env} to a token of an account that accepted the terms at {where}, "
            f"or point local_path of model {model_name!r} (config/models.yaml) to a downloaded copy")


def fetch_weights(
    model_name: str,
    hub_id: str | None,
    filename: str | None = None,
    local_path: str | Path | None = None,
    *,
    revision: str | None = None,
    out_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    endpoint: str | None = None,
    token_env: str = "HF_TOKEN",
    offline: bool | None = None,
    repo_type: str | None = None,
    allow_patterns: list[str] | None = None,
) -> Path:
    """Path to ``model_name``'s weights: ``local_path`` if given, else fetched from ``hub_id``.

    With ``filename`` one file is fetched (``hf_hub_download``); without it, the
    whole repository (``snapshot_download``). ``out_dir`` puts the files there
    instead of the hub cache. ``endpoint`` defaults to ``HF_ENDPOINT``.
    """
    if local_path:
        path = Path(local_path).expanduser()
        if filename and path.is_dir():
            path = path / filename
        if not path.exists():
            raise WeightsUnavailable(
                f"model {model_name!r}: local_path {path} does not exist; fix local_path in "
                f"config/models.yaml or remove it to fetch {hub_id or 'the weights'} from the hub")
        log.info("model %s: using local weights %s", model_name, path)
        return path
    if not hub_id:
        raise WeightsUnavailable(f"model {model_name!r}: neither hub_id nor local_path is set in config/models.yaml")

    import huggingface_hub  # imported here: only this path needs it

    token = token_from_env(token_env)
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    if offline is None:
        offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes")
    common = {"repo_id": hub_id, "revision": revision, "cache_dir": cache_dir, "token": token or False,
              "local_files_only": offline}
    if endpoint:
        common["endpoint"] = endpoint
    if out_dir:
        common["local_dir"] = str(out_dir)
    if repo_type:
        common["repo_type"] = repo_type
    try:
        if filename:
            got = huggingface_hub.hf_hub_download(filename=filename, **common)
        else:
            got = huggingface_hub.snapshot_download(allow_patterns=allow_patterns, **common)
    except Exception as err:
        reason = _reason(err, token_env, token is not None, offline)
        raise WeightsUnavailable(
            f"model {model_name!r}: cannot fetch {filename or 'the repository'} from hub id {hub_id!r} "
            f"({reason}); {_fix_hint(model_name, hub_id, token_env)}") from err
    log.info("model %s: weights at %s", model_name, got)
    return Path(got)


def _reason(err: Exception, token_env: str, has_token: bool, offline: bool) -> str:
    from huggingface_hub import errors

    if offline:
        return "offline mode (HF_HUB_OFFLINE) and not in the local cache"
    if isinstance(err, errors.GatedRepoError):
        return f"gated repository, {'the token in ' + token_env + ' has no access' if has_token else token_env + ' is not set'}"
    if isinstance(err, errors.RepositoryNotFoundError):
        return "repository not found or private" + ("" if has_token else f", and {token_env} is not set")
    if isinstance(err, errors.EntryNotFoundError):
        return "file not in the repository"
    if isinstance(err, errors.LocalEntryNotFoundError):
        return "hub unreachable and not in the local cache"
    status = getattr(getattr(err, "response", None), "status_code", None)
    return f"HTTP {status}" if status else type(err).__name__
