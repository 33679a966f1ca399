"""The duplicate review queue: pairs side by side, decisions, merges and their undo.

Every page and action here needs the ``review`` grant (a 403 page and a DENIED access-log line
otherwise). The queue shows decrypted values of both records, so each page view writes an
access-log line naming the records shown. Decisions post a form (CSRF); with htmx the decided pair
is replaced in place, without JavaScript the queue reloads with a message.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import prefetch_related_objects
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from mobility.core.models import Operation

from . import access, review, selectors
from .forms import PairDecisionForm
from .models import AccessLog, Capability, MatchPair, Merge, Purpose
from .views import _guarded

PAIRS_PER_PAGE = 10


def _htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _back(request, operation: Operation):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("registration:review", slug=operation.slug)


@_guarded((Capability.REVIEW,))
@require_GET
def review_queue(request, operation: Operation):
    """Pending pairs, most likely duplicates first, each side by side with the model's verdicts."""
    queue = selectors.review_queue(operation=operation)
    page = Paginator(queue, PAIRS_PER_PAGE).get_page(request.GET.get("page"))
    pairs = list(page.object_list)
    prefetch_related_objects([person for p in pairs for person in (p.left, p.right)], "documents")
    items = [{"pair": pair, "rows": selectors.pair_rows(pair)} for pair in pairs]
    shown = [i for p in pairs for i in (p.left_id, p.right_id)]
    if shown:
        access.log_access(
            user=request.user,
            operation=operation,
            action=AccessLog.Action.VIEW,
            purpose=Purpose.DEDUPLICATION,
            object_type="registration.individual",
            object_ids=shown,
            detail={"pairs": [p.pk for p in pairs]},
        )
    return render(
        request,
        "registration/review_queue.html",
        {
            "operation": operation,
            "page": page,
            "items": items,
            "merges": list(selectors.recent_merges(operation=operation)),
            "decided": MatchPair.objects.filter(
                operation=operation,
                status__in=[
                    MatchPair.Status.DUPLICATE,
                    MatchPair.Status.NOT_DUPLICATE,
                    MatchPair.Status.MERGED,
                ],
            ).count(),  # by a reviewer: pairs matched automatically are not counted
        },
    )


@_guarded((Capability.REVIEW,))
@require_POST
def pair_decide(request, operation: Operation, pair_id: int):
    """Duplicate, not duplicate, or merge into the left or the right record."""
    pair = get_object_or_404(
        MatchPair.objects.select_related("left__household", "right__household"),
        operation=operation,
        pk=pair_id,
    )
    form = PairDecisionForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Choose a decision."))
    decision = form.cleaned_data["decision"]
    merge_record = None
    error = None
    try:
        if decision in ("merge_left", "merge_right"):
            survivor, merged = (
                (pair.left, pair.right) if decision == "merge_left" else (pair.right, pair.left)
            )
            merge_record = review.merge(survivor=survivor, merged=merged, by=request.user, pair=pair)
        else:
            review.pair_decide(pair=pair, decision=decision, by=request.user)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    pair.refresh_from_db()
    if merge_record is not None:
        text = _("%(merged)s was merged into %(survivor)s.") % {
            "merged": merge_record.merged.reference,
            "survivor": merge_record.survivor.reference,
        }
    elif error is None:
        text = _("Pair %(left)s · %(right)s marked: %(decision)s.") % {
            "left": pair.left.reference,
            "right": pair.right.reference,
            "decision": pair.get_status_display().lower(),
        }
    else:
        text = error
    if _htmx(request):
        return render(
            request,
            "registration/review_decided.html",
            {
                "operation": operation,
                "pair": pair,
                "merge": merge_record,
                "text": text,
                "error": error,
                "merges": list(selectors.recent_merges(operation=operation)),
            },
        )
    (messages.error if error else messages.success)(request, text)
    return _back(request, operation)


@_guarded((Capability.REVIEW,))
@require_POST
def merge_undo(request, operation: Operation, merge_id: int):
    """Undo a merge: both records as they were, the pair back in the queue if it came from there."""
    record = get_object_or_404(
        Merge.objects.select_related("survivor", "merged"), operation=operation, pk=merge_id
    )
    try:
        review.merge_undo(merge=record, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("The merge of %(merged)s into %(survivor)s was undone.")
            % {"merged": record.merged.reference, "survivor": record.survivor.reference},
        )
    return _back(request, operation)


def review_url(operation: Operation) -> str:
    return reverse("registration:review", kwargs={"slug": operation.slug})


urlpatterns = [
    path("<slug:slug>/review/", review_queue, name="review"),
    path("<slug:slug>/review/<int:pair_id>/decide/", pair_decide, name="pair_decide"),
    path("<slug:slug>/merges/<int:merge_id>/undo/", merge_undo, name="merge_undo"),
]
