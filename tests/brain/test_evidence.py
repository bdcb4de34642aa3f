"""Hearing with the directory: which apartment a turn names, the read-back when unsure, the keypad."""

from __future__ import annotations

import json

import pytest

from concierge.brain.directory import Directory
from concierge.brain.evidence import Support, choose_apartment
from concierge.brain.memory import Conversation
from concierge.brain.rules import KEYPAD_PROMPT, RulesBrain
from concierge.brain.understand import apartment_readings
from concierge.config import CallState


@pytest.fixture
def towers(tmp_path):
    entries = [
        {"apartment_number": "1-1204", "residents": ["Otávio Reis"]},
        {"apartment_number": "2-1204", "residents": ["Lúcia Campos"]},
        {"apartment_number": "1-604", "residents": ["Rute Amaral"]},
    ]
    path = tmp_path / "towers.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return Directory.load(path)


def talk(brain: RulesBrain, *turns: str, alternatives: dict[int, tuple[str, ...]] | None = None):
    conversation = Conversation(id="t")
    replies = [brain.respond(conversation, turn, (alternatives or {}).get(i, ())) for i, turn in enumerate(turns)]
    return conversation, replies


def test_a_directory_apartment_beats_an_unknown_reading(directory):
    choice = choose_apartment(apartment_readings("é o 300 de 16, não, 104"), directory, set())
    assert (choice.value, choice.support) == ("104", Support.DIRECTORY)


def test_a_near_miss_is_rescued_by_the_resident_and_read_back(directory):
    conversation, replies = talk(RulesBrain(directory), "Entrega para a Joana Prado, apartamento 114.", "Meu nome é Caio.")
    last = replies[-1]
    assert last.dados.apartment_number == "104" and not last.valid_for_action
    assert last.mensagem.endswith("certo?") and last.set_call_status == CallState.USER_TURN
    _, confirmed = talk(RulesBrain(directory), "Entrega para a Joana Prado, apartamento 114.", "Meu nome é Caio.", "Isso mesmo.")
    assert confirmed[-1].valid_for_action and confirmed[-1].dados.apartment_number == "104"


def test_a_no_to_the_read_back_drops_what_was_read(directory):
    conversation, replies = talk(RulesBrain(directory), "Entrega para a Joana Prado, apartamento 114.", "Meu nome é Caio.", "Não.")
    assert not replies[-1].valid_for_action
    assert conversation.dados.apartment_number is None and conversation.dados.resident_name is None


def test_a_later_misheard_number_does_not_wipe_an_established_apartment(directory):
    _, replies = talk(RulesBrain(directory), "Visita para a Beatriz Andrade, no 302.", "É o 9 9 9 7.", "Sou o Rui.")
    assert replies[-1].dados.apartment_number == "302" and replies[-1].valid_for_action


def test_a_correction_does_replace_it(directory):
    _, replies = talk(RulesBrain(directory), "Entrega para o 301.", "Não, é o 302.", "Meu nome é Alan.")
    assert replies[-1].dados.apartment_number == "302"


def test_a_unique_resident_fills_the_apartment_after_an_unknown_one(directory):
    _, replies = talk(RulesBrain(directory), "Entrega para o apartamento 990.", "É para o Gabriel Moreira.", "Sou a Marta.")
    assert replies[-1].dados.apartment_number == "1203"
    assert replies[-1].mensagem.endswith("certo?"), "an apartment that contradicts what was said is read back"


def test_another_reading_of_the_audio_is_used_when_the_directory_backs_it(directory):
    brain = RulesBrain(directory)
    _, replies = talk(brain, "Entrega para a Joana, apartamento cento e quarenta.", alternatives={0: ("Entrega para a Joana, apartamento cento e quatro.",)})
    assert replies[0].dados.apartment_number == "104"
    _, unheard = talk(brain, "Entrega, apartamento 990.", alternatives={0: ("Entrega, apartamento 991.",)})
    assert unheard[0].dados.apartment_number is None, "a reading the directory does not know is not taken from the N-best"


def test_two_failed_tries_at_the_apartment_ask_for_the_keypad(directory):
    garbled = ("Entrega do Mercado Livre.", "Ééé, ôô.", "Hã, pera aí.")
    _, replies = talk(RulesBrain(directory), *garbled)
    assert replies[-1].mensagem.endswith(KEYPAD_PROMPT)
    _, keyed = talk(RulesBrain(directory), *garbled, "104", "Joana.", "Sou o Caio.")
    assert keyed[-1].valid_for_action and keyed[-1].dados.apartment_number == "104"


def test_the_block_is_asked_when_the_number_exists_in_several(towers):
    _, replies = talk(RulesBrain(towers), "Entrega para o 1204.")
    assert "De qual bloco?" in replies[0].mensagem and replies[0].dados.apartment_number is None
    _, settled = talk(RulesBrain(towers), "Entrega para a Lúcia, torre dois, 1204.", "Sou o Davi.")
    assert settled[-1].valid_for_action and settled[-1].dados.apartment_number == "2-1204"


def test_a_block_inferred_from_the_resident_is_read_back(towers):
    _, replies = talk(RulesBrain(towers), "Visita para o Otávio, apartamento 1204.", "Sou o Davi.")
    assert replies[-1].dados.apartment_number == "1-1204" and replies[-1].mensagem.endswith("certo?")


def test_nicknames_reach_the_resident(directory):
    _, replies = talk(RulesBrain(directory), "Entrega pro seu Zé do 202.")
    assert replies[0].dados.resident_name == "José Silva"


def test_a_visitor_who_does_not_know_the_number_is_asked_for_the_name_instead(directory):
    _, replies = talk(RulesBrain(directory), "Entrega do Mercado Livre.", "Não sei o número.")
    assert replies[-1].mensagem.endswith("Qual é o nome do morador?")


@pytest.fixture
def lettered(tmp_path):
    entries = [
        {"apartment_number": f"{block}-43", "residents": residents}
        for block, residents in (("A", ["Olga Saad"]), ("B", ["Edvaldo Santos", "Josiane Santos"]), ("C", ["Rui Tavares"]))
    ]
    path = tmp_path / "lettered.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return Directory.load(path)


def test_a_block_after_a_pause_is_still_the_block(lettered):
    _, replies = talk(RulesBrain(lettered), "Tem um pacote aqui para o 43 do bloco, B.")
    assert replies[-1].dados.apartment_number == "B-43"


def test_tower_and_number_keyed_as_one_are_that_tower_s_apartment(towers):
    assert towers.apartments_numbered("21204") == ["2-1204"]
    assert towers.apartments_numbered("1604") == ["1-604"]
    assert towers.apartments_numbered("31204") == []


def test_only_the_block_is_asked_for_and_a_bare_letter_answers_it(lettered):
    conversation, replies = talk(RulesBrain(lettered), "Entrega para o 43.", "Meu nome é Antelmo.", "43", "É o B")
    assert replies[1].mensagem.endswith("O apartamento 43 é de qual bloco?")
    assert KEYPAD_PROMPT not in replies[2].mensagem, "the keypad cannot say a block letter"
    assert replies[-1].dados.apartment_number == "B-43"


def test_a_badly_heard_name_of_someone_in_the_apartment_is_read_back_not_taken(lettered):
    conversation, replies = talk(RulesBrain(lettered), "Entrega para o 43 do bloco B.", "Pro Desvaldo Pinto.", "Meu nome é Antelmo.")
    assert replies[-1].dados.resident_name == "Edvaldo Santos"
    assert replies[-1].mensagem.endswith("certo?") and not replies[-1].valid_for_action
    conversation, replies = talk(RulesBrain(lettered), "Entrega para o 43.", "Pro Desvaldo Pinto.", "Meu nome é Antelmo.")
    assert replies[-1].dados.apartment_number == "B-43", "the name picks the block, to be read back"
    assert not replies[-1].valid_for_action


def test_a_name_nothing_like_the_residents_is_not_guessed(lettered):
    _, replies = talk(RulesBrain(lettered), "Entrega para o 43 do bloco B.", "Pro Marcos Pinto.", "Meu nome é Antelmo.")
    assert replies[-1].dados.resident_name is None


def test_entrega_ou_visita_asked_in_vain_twice_gives_way_to_the_other_questions(directory):
    _, replies = talk(RulesBrain(directory), "Boa tarde.", "Hã?", "Meu nome é Carlos.")
    assert replies[0].mensagem.endswith("É entrega ou visita?")
    assert replies[1].mensagem.endswith("É entrega ou visita?")
    assert replies[2].mensagem == "Qual é o apartamento e o nome do morador?"


def test_a_bare_unknown_name_after_the_resident_was_named_is_the_visitor_s(directory):
    _, replies = talk(RulesBrain(directory), "Entrega pra Rosicleide Maranhão, apartamento 104.", "Não, é Rosicleide mesmo.", "Wanderley.")
    assert replies[-1].dados.visitor_name == "Wanderley"
    assert replies[-1].dados.resident_name is None and not replies[-1].valid_for_action


def test_a_trade_then_a_name_is_the_visitor_even_if_a_resident_shares_it(directory):
    _, replies = talk(RulesBrain(directory), "Correios, encomenda pra Rosilene Farias.", "Carteiro Paulo.")
    assert replies[-1].dados.visitor_name == "Paulo"
    assert replies[-1].dados.resident_name is None


def test_a_full_name_heard_badly_anywhere_is_read_back_with_its_apartment(lettered):
    assert [r.name for r in lettered.heard_as("Dedvaudo Santo")] == ["Edvaldo Santos"]
    assert lettered.heard_as("Dedvaudo Pinto") == [], "one close word is not enough without an apartment"
    _, replies = talk(RulesBrain(lettered), "Encomenda para roi tavare.", "Meu nome é Antelmo.")
    assert replies[-1].dados.apartment_number == "C-43" and replies[-1].mensagem.endswith("certo?")
    assert not replies[-1].valid_for_action


def test_a_block_letter_the_line_turned_into_another_is_read_back(lettered):
    _, replies = talk(RulesBrain(lettered), "Tem um pacote aqui para o 43 do bloco V.", "Para o Edvaldo.", "Meu nome é Antelmo.")
    assert replies[-1].dados.apartment_number == "B-43", "no block V here: 'vê' was 'bê'"
    assert replies[-1].mensagem.endswith("certo?") and not replies[-1].valid_for_action
    _, replies = talk(RulesBrain(lettered), "Entrega para o 43.", "Meu nome é Antelmo.", "Lóco-V.")
    assert replies[-1].dados.apartment_number == "B-43"


@pytest.fixture
def small(tmp_path):
    entries = [{"apartment_number": "201", "residents": ["Neide Bastos"]}, {"apartment_number": "302", "residents": ["Antônio Souza"]}]
    path = tmp_path / "small.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return Directory.load(path)


def test_a_name_heard_among_names_nobody_has_is_read_back(small):
    # heard on a rendered call: "pra dona Neide, do 201" came out as below, and the visit completed for 302
    _, replies = talk(RulesBrain(small), "Boa tarde, é da Grungazinho.", "Entrega de remédio pra dona Neste, José Antonio.", "Meu nome é Patricia.")
    assert not replies[-1].valid_for_action
    assert replies[-1].mensagem == "Entrega para Antônio Souza, no apartamento 302, certo?"
    _, replies = talk(RulesBrain(small), "Entrega pro Antônio Souza.", "Meu nome é Patricia.")
    assert replies[-1].valid_for_action, "a full name is enough"


def test_a_yes_to_a_read_back_is_not_a_new_name(directory):
    conversation, replies = talk(RulesBrain(directory), "Visita para a Camila, apartamento 814.", "Meu nome é Ezequiel.", "Isso, glória a Deus.")
    assert replies[1].mensagem.endswith("certo?")
    assert replies[-1].valid_for_action and replies[-1].dados.resident_name == "Camila Ribeiro"


def test_a_lone_first_name_nobody_asked_for_is_read_back(directory):
    # heard on a rendered call: 'Fula, Jorge.' answered 'É entrega ou visita?' and the visit completed for the only Jorge
    _, replies = talk(RulesBrain(directory), "Boa tarde.", "Fula, Camila.", "Meu nome é Jorge.")  # asked, no intent said: a visit
    assert replies[-1].mensagem.endswith("certo?") and not replies[-1].valid_for_action
    _, replies = talk(RulesBrain(directory), "Visita para a Camila.", "Meu nome é Jorge.")
    assert replies[-1].valid_for_action, "cued by 'para a': no read-back"
