"""Classes from dialogs blind batches 15 and 16 had left failing (session 9), in our own words and
directory: where a visitor went before, 'na 5', what a furniture fitter says about the order,
the resident's name split by the line given as the visitor's."""

from __future__ import annotations

import pytest

from concierge.brain.directory import Directory
from concierge.brain.understand import understand

from .dialogs import directory_of, talk

UNITS = {"5": ["Benedito Arruda"], "15": ["Olga Pires"], "1-804": ["Odete Sakamoto"], "101": ["Edvaldo Cunha"]}


@pytest.fixture(scope="module")
def street(tmp_path_factory) -> Directory:
    return directory_of(tmp_path_factory.mktemp("s9") / "street.json", UNITS)


@pytest.mark.parametrize("text", ["semana passada eu vim na 15, hoje é na 5", "ontem fui na 15, hoje é na 5", "hoje é na 5"])
def test_where_the_visitor_went_before_is_not_where_they_go(street, text):
    assert [h.number for h in understand(text, street).apartments][:1] == ["5"]


def test_what_a_fitter_says_about_the_order_keeps_the_visit(street):
    from concierge.brain.reply import Intent

    _, replies = talk(street, ["montador de móveis, torre 1, 804", "Odete Sakamoto, o pedido tá no nome dela", "Kleber"])
    assert replies[-1].dados.intent_type is Intent.VISITA, replies[-1].mensagem


def test_the_residents_name_split_by_the_line_is_not_the_visitors(street):
    _, replies = talk(street, ["cuidadora do seu Edvaldo, 101", "Ed Valdo, Cunha, 101, rapidinho"])
    assert replies[-1].dados.visitor_name is None and not replies[-1].valid_for_action, replies[-1].mensagem
