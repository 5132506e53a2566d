"""Reports on a list of results: the summary and the JSON document (DESIGN §5)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from .masking import mask_url
from .models import Result, Status

REPORT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Summary:
    """Counts over a run."""

    total: int
    passed: int
    failed: int
    errors: int
    cancelled: int
    skipped: int
    warnings: int

    @property
    def ok(self) -> bool:
        """True when nothing failed and nothing errored."""
        return self.failed == 0 and self.errors == 0

    @classmethod
    def of(cls, results: Sequence[Result]) -> Summary:
        """Count the results by status, and their warning findings."""
        count = {status: 0 for status in Status}
        for result in results:
            count[result.status] += 1
        return cls(total=len(results), passed=count[Status.PASSED], failed=count[Status.FAILED],
                   errors=count[Status.ERROR], cancelled=count[Status.CANCELLED],
                   skipped=count[Status.SKIPPED],
                   warnings=sum(len(result.warnings) for result in results))


def result_json(result: Result) -> dict[str, Any]:
    """One result as the JSON report shows it, with event keys masked."""
    request = None
    if result.request is not None:
        request = result.request.to_json()
        request["url"] = mask_url(request["url"])
    return {
        "transform": result.transform,
        "sample": result.source,
        "event_type": result.event_type,
        "status": result.status.value,
        "request": request,
        "findings": [f.to_json() for f in result.findings],
        "console": [{"level": line.level, "text": line.text} for line in result.console],
        "duration_ms": round(result.duration_ms, 3),
    }


def report_json(results: Sequence[Result]) -> dict[str, Any]:
    """The whole JSON document for a run."""
    summary = Summary.of(results)
    counts = dataclasses.asdict(summary)
    return {"version": REPORT_VERSION, "ok": summary.ok, "summary": counts,
            "results": [result_json(result) for result in results]}
