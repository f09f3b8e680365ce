"""A version's stored predictions, newest first, a page at a time (keyset paging by id, so a late page costs what
the first does). Ids are shown as stored: the keyed hash of the client's id, never the id itself."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from monitoring.ingestion.selectors import prediction_page, predictions_received
from monitoring.ingestion.services import record_special_category_access
from registry.selectors import current_version, model_named, versions_newest_first
from web.access import READERS, page_roles

PAGE_SIZE = 50


@page_roles(*READERS)
def predictions(request: HttpRequest, name: str) -> HttpResponse:
    model = model_named(name)
    if model is None:
        return render(
            request, "web/predictions.html", {"not_found": f"There is no model named “{name[:100]}”."}, status=404
        )
    versions = versions_newest_first(model)
    wanted = request.GET.get("version", "").strip()
    version = next((item for item in versions if item.version == wanted), None) if wanted else current_version(model)
    context = {"model": model, "versions": versions, "version": version}
    if wanted and version is None:
        context["not_found"] = f"{model.name} has no version “{wanted[:50]}”."
        return render(request, "web/predictions.html", context, status=404)
    before_text = request.GET.get("before", "").strip()
    if before_text and not before_text.isdigit():
        context["error"] = f"“{before_text[:20]}” is not a page position; showing the newest predictions."
        before_text = ""
    if version is not None:
        rows = prediction_page(version, before_id=int(before_text) if before_text else None, size=PAGE_SIZE)
        if rows:
            shown = min(len(rows), PAGE_SIZE)
            record_special_category_access(
                actor=request.user, model_version=version, where="predictions page", rows=shown
            )
        context.update(
            {
                "rows": rows[:PAGE_SIZE],
                "older": rows[PAGE_SIZE - 1].pk if len(rows) > PAGE_SIZE else None,
                "is_first_page": not before_text,
                "total": predictions_received(version),
                "attributes": sorted({name for row in rows for name in (row.attributes or {})}),
            }
        )
    return render(request, "web/predictions.html", context, status=400 if "error" in context else 200)
