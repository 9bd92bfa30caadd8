"""`gateway seed`: generate the borough, fill every registered department's store, write the hidden truth.

Pipeline: world (residents, households, addresses) -> one StoreBuilder per department, filled by its
`synthesise` (records with identity noise) -> bulk load into SQLite files or PostgreSQL databases ->
truth files -> manifest.
The same (people, seed, as_of, noise config) gives byte-identical SQLite stores and truth files.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from gateway.datadir import DataDir, keep_files_private, safe_url, without_password
from gateway.departments import DEPARTMENTS, store_metadata
from gateway.stores.bulk import load_store
from gateway.stores.engines import store_engine
from gateway.stores.postgres import create_database, normalise
from gateway.synth.departments.common import StoreBuilder, seeded
from gateway.synth.geography import WARDS, ward_code
from gateway.synth.noise import NoiseConfig, load_noise_config
from gateway.synth.population import ROLE_NAMES, World, build_world

DEFAULT_PEOPLE = 20_000
DEFAULT_SEED = 20260331
DEFAULT_AS_OF = dt.date(2026, 3, 31)  # the end of a reporting year, like the CIN census


@dataclass
class SeedResult:
    people: int
    households: int
    records: dict[str, int]  # store -> person records
    rows: dict[str, int]  # store -> all rows
    urls: dict[str, str]


class _Quiet:
    """A stand-in for rich's Progress when no terminal output is wanted (tests, libraries)."""

    def add_task(self, *_a: object, **_k: object) -> TaskID:
        return TaskID(0)

    def update(self, *_a: object, **_k: object) -> None:
        return None

    def advance(self, *_a: object, **_k: object) -> None:
        return None


def _advance(progress: Progress | _Quiet, task: TaskID, n: int) -> None:
    progress.advance(task, n)


@contextmanager
def _progress(show: bool) -> Iterator[Progress | _Quiet]:
    if not show:
        yield _Quiet()
        return
    with Progress(
        TextColumn("[bold]{task.description:<42}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    ) as progress:
        yield progress


def store_url_for(store: str, dsn_prefix: str | None) -> str:
    if dsn_prefix:
        url = normalise(dsn_prefix + store)
        return url.render_as_string(hide_password=False)
    return f"sqlite:///stores/{store}.db"


def seed(
    data_dir: Path,
    people: int = DEFAULT_PEOPLE,
    seed_value: int = DEFAULT_SEED,
    dsn_prefix: str | None = None,
    noise: NoiseConfig | None = None,
    as_of: dt.date = DEFAULT_AS_OF,
    show_progress: bool = False,
) -> SeedResult:
    if people < 10:
        raise ValueError("a borough needs at least 10 residents")
    keep_files_private()
    dd = DataDir(Path(data_dir))
    noise = noise or load_noise_config()
    dd.root.mkdir(parents=True, exist_ok=True)
    with _progress(show_progress) as progress:
        task = progress.add_task("Generating residents and households", total=1)
        world = build_world(people, seed_value, as_of)
        ages = world.ages()
        progress.update(task, completed=1)

        builders: dict[str, StoreBuilder] = {}
        task = progress.add_task("Building departmental records", total=len(DEPARTMENTS))
        for department in DEPARTMENTS:
            store = department.name
            b = StoreBuilder(store, world, noise.for_store(store), seeded(seed_value, store), ages)
            if department.synthesise is not None:
                department.synthesise(b)
            builders[store] = b
            progress.advance(task)

        urls: dict[str, str] = {}
        total_rows = sum(len(r) for b in builders.values() for r in b.rows.values())
        task = progress.add_task("Writing stores", total=total_rows)
        for store, b in builders.items():
            url = store_url_for(store, dsn_prefix)
            urls[store] = url
            resolved = dd.resolve(url)
            if dsn_prefix:
                create_database(resolved, replace=True)
            else:
                dd.stores_dir.mkdir(parents=True, exist_ok=True)
                (dd.stores_dir / f"{store}.db").unlink(missing_ok=True)
            engine = store_engine(resolved, bulk_load=True)
            try:
                load_store(engine, store_metadata(store), b.rows, partial(_advance, progress, task))
            finally:
                engine.dispose()

        task = progress.add_task("Writing hidden ground truth", total=1)
        _write_truth(dd, world, builders)
        _write_postcode_directory(dd, world)
        progress.update(task, completed=1)

    dd.write_manifest(
        {
            "version": 1,
            "people": people,
            "seed": seed_value,
            "as_of": as_of.isoformat(),
            # Never a password on disk: PostgreSQL takes it from PGPASSWORD or ~/.pgpass.
            "stores": {s: without_password(u) for s, u in urls.items()},
        }
    )
    return SeedResult(
        people=world.n_people,
        households=world.n_households,
        records={s: len(b.truth) for s, b in builders.items()},
        rows={s: sum(len(r) for r in b.rows.values()) for s, b in builders.items()},
        urls={s: safe_url(dd.resolve(u)) for s, u in urls.items()},
    )


def _write_postcode_directory(dd: DataDir, world: World) -> None:
    """The borough's postcode -> ward lookup: public reference data, as a council takes from the ONS
    Postcode Directory. Not truth about anyone; the gateway reads it to place residents in wards."""
    geo = world.geography
    # Like ONSPD, a postcode that straddles a boundary goes to one ward: here, where most of it lies.
    counts: dict[str, Counter[int]] = {}
    for pc, w in zip(geo.postcode, geo.ward.tolist(), strict=True):
        counts.setdefault(pc, Counter())[int(w)] += 1
    ward_of = {pc: c.most_common(1)[0][0] for pc, c in counts.items()}
    dd.postcode_directory.parent.mkdir(parents=True, exist_ok=True)
    with dd.postcode_directory.open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["postcode", "ward_code", "ward_name"])
        out.writerows((pc, ward_code(w), WARDS[w]) for pc, w in sorted(ward_of.items()))


def _write_truth(dd: DataDir, world: World, builders: dict[str, StoreBuilder]) -> None:
    """Files the gateway never reads: for evaluating linkage, noise and free-text scrubbing."""
    dd.truth_dir.mkdir(parents=True, exist_ok=True)
    with (dd.truth_dir / "identity.csv").open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["source", "local_id", "person_key", "household_key"])
        for b in builders.values():
            out.writerows(sorted(b.truth))
    with (dd.truth_dir / "noise.csv").open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["source", "local_id", "kinds"])
        for b in builders.values():
            out.writerows(sorted(b.noise_log))
    with (dd.truth_dir / "case_note_identifiers.csv").open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["source", "note_id", "kind", "value", "start", "end"])
        for b in builders.values():
            out.writerows(b.planted)
    same_name = {}
    for a, c in world.same_name_pairs:
        same_name[a] = world.person_key(c)
        same_name[c] = world.person_key(a)
    geo = world.geography
    with (dd.truth_dir / "persons.csv").open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(
            [
                "person_key",
                "household_key",
                "family_key",
                "role",
                "first_name",
                "middle_name",
                "last_name",
                "sex",
                "date_of_birth",
                "nhs_number",
                "uprn",
                "postcode",
                "previous_uprn",
                "twin_of",
                "same_name_as",
            ]
        )
        for i in range(world.n_people):
            h = int(world.household[i])
            prop = int(world.hh_property[h])
            prev = int(world.hh_prev_property[h])
            twin = int(world.twin_of[i])
            out.writerow(
                [
                    world.person_key(i),
                    world.household_key(h),
                    world.family_key(int(world.family[i])),
                    ROLE_NAMES[int(world.role[i])],
                    world.first[i],
                    world.middle[i],
                    world.last[i],
                    world.sex[i],
                    str(world.dob[i]),
                    f"{int(world.nhs[i]):010d}",
                    int(geo.uprn[prop]),
                    geo.postcode[prop],
                    int(geo.uprn[prev]) if prev >= 0 else "",
                    world.person_key(twin) if twin >= 0 else "",
                    same_name.get(i, ""),
                ]
            )
