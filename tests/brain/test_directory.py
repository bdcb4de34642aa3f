"""The resident directory: validation at start, fuzzy look-up as speech recognition needs it."""

from __future__ import annotations

import json

import pytest

from concierge.brain.directory import Directory
from concierge.errors import ConfigError


def names(residents):
    return sorted(r.name for r in residents)


def test_shipped_directory_is_a_realistic_condominium(directory):
    assert len(directory.apartments) >= 20
    assert any(len(a.residents) > 1 for a in directory.apartments.values())
    firsts = [r.first_name for r in directory.residents]
    assert len(firsts) > len(set(firsts)), "some residents must share a first name"


@pytest.mark.parametrize(
    "query, expected",
    [
        ("Joana", ["Joana Prado"]),
        ("dona Francisca", ["Francisca Oliveira"]),
        ("seu Raimundo", ["Raimundo Nonato Ferreira"]),
        ("Joanna", ["Joana Prado"]),
        ("Teresa", ["Tereza Gomes"]),
        ("julia", ["Júlia Mendes"]),
        ("senhor Almeida", ["Roberto Almeida"]),
        ("Maria", ["Maria Carvalho", "Maria Silva"]),
        ("Maria Silva", ["Maria Silva"]),
        ("Osvaldo", []),
        ("Marta", []),
        ("Raymundo", ["Raimundo Nonato Ferreira"]),
        ("Luiza", ["Luísa Barbosa"]),
        ("Fransisca", ["Francisca Oliveira"]),
    ],
)
def test_find_matches_spoken_names(directory, query, expected):
    assert names(directory.find(query)) == expected


def test_apartment_narrows_a_shared_first_name(directory):
    assert names(directory.find("Maria", "601")) == ["Maria Carvalho"]
    assert directory.find("Joana", "202") == []


def test_lives_in_needs_the_exact_directory_name(directory):
    assert directory.lives_in("Joana Prado", "104")
    assert not directory.lives_in("Joana", "104")
    assert not directory.lives_in("Joana Prado", "202")


def write(tmp_path, data):
    path = tmp_path / "dir.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "data, expected",
    [
        ("{oops", "not valid JSON"),
        ([], "non-empty JSON list"),
        ([{"apartment_number": "101", "residents": ["Ana"]}, {"apartment_number": "101", "residents": ["Bia"]}], "listed twice"),
        ([{"apartment_number": "101", "residents": ["Ana", " "]}], "needs a name"),
        ([{"apartment_number": "101", "residents": []}], "residents"),
        ([{"apartment_number": "101", "residents": ["Ana Souza", "ana souza"]}], "listed twice"),
        ([{"apartment_number": "1 01", "residents": ["Ana"]}], "apartment_number"),
    ],
)
def test_invalid_directory_is_refused_with_a_clear_line(tmp_path, data, expected):
    with pytest.raises(ConfigError, match=expected) as error:
        Directory.load(write(tmp_path, data))
    assert "\n" not in str(error.value)


def test_missing_directory_file_says_where_to_set_it(tmp_path):
    with pytest.raises(ConfigError, match="--directory"):
        Directory.load(tmp_path / "missing.json")


def test_dial_strings_are_kept_in_order_of_preference(tmp_path):
    entry = {"apartment_number": "104", "residents": ["Joana Prado"], "dial": ["PJSIP/104", "Local/11988887777@trunk"]}
    directory = Directory.load(write(tmp_path, [entry]))
    assert directory.apartments["104"].dial_strings == ["PJSIP/104", "Local/11988887777@trunk"]


def test_the_seeds_voip_number_is_the_dial_string_when_no_dial_list_is_given(tmp_path):
    seed = {"apartment_number": "101", "residents": ["Ana"], "voip_number": "PJSIP/ap101"}
    nobody = {"apartment_number": "102", "residents": ["Bia"]}
    directory = Directory.load(write(tmp_path, [seed, nobody]))
    assert directory.apartments["101"].dial_strings == ["PJSIP/ap101"]
    assert directory.apartments["102"].dial_strings == []


@pytest.mark.parametrize(
    "dial, expected",
    [
        (["104"], "(?i)not an Asterisk dial string"),
        (["PJSIP/104&PJSIP/105"], "(?i)not an Asterisk dial string"),
        (["PJSIP/104,30"], "(?i)not an Asterisk dial string"),
        (["PJSIP/1 04"], "(?i)not an Asterisk dial string"),
        (["PJSIP/104", "PJSIP/104"], "listed twice"),
        ("PJSIP/104", "dial"),
    ],
)
def test_invalid_dial_strings_are_refused_with_a_clear_line(tmp_path, dial, expected):
    entry = {"apartment_number": "104", "residents": ["Joana Prado"], "dial": dial}
    with pytest.raises(ConfigError, match=expected) as error:
        Directory.load(write(tmp_path, [entry]))
    assert "\n" not in str(error.value)
