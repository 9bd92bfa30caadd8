"""Demo users (`policies/demo-users.yaml`): who the dev issuer signs tokens for."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

USERS_FILE = "demo-users.yaml"


class DemoUser(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str
    roles: tuple[str, ...]
    department: str | None = None
    team: str | None = None
    worker_id: str | None = None  # the user's id in their department's system (caseload lookups)


class DemoUsers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: list[DemoUser]

    def get(self, user_id: str) -> DemoUser:
        for user in self.users:
            if user.id == user_id:
                return user
        known = ", ".join(u.id for u in self.users)
        raise KeyError(f"no demo user {user_id!r}; known: {known}")


def load_demo_users(policies_dir: Path) -> DemoUsers:
    return DemoUsers.model_validate(yaml.safe_load((Path(policies_dir) / USERS_FILE).read_text()))
