from cases.models import Case, CaseEvent
from cases.states import FINAL
from portal.lib.errors import Refused


def lock(case: Case) -> Case:
    """Re-read the case under a row lock (a no-op on SQLite, which serialises writers anyway)."""
    return Case.objects.select_for_update().get(pk=case.pk)


def refuse_if_final(case: Case, doing: str) -> None:
    if case.status in FINAL:
        raise Refused(f"This case is {case.get_status_display().lower()}; {doing}.")


def timeline(case: Case, actor, kind: str, **fields) -> CaseEvent:
    return CaseEvent.objects.create(case=case, actor=actor, kind=kind, **fields)
