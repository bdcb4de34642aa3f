"""The classes blind batches 17 and 18 found (everyday callers; how people build and repair what
they say. First runs 48/64 with one visit completed for a resident who does not live there, and
49/60 with two completed for an apartment the visitor did not know), in our own words and
directory: apartments offered as alternatives, a name said to be not the one, the owner's name
said in full after the visitor's trade."""

from __future__ import annotations

import pytest

from concierge.brain.directory import Directory
from concierge.brain.understand import understand

from .dialogs import directory_of, talk, wrongly_valid

UNITS = {
    "B-401": ["Heloísa Fagundes"], "B-104": ["Mirian Sato"], "A-401": ["Joel Barreto"],
    "1307": ["Clóvis Amaral"], "1703": ["Teodora Paes"],
    "21": ["Suellen Rocha"], "22": ["Suelen Vaz"],
    "2-705": ["Dalila Moura"], "1-705": ["Dalyla Reis"], "A-305": ["Zuleica Prado"], "C-305": ["Zuleica Antunes"],
    "A-210": ["Taíssa Lobo"], "B-210": ["Thaíssa Couto"], "A-512": ["Ana Clara Bastos", "Rosângela Bastos"],
    "B-512": ["Ana Júlia Meira"], "C-812": ["Giselle Tavares"],
}  # fmt: skip


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> Directory:
    return directory_of(tmp_path_factory.mktemp("b18") / "place.json", UNITS)


@pytest.mark.parametrize(
    "text, choices",
    [
        ("é o 1307 ou 1703, a etiqueta tá apagada", {"1307", "1703"}),
        ("casa 21 ou 22, uma das duas", {"21", "22"}),
        ("bloco B, 401... não, 104, ou é 401", {"B-401", "B-104"}),
        ("pro 7 05? ou 7 06?", {"705", "706"}),
    ],
)
def test_apartments_offered_as_alternatives_name_none(place, text, choices):
    heard = understand(text, place)
    assert heard.apartments == [] and {f"{h.block}-{h.number}" if h.block else h.number for h in heard.apartment_choices} == choices


def test_two_apartments_said_apart_are_no_alternatives(place):
    heard = understand("é o 1307, o 1703 é do vizinho", place)
    assert heard.apartment_choices == [] and heard.apartments


@pytest.mark.parametrize(
    "turns, truth",
    [
        (["entrega pro 1307 ou 1703, rasgou a etiqueta", "dá pra ler Teodora", "Robson"], ("1703", "Teodora Paes")),
        (["vim ver a dona Heloísa, bloco B, 104 ou 401, não lembro", "Janete"], ("B-401", "Heloísa Fagundes")),
        (["entrega pro 7 05 ou 7 06, da Dalila", "Robson"], ("2-705", "Dalila Moura")),  # Dalyla in 1-705: spelled otherwise
    ],
)
def test_the_residents_name_settles_which_of_the_alternatives_and_it_is_read_back(place, turns, truth):
    dialog, replies = talk(place, turns, valid_for_action=True, apartment_number=truth[0], resident_name=truth[1])
    assert any(", certo?" in r.mensagem for r in replies), [r.mensagem for r in replies]
    assert replies[-1].valid_for_action and (replies[-1].dados.apartment_number, replies[-1].dados.resident_name) == truth


@pytest.mark.parametrize(
    "turns",
    [
        ["entrega pro bloco B, 401... não, 104, ou é 401", "não tem nome na etiqueta", "Robson"],
        ["vim ver a Suelen, casa 21 ou 22, uma das duas", "o sobrenome eu não sei", "Marta"],  # a Suellen and a Suelen
    ],
)
def test_alternatives_nothing_settles_complete_no_visit(place, turns):
    dialog, replies = talk(place, turns, valid_for_action=False)
    assert not any(r.valid_for_action for r in replies) and not wrongly_valid(dialog, replies[-1]), replies[-1].mensagem


def test_a_name_said_to_be_not_the_one_is_not_whom_they_came_for(place):
    dialog, replies = talk(
        place, ["vim ver a dona Ivone Castro", "bloco B, 104", "não, Mirian não. é a Ivone mesmo, Ivone Castro"], valid_for_action=False
    )
    assert not any(r.valid_for_action for r in replies) and replies[-1].dados.resident_name is None, replies[-1].mensagem


def test_the_owners_name_in_full_after_the_trade_is_not_the_visitors(place):
    heard = understand("sou o jardineiro novo do seu Joel, Joel Barreto", place)
    assert heard.visitor_name is None and heard.resident and "Joel" in heard.resident


@pytest.mark.parametrize(
    "turns, visitor",
    [
        (["sou a enfermeira da dona Zuleica", "C 305... é a Gildete"], "Gildete"),
        (["é o motorista da dona Zuleica", "bloco A, 305. Agnaldo"], "Agnaldo"),
        (["vim buscar a dona Zuleica pra consulta", "305, bloco C. sou o Evandro"], "Evandro"),
    ],
)
def test_a_name_of_nobody_here_ending_a_turn_once_the_resident_is_known_is_the_visitors(place, turns, visitor):
    _, replies = talk(place, turns + ["Isso."])
    assert replies[-1].dados.visitor_name == visitor, [r.mensagem for r in replies]


def test_a_trailing_name_of_someone_here_is_not_taken_for_the_visitors(place):
    heard = understand("é o motorista, bloco B, 104. Mirian", place)
    assert heard.trailing_name is None


@pytest.mark.parametrize(
    "text",
    ["coleta dos Correios, é devolução", "vim fazer uma coleta, logística reversa", "devolução do Mercado Livre pro 1307"],
)
def test_a_courier_who_takes_a_parcel_away_is_no_delivery(place, text):
    from concierge.brain.reply import Intent

    assert understand(text, place).intent is Intent.VISITA


@pytest.mark.parametrize("text", ["eu sou o Jairo, da loja", "é da lavanderia, Neide"])
def test_where_a_worker_comes_from_is_a_weak_word_of_delivery(text):
    """'da loja' after 'montador de móveis' must not outweigh the trade (strength 2)."""
    from concierge.brain.reply import Intent
    from concierge.brain.text import fold
    from concierge.brain.understand import intent_strength

    assert intent_strength(fold(text), Intent.ENTREGA) == 1


@pytest.mark.parametrize(
    "text, visitor",
    [
        ("oi, sou o Ronaldo... o Reinaldo, Reinaldo. Vim ver a dona Giselle", "Reinaldo"),
        ("sou a Rute... Ruth, desculpa. Vim ver a Giselle", "Ruth"),
        ("sou o Ronaldo, Ronaldo Pires, vim ver a Giselle", "Ronaldo Pires"),  # said again in full: the same name
    ],
)
def test_a_visitors_name_repaired_on_the_spot_is_the_second(place, text, visitor):
    assert understand(text, place).visitor_name == visitor


def test_a_residents_name_repaired_on_the_spot_is_the_second(place):
    heard = understand("vim ver a Zuleica... Giselle, desculpa, Giselle, do C 812", place)
    assert [m.resident.name for m in heard.resident_mentions] == ["Giselle Tavares"]


def test_a_block_said_with_a_name_two_blocks_share_settles_it_and_is_read_back(place):
    dialog, replies = talk(place, ["vim ver a Taíssa, do bloco B", "sou a Marli"], valid_for_action=True, apartment_number="B-210")
    assert any(", certo?" in r.mensagem for r in replies) and replies[-1].valid_for_action
    assert replies[-1].dados.resident_name == "Thaíssa Couto", replies[-1].mensagem


@pytest.mark.parametrize("text", ["é o 512 da Anaclara", "512, da Ana Clára"])
def test_a_name_right_after_the_number_says_whose_apartment_even_garbled(place, text):
    _, replies = talk(place, ["entrega", text, "Jonas"], valid_for_action=True, apartment_number="A-512", resident_name="Ana Clara Bastos")
    assert replies[-1].dados.resident_name == "Ana Clara Bastos", [r.mensagem for r in replies]


@pytest.mark.parametrize("text", ["ah, desculpa, falei errado, é o 812", "esqueci, é o 812 mesmo"])
def test_words_of_a_repair_are_no_name(place, text):
    heard = understand(text, place, ["resident_name"])
    assert heard.resident is None and heard.bare_name is None


@pytest.mark.parametrize("text", ["sou eu de novo, o da Sky", "bom dia, é do da Claro, vim ver o sinal", "sou da Sabesp"])
def test_someone_of_a_service_company_is_visiting_to_work(place, text):
    from concierge.brain.reply import Intent

    assert understand(text, place).intent is Intent.VISITA


@pytest.mark.parametrize("text", ["claro, é entrega", "eu vivo falando isso, é entrega pro 812"])
def test_a_service_companys_name_as_a_plain_word_says_nothing(place, text):
    from concierge.brain.reply import Intent

    assert understand(text, place).intent is Intent.ENTREGA


def test_a_party_worker_is_visiting(place):
    from concierge.brain.reply import Intent

    assert understand("sou o DJ da festa da Giselle", place).intent is Intent.VISITA


def test_the_name_of_someone_elses_relative_is_not_the_visitors(place):
    heard = understand("Marli. a mãe dele é a Giselle", place, ["visitor_name"])
    assert heard.visitor_name == "Marli" and heard.resident == "Giselle"
