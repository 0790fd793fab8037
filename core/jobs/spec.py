"""What a front end asks for. The id is chosen by the submitter, so a retried submit is a no-op."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from uuid_utils import uuid7

from core.diffusion.params import PortraitParams


def new_job_id() -> str:
    return str(uuid7())


class PortraitSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str = Field(default_factory=new_job_id)
    references: Annotated[list[str], Field(min_length=1, max_length=4)]  # media keys
    idea: Annotated[str, Field(max_length=60)] | None = None  # written into a prompt by the worker
    style: str = "none"
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    params: PortraitParams | None = None  # explicit parameters instead of an idea
    # With an idea: changes to the worker's default parameters, e.g. {"identity": {"steps": 8}}
    overrides: dict[str, dict[str, Any]] | None = None
    base: str | None = None  # media key of a picture to refine: skips stage 1
    origin: Literal["web", "bot", "workbench"] = "web"
    session_id: str | None = None  # the guest session that pays a token
    user_id: str | None = None  # or the account that does
