"""Access reviews: one sync (or two) read into a self-contained HTML report and CSV evidence files.

``iac review FILE [--previous FILE] -o report.html [--csv DIR]``. What is privileged and what makes an
account inactive come from the integration's own :class:`~iac.runtime.ReviewFacts` (declared beside its
resource types and carried by its registry entry), never from this package.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from iac.errors import PluginError
from iac.review._csv import CSV_FILES, write_csv
from iac.review._html import render_html, report_payload, write_html
from iac.review._model import DIRECT, Review, build_review
from iac.review._source import Snapshot, SyncInfo, SyncSource, open_source
from iac.runtime import GENERIC_REVIEW, ReviewFacts
from iac.runtime.errors import ArtifactError

__all__ = [
    "CSV_FILES",
    "DIRECT",
    "Review",
    "ReviewOutputs",
    "Snapshot",
    "SyncInfo",
    "SyncSource",
    "build_review",
    "facts_for",
    "open_source",
    "render_html",
    "report_payload",
    "review_file",
    "write_csv",
    "write_html",
]


def facts_for(integration: str | None) -> ReviewFacts:
    """The integration's declared review facts, or the generic ones for a connector that declares none."""
    from iac.plugins import plugins, resolve

    plugin = plugins().get(integration or "")
    if plugin is None or plugin.review is None:
        return GENERIC_REVIEW
    facts = resolve(plugin.review)
    if not isinstance(facts, ReviewFacts):
        raise PluginError(f"integration {plugin.name!r}: review must name an iac.runtime.ReviewFacts")
    return facts


@dataclass(frozen=True)
class ReviewOutputs:
    review: Review
    html: Path
    csv: list[Path]


def review_file(path: Path, output: Path, *, previous: Path | None = None, csv_dir: Path | None = None,
                integration: str | None = None, now: dt.datetime | None = None) -> ReviewOutputs:
    """Review the latest complete sync in ``path`` against ``previous`` (another file), or else against the
    previous complete sync ``path`` itself holds, when there is one."""
    if integration is not None:
        from iac.plugins import plugins

        if integration not in plugins():
            raise PluginError(f"--integration: unknown integration {integration!r}; known: "
                              f"{', '.join(sorted(plugins()))}")
    with open_source(path) as source:
        syncs = source.syncs()
        if not syncs:
            raise ArtifactError(f"{path}: holds no complete sync")
        name = integration or source.integration
        facts = facts_for(name)
        current = source.snapshot(syncs[0])
        if previous is not None:
            with open_source(previous) as older:
                earlier = older.syncs()
                if not earlier:
                    raise ArtifactError(f"{previous}: holds no complete sync")
                if older.integration and source.integration and older.integration != source.integration:
                    raise ArtifactError(f"{previous}: holds syncs of '{older.integration}', not "
                                        f"'{source.integration}'")
                review = build_review(source, current, facts, previous=older.snapshot(earlier[0]),
                                      integration=name, now=now)
        else:
            review = build_review(source, current, facts, previous=source.snapshot(syncs[1]) if len(syncs) > 1
                                  else None, integration=name, now=now)
    html = write_html(review, output)
    written = write_csv(review, csv_dir) if csv_dir is not None else []
    return ReviewOutputs(review, html, written)
