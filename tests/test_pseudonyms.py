"""Project pseudonyms and where their master key comes from (property-based where it can be)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.privacy.keys import EnvKeyProvider, FileKeyProvider, KeyUnavailable, choose_provider
from gateway.privacy.pseudonyms import ONE_WAY, REVERSIBLE, ProjectKey, PseudonymError, parse

MASTER = bytes(range(32))
ids = st.text(alphabet="ABCDEFGHJKMNPQRSTVWXYZ0123456789", min_size=1, max_size=20).map(lambda s: "P" + s)
projects = st.from_regex(r"[a-z][a-z0-9\-]{1,20}", fullmatch=True)
modes = st.sampled_from([ONE_WAY, REVERSIBLE])


@given(person=ids, project=projects, mode=modes)
def test_the_same_person_gets_the_same_pseudonym_within_a_project(person, project, mode) -> None:
    a = ProjectKey.derive(MASTER, project, 1, mode).pseudonym(person)
    b = ProjectKey.derive(MASTER, project, 1, mode).pseudonym(person)
    assert a == b
    assert person not in a
    assert parse(a) == (mode, 1)


@given(person=ids, one=projects, other=projects, mode=modes)
def test_projects_cannot_link_their_pseudonyms(person, one, other, mode) -> None:
    if one == other:
        return
    assert ProjectKey.derive(MASTER, one, 1, mode).pseudonym(person) != ProjectKey.derive(
        MASTER, other, 1, mode
    ).pseudonym(person)


@given(person=ids, project=projects)
def test_reversible_pseudonyms_round_trip_only_in_their_own_project(person, project) -> None:
    key = ProjectKey.derive(MASTER, project, 3, REVERSIBLE)
    pseudonym = key.pseudonym(person)
    assert key.reverse(pseudonym) == person
    with pytest.raises(PseudonymError):
        ProjectKey.derive(MASTER, project + "x", 3, REVERSIBLE).reverse(pseudonym)
    with pytest.raises(PseudonymError):  # another key version
        ProjectKey.derive(MASTER, project, 4, REVERSIBLE).reverse(pseudonym)


@given(person=ids)
def test_one_way_pseudonyms_cannot_be_reversed(person) -> None:
    key = ProjectKey.derive(MASTER, "study", 1, ONE_WAY)
    with pytest.raises(PseudonymError, match="one-way"):
        key.reverse(key.pseudonym(person))


def test_rotation_changes_every_pseudonym_and_the_batch_matches_one_by_one() -> None:
    people = [f"P{i:012d}" for i in range(2000)]
    v1 = ProjectKey.derive(MASTER, "study", 1, ONE_WAY).many(people)
    v2 = ProjectKey.derive(MASTER, "study", 2, ONE_WAY).many(people)
    assert len(set(v1)) == len(people)
    assert not set(v1) & set(v2)
    single = ProjectKey.derive(MASTER, "study", 1, ONE_WAY)
    assert v1[:50] == [single.pseudonym(p) for p in people[:50]]


def test_another_master_key_gives_other_pseudonyms() -> None:
    other = bytes(reversed(range(32)))
    a = ProjectKey.derive(MASTER, "study", 1, ONE_WAY).pseudonym("P1")
    assert a != ProjectKey.derive(other, "study", 1, ONE_WAY).pseudonym("P1")
    with pytest.raises(ValueError, match="at least 32"):
        ProjectKey.derive(b"short", "study", 1, ONE_WAY)


def test_key_providers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_PSEUDONYM_KEY", raising=False)
    demo = choose_provider(tmp_path, key_file=None, plugin=None, demo=True)
    key = demo.master_key()
    assert len(key) == 32 and demo.master_key() == key  # made once, then read
    assert oct((tmp_path / "keys" / "pseudonym-master.key").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(KeyUnavailable, match="no pseudonymisation key"):
        choose_provider(tmp_path, key_file=None, plugin=None, demo=False).master_key()
    (tmp_path / "k").write_bytes(base64.b64encode(os.urandom(48)))
    assert len(choose_provider(tmp_path, key_file=tmp_path / "k", plugin=None, demo=False).master_key()) == 48
    with pytest.raises(KeyUnavailable, match="cannot be read"):
        FileKeyProvider(tmp_path / "missing").master_key()
    monkeypatch.setenv("GATEWAY_PSEUDONYM_KEY", base64.b64encode(b"k" * 32).decode())
    assert isinstance(choose_provider(tmp_path, key_file=None, plugin=None, demo=False), EnvKeyProvider)
    assert EnvKeyProvider().master_key() == b"k" * 32
    monkeypatch.setenv("GATEWAY_PSEUDONYM_KEY", "c2hvcnQ=")
    with pytest.raises(KeyUnavailable, match="shorter"):
        EnvKeyProvider().master_key()
    monkeypatch.delenv("GATEWAY_PSEUDONYM_KEY")
    plugin = choose_provider(tmp_path, key_file=None, plugin="tests.test_pseudonyms:_kms", demo=False)
    assert plugin.master_key() == b"m" * 32
    with pytest.raises(KeyUnavailable, match="cannot be loaded"):
        choose_provider(tmp_path, key_file=None, plugin="tests.nowhere:kms", demo=False)


class _Kms:
    def master_key(self) -> bytes:
        return b"m" * 32


def _kms() -> _Kms:
    return _Kms()
