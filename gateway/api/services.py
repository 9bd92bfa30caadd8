"""The gateway's services, built once in `create_app` into one typed container and reached by routes
through `Annotated` dependencies (as the FastAPI full-stack template's `deps.py` does), so that a
misspelt service is a type error rather than an attribute added at run time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, cast

import anyio
from fastapi import Depends, Request

from audit.open import open_audit
from audit.store import AuditStore
from gateway.analysis.store import AnalysisStore
from gateway.api.rate_limits import Limiter, load_limits, lower_priority
from gateway.caseworker.service import CaseworkService
from gateway.catalogue import Catalogue, load_catalogue
from gateway.config import Settings
from gateway.extracts.jobs import ExtractJobs
from gateway.extracts.service import ExtractService
from gateway.extracts.store import ExtractStore
from gateway.identity import dev_issuer
from gateway.identity.claims import load_claim_mapping
from gateway.identity.revocation import Revocations
from gateway.identity.tokens import Verifier, load_key_set
from gateway.index.store import IndexStore
from gateway.policy.decision import PolicyEngine
from gateway.policy.drafts import DraftStore, lifecycle_gate
from gateway.privacy.budget import Ledger
from gateway.privacy.keys import choose_provider
from gateway.privacy.ner_model import resolve_model
from gateway.stores.registry import StoreRegistry
from gateway.telemetry.metrics import GatewayMetrics
from gateway.telemetry.tracing import trace_sql


@dataclass
class Services:
    settings: Settings
    catalogue: Catalogue
    stores: StoreRegistry
    verifier: Verifier
    index: IndexStore
    revocations: Revocations
    budgets: Ledger
    analysis: AnalysisStore
    policy: PolicyEngine
    audit: AuditStore
    limiter: Limiter
    metrics: GatewayMetrics
    casework: CaseworkService
    extract_store: ExtractStore
    extracts: ExtractService
    extract_jobs: ExtractJobs
    drafts: DraftStore
    _table_threads: anyio.CapacityLimiter | None = None
    _table_pool: ThreadPoolExecutor | None = None

    def table_threads(self) -> anyio.CapacityLimiter:
        """The analyst tables' turns (`tables.threads` in policies/limits.yaml). Made on first use,
        inside the event loop, as anyio requires."""
        if self._table_threads is None:
            self._table_threads = anyio.CapacityLimiter(self.limiter.limits.tables.threads)
        return self._table_threads

    def table_pool(self) -> ThreadPoolExecutor:
        """The threads tables run on: their own, never the ones requests use, each at `tables.nice`
        steps lower CPU priority (see `lower_priority`)."""
        if self._table_pool is None:
            tables = self.limiter.limits.tables
            self._table_pool = ThreadPoolExecutor(
                max_workers=tables.threads,
                thread_name_prefix="tables",
                initializer=lower_priority,
                initargs=(tables.nice,),
            )
        return self._table_pool

    def close(self) -> None:
        if self._table_pool is not None:
            self._table_pool.shutdown(wait=False, cancel_futures=True)
        self.extract_jobs.shutdown()
        self.casework.close()
        self.extract_store.dispose()
        self.audit.close()  # seals the chain with a final signed checkpoint
        self.index.dispose()
        self.analysis.dispose()
        self.stores.dispose()


def _verifier(settings: Settings) -> Verifier:
    if settings.uses_dev_issuer:
        keys = dev_issuer.key_set(settings.data_dir)
    else:
        keys = load_key_set(settings.jwks_file, settings.jwks_url)
    refresh = (
        (lambda: load_key_set(None, settings.jwks_url))
        if settings.jwks_url and not settings.jwks_file
        else None
    )
    mapping = None if settings.uses_dev_issuer else load_claim_mapping(settings.claim_mapping_file())
    return Verifier(
        issuer=settings.issuer, audience=settings.audience, keys=keys, refresh=refresh, mapping=mapping
    )


def build_services(settings: Settings) -> Services:
    # Loaded at start-up so that a broken policy file stops the service instead of serving half a policy.
    catalogue = load_catalogue(settings.policies_dir)
    policy = PolicyEngine(settings.policies_dir, check_interval=settings.policy_check_interval)
    if policy.load_error:  # refuse to start on a broken policy rather than deny silently
        raise RuntimeError(f"policy could not be loaded: {policy.load_error}")
    stores = StoreRegistry.open(settings.datadir())
    index = IndexStore(settings.gateway_db_url())
    audit = open_audit(settings)
    drafts = DraftStore(index.engine)
    policy.gate = lifecycle_gate(drafts, audit.engine)
    policy.invalidate()
    metrics = GatewayMetrics()
    policy.on_decision = metrics.decision
    audit.on_commit = metrics.audit_committed
    metrics.watch_queue(audit.queue_depth)
    extract_store = ExtractStore(settings.gateway_db_url())
    extracts = ExtractService(
        settings.datadir(),
        extract_store,
        policy,
        catalogue,
        choose_provider(
            settings.data_dir,
            key_file=settings.pseudonym_key_file,
            plugin=settings.pseudonym_key_provider,
            demo=settings.mode == "demo",
        ),
        audit,
        notes_model=resolve_model(settings.scrub_spacy_model) if settings.scrub_spacy_model else None,
    )
    analysis = AnalysisStore(settings.analysis_db_url())
    if settings.trace_sql:
        for engine in (*stores.engines.values(), index.engine, extract_store.engine):
            trace_sql(engine)
        analysis.on_engine = trace_sql
    return Services(
        settings=settings,
        catalogue=catalogue,
        stores=stores,
        verifier=_verifier(settings),
        index=index,
        revocations=Revocations(index.engine),
        budgets=Ledger(index.engine),
        analysis=analysis,
        policy=policy,
        audit=audit,
        limiter=Limiter(load_limits(settings.policies_dir, settings.limits_file)),
        metrics=metrics,
        casework=CaseworkService(
            settings.datadir(),
            stores.engines,
            index,
            policy,
            settings.triage_hours,
            settings.stale_after_hours,
        ),
        extract_store=extract_store,
        extracts=extracts,
        extract_jobs=ExtractJobs(extracts, settings.extract_workers),
        drafts=drafts,
    )


def services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


async def _services(request: Request) -> Services:
    """The dependency form of `services`: async, because FastAPI runs a plain function dependency in a
    worker thread, and a hop per request to read an attribute is most of what it would cost."""
    return services(request)


Gateway = Annotated[Services, Depends(_services)]
