"""Assessment kits: list, get, create, update, delete (archive) and restore, as the kits section."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.deps import ScopeDep, WriteScopeDep
from api.schemas import object_id_or_404
from hiremate import kits
from hiremate.models import AssessmentKit, KitCreate, KitPublic, KitUpdate
from hiremate.scope import Scope

router = APIRouter(prefix="/kits", tags=["kits"])


def _kit_or_404(scope: Scope, kit_id: str) -> AssessmentKit:
    kit = kits.get_kit(scope, object_id_or_404(kit_id, "kit"))
    if kit is None:
        raise HTTPException(404, f"No kit {kit_id!r} in your organisation.")
    return kit


@router.get("", summary="List kits by name")
def list_kits(scope: ScopeDep, archived: bool = False) -> list[KitPublic]:
    return [KitPublic.of(kit) for kit in kits.list_kits(scope, archived=archived)]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a kit")
def create_kit(scope: WriteScopeDep, body: KitCreate) -> KitPublic:
    return KitPublic.of(kits.create_kit(scope, body))


@router.get("/{kit_id}", summary="Get a kit")
def get_kit(scope: ScopeDep, kit_id: str) -> KitPublic:
    return KitPublic.of(_kit_or_404(scope, kit_id))


@router.patch("/{kit_id}", summary="Change a kit (only the fields given)")
def update_kit(scope: WriteScopeDep, kit_id: str, body: KitUpdate) -> KitPublic:
    current = _kit_or_404(scope, kit_id)
    return KitPublic.of(kits.update_kit(scope, current.id, body.model_dump(exclude_unset=True)))


@router.delete("/{kit_id}", summary="Delete (archive) a kit; attempts issued with it keep naming it")
def delete_kit(scope: WriteScopeDep, kit_id: str) -> KitPublic:
    return KitPublic.of(kits.archive_kit(scope, _kit_or_404(scope, kit_id).id))


@router.post("/{kit_id}/restore", summary="Restore an archived kit")
def restore_kit(scope: WriteScopeDep, kit_id: str) -> KitPublic:
    return KitPublic.of(kits.restore_kit(scope, _kit_or_404(scope, kit_id).id))
