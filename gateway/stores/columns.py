"""Column shapes the departmental schemas share: string ids, keys and the staff table every service
keeps for the contact it gives (Family Context: name, role, team, number)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, MetaData, String, Table


def string(name: str, length: int = 48, **kw: Any) -> Column:
    return Column(name, String(length), **kw)


def key(name: str) -> Column:
    return Column(name, String(48), primary_key=True)


def staff_table(md: MetaData, name: str, prefix: str, id_column: str) -> Table:
    """Named workers a service gives as its contact."""
    return Table(
        name,
        md,
        key(id_column),
        string(f"{prefix}_name", 200),
        string(f"{prefix}_role", 100),
        string(f"{prefix}_team", 100),
        string(f"{prefix}_phone", 20),
    )
