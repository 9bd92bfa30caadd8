"""The departmental stores the gateway proxies, opened once per process from the data dir manifest."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from gateway.datadir import DataDir
from gateway.stores.engines import store_engine


@dataclass
class StoreRegistry:
    engines: dict[str, Engine] = field(default_factory=dict)
    problem: str | None = None  # why there are no stores, for /readyz

    @classmethod
    def open(cls, data_dir: DataDir) -> StoreRegistry:
        try:
            urls = data_dir.store_urls()
        except FileNotFoundError as exc:
            return cls(problem=str(exc))
        return cls(engines={name: store_engine(url) for name, url in urls.items()})

    def ping(self) -> dict[str, str]:
        """'ok' or 'unavailable' per store; never raises, never says why (no DSNs in replies)."""
        status = {}
        for name, engine in self.engines.items():
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                status[name] = "ok"
            except SQLAlchemyError:
                status[name] = "unavailable"
        return status

    def dispose(self) -> None:
        for engine in self.engines.values():
            engine.dispose()
