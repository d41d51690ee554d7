"""A small client for the GDC search endpoints (``files``, ``cases``, ``ssm_occurrences``,
``cnv_occurrences``): filters in the GDC's JSON form, POSTed, paginated with ``from``/``size``.

Filters follow the GDC API: ``{"op": "and", "content": [{"op": "in", "content":
{"field": ..., "value": [...]}}]}``; a page is ``data.hits`` with
``data.pagination.total``. Pagination is a bounded loop (pages = ceil(total / size)),
sorted on a unique field so pages neither overlap nor skip while the index is stable.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import requests

from pathfm.sources.http import (
    DEFAULT_POLICY,
    RemoteError,
    RetryPolicy,
    raise_for_retry,
    with_retries,
)

log = logging.getLogger(__name__)

GDC_API = "https://api.gdc.cancer.gov"

# experimental_strategy of TCGA H&E slides -> how the tissue was preserved.
SLIDE_TYPES = {"Diagnostic Slide": "FFPE", "Tissue Slide": "FF"}

SLIDE_FIELDS = (
    "file_id",
    "file_name",
    "md5sum",
    "file_size",
    "data_format",
    "experimental_strategy",
    "cases.submitter_id",
    "cases.project.project_id",
    "cases.samples.submitter_id",
)


def in_filter(field: str, values: Sequence[Any]) -> dict:
    return {"op": "in", "content": {"field": field, "value": list(values)}}


def and_filter(*parts: dict) -> dict:
    return {"op": "and", "content": list(parts)}


def slide_filters(
    projects: Sequence[str],
    strategies: Sequence[str] = ("Diagnostic Slide",),
    data_format: str = "SVS",
    access: str = "open",
) -> dict:
    """Filters selecting the H&E slide images of ``projects``."""
    unknown = [s for s in strategies if s not in SLIDE_TYPES]
    if unknown:
        raise ValueError(f"unknown experimental_strategy {unknown}; expected some of {list(SLIDE_TYPES)}")
    if not projects:
        raise ValueError("slide_filters: at least one project id (e.g. TCGA-BRCA) is required")
    return and_filter(
        in_filter("cases.project.project_id", projects),
        in_filter("files.data_type", ["Slide Image"]),
        in_filter("files.experimental_strategy", list(strategies)),
        in_filter("files.data_format", [data_format]),
        in_filter("files.access", [access]),
    )


class GDCClient:
    def __init__(
        self,
        base_url: str = GDC_API,
        *,
        token: str | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        session: requests.Session | None = None,
        page_size: int = 500,
        max_pages: int = 10_000,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.policy = policy
        self.session = session or requests.Session()
        self.page_size = page_size
        self.max_pages = max_pages
        self._sleep = sleep

    def __repr__(self) -> str:  # never show the token
        return f"GDCClient({self.base_url!r}, token={'set' if self._token else 'unset'})"

    def data_url(self, file_id: str) -> str:
        return f"{self.base_url}/data/{file_id}"

    def page(self, endpoint: str, filters: dict | None, fields: Sequence[str], start: int,
             size: int, sort: str | None = None) -> dict:
        """One page of ``endpoint``: the parsed ``data`` object."""
        body: dict[str, Any] = {"fields": ",".join(fields), "format": "JSON", "size": size, "from": start}
        if filters:
            body["filters"] = filters
        if sort:
            body["sort"] = sort
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["X-Auth-Token"] = self._token
        url = f"{self.base_url}/{endpoint}"

        def call(_attempt: int) -> dict:
            response = self.session.post(url, json=body, headers=headers, timeout=self.policy.timeout)
            with response:
                raise_for_retry(response, f"POST {url} (from={start})")
                doc = response.json()
            if "data" not in doc or "hits" not in doc["data"]:
                raise RemoteError(f"POST {url}: unexpected answer without data.hits: {str(doc)[:200]}")
            for name, text in (doc.get("warnings") or {}).items():
                log.warning("GDC %s warning %s: %s", endpoint, name, text)
            return doc["data"]

        return with_retries(call, self.policy, f"GDC {endpoint}", sleep=self._sleep)

    def query(self, endpoint: str, filters: dict | None, fields: Sequence[str],
              sort: str | None = None, page_size: int | None = None) -> Iterator[dict]:
        """All hits of a query, page after page."""
        size = page_size or self.page_size
        first = self.page(endpoint, filters, fields, 0, size, sort)
        total = int(first["pagination"]["total"])
        pages = math.ceil(total / size) if size else 0
        if pages > self.max_pages:
            raise RemoteError(f"GDC {endpoint}: {total} hits is more than {self.max_pages} pages of {size}")
        log.info("GDC %s: %d hits in %d page(s)", endpoint, total, pages)
        yield from first["hits"]
        seen = len(first["hits"])
        for p in range(1, pages):
            data = self.page(endpoint, filters, fields, p * size, size, sort)
            if not data["hits"]:
                break
            seen += len(data["hits"])
            yield from data["hits"]
        if seen != total:
            raise RemoteError(f"GDC {endpoint}: got {seen} hits, the server announced {total}; "
                              "the index changed during paging — run again")

    def slide_files(self, projects: Sequence[str], strategies: Sequence[str] = ("Diagnostic Slide",),
                    data_format: str = "SVS") -> list[dict]:
        """Slide-image file records of ``projects`` (see SLIDE_FIELDS)."""
        filters = slide_filters(projects, strategies, data_format)
        return list(self.query("files", filters, SLIDE_FIELDS, sort="file_id:asc"))
