"""The keypad as the last word on the apartment (one key for a house; digits outweigh a name heard
once), and an honorific that says which of a family is meant — classes from the audio evaluation's
and blind batch 8's failures, in sentences of our own."""

from __future__ import annotations

import pytest

from concierge.brain.directory import Directory

from .dialogs import check_final, directory_of, talk

UNITS = {
    "3": ["Nair Figueiredo"],
    "7": ["Osmar Prates", "Lúcia Prates"],
    "1-208": ["Márcio Tavares"],
    "2-208": ["Bento Albuquerque"],
    "2-1208": ["Vera Lúcia Campos"],
}


@pytest.fixture(scope="module")
def village(tmp_path_factory) -> Directory:
    return directory_of(tmp_path_factory.mktemp("keypad") / "vila.json", UNITS)


final = talk


def test_one_key_is_a_house(village):
    dialog, replies = final(village, ["Entrega da lavanderia.", "Xablau.", "Meu nome é Irene.", "7", "Pro Osmar."],
                            apartment_number="7", resident_name="Osmar Prates", valid_for_action=True)
    assert "digite" in replies[3].mensagem.lower() or replies[3].dados.apartment_number == "7"
    assert check_final(dialog, replies[-1]) == []


def test_keyed_digits_outweigh_a_name_of_someone_living_elsewhere(village):
    """'Bento' heard while the block was asked, then 2208 keyed: the keypad is right, Bento lives in
    2-208 — but had the name been Márcio's (1-208), the apartment keyed stays and the name is asked."""
    dialog, replies = final(
        village,
        ["Vim fazer uma visita.", "Duzentos e oito.", "Márcio.", "2208", "É o seu Bento.", "Sou o Caio."],
        apartment_number="2-208", resident_name="Bento Albuquerque", valid_for_action=True,
    )
    assert replies[3].dados.apartment_number == "2-208"  # not thrown away for Márcio of 1-208
    assert check_final(dialog, replies[-1]) == []


def test_seu_or_dona_with_a_family_surname_means_him_or_her(tmp_path):
    """A couple shares a surname: 'o senhor Prates' is Osmar, 'a dona Prates' Lúcia — read back."""
    directory = directory_of(tmp_path / "casal.json", {"7": ["Osmar Prates", "Lúcia Prates"], "9": ["Celeste Prates", "Ivo Prates"]})
    for said, home, meant in (
        ("Encomenda pro senhor Prates, casa sete.", "7", "Osmar Prates"),
        ("É pra dona Prates da casa sete.", "7", "Lúcia Prates"),
        ("Entrega pro seu Prates, casa nove.", "9", "Ivo Prates"),  # Celeste says nothing; Ivo is surely a he
    ):
        dialog, replies = final(directory, [said, "Sou a Rute."], apartment_number=home, resident_name=meant, valid_for_action=True)
        assert check_final(dialog, replies[-1]) == [], said
        assert any("certo?" in r.mensagem for r in replies), "a guess from an honorific is read back"
    dialog, replies = final(directory, ["Pacote pros Prates, casa nove.", "Sou a Rute."], apartment_number="9")
    assert replies[-1].dados.resident_name is None  # no honorific: the concierge asks which of them


@pytest.mark.parametrize(
    "said, resident",
    [
        # names nobody here has: only the phrasing says they are the resident (and so, "not found")
        ("Vim ver meu padrinho, o Clemente.", "Clemente"),  # the relative they came to see, after the relation
        ("Trouxe um bolo pra minha tia Zuleica.", "Zuleica"),
        ("Vim com minha filha, a Bia, ver o Clemente.", "Clemente"),  # 'com': who came along, not whom they came for
        ("Sou a afilhada dela, a Bia.", None),  # the visitor's own relation: Bia is the visitor
    ],
)
def test_a_relative_named_after_the_relation_is_the_resident(village, said, resident):
    from concierge.brain.understand import understand

    heard = understand(said, village)
    assert (heard.resident.split()[-1] if heard.resident else None) == resident


def test_a_full_name_said_unasked_with_no_cue_is_read_back_first(village):
    """Whisper, primed with the residents' names, may write one into a turn it did not hear (here the
    concierge had asked 'entrega ou visita?', not whom)."""
    dialog, replies = talk(village, ["Boa tarde.", "Chiado na linha, Márcio Tavares.", "É entrega, sou o Caio."],
                           resident_name="Márcio Tavares", valid_for_action=True)  # fmt: skip
    first_valid = next(i for i, r in enumerate(replies) if r.valid_for_action)
    assert any("certo?" in r.mensagem for r in replies[:first_valid]), [r.mensagem for r in replies]
    assert check_final(dialog, replies[-1]) == []


def test_a_small_first_name_after_sou_is_the_visitor_not_a_residents_nickname(tmp_path):
    """'Eu sou a duda': the recogniser wrote the name small in a capitalised sentence; Duda is a
    nickname of Eduardo's too, but whoever says 'sou a' is naming themselves."""
    directory = directory_of(tmp_path / "duda.json", {"31": ["Eduardo Lacerda"], "32": ["Renan Dias"]})
    dialog, replies = talk(directory, ["Vim visitar minha madrinha.", "Chiado.", "Eu sou a duda, afilhada dela."], visitor_name="Duda")
    assert all(r.dados.resident_name is None and not r.valid_for_action for r in replies), [r.mensagem for r in replies]
    assert check_final(dialog, replies[-1]) == []


def test_no_to_a_read_back_then_a_residents_full_name_names_whom_they_came_for(village):
    dialog, replies = talk(village, ["Boa tarde.", "Barulho, Márcio Tavares.", "Visita, sou a Lara.", "Não, é o Bento Albuquerque."],
                           visitor_name="Lara", resident_name="Bento Albuquerque", apartment_number="2-208")  # fmt: skip
    assert check_final(dialog, replies[-1]) == [], [r.mensagem for r in replies]


def test_a_residents_name_written_by_ear_is_read_back_as_the_one_in_that_apartment_who_sounds_like_it(tmp_path):
    """The recogniser spells a name it does not know by its sounds, and a family shares the surname:
    every word said must sound like the one resident of the apartment (read back before it counts)."""
    directory = directory_of(tmp_path / "ouvido.json", {
        "510": ["Kethlyn Moraes", "Otávio Moraes"],
        "511": ["Hye-won Park"],
        "512": ["Nathaly Souza", "Gracy Kelly Prado"],
        "513": ["Wesley Moraes"],
    })  # fmt: skip
    for said, home, meant in (
        ("Encomenda pra Quetlin Morais, 510.", "510", "Kethlyn Moraes"),  # not Otávio, who shares the surname
        ("É pra Hiuon Park, apartamento 511.", "511", "Hye-won Park"),  # two name words run together
        ("Vim ver a Greici Queli, do 512.", "512", "Gracy Kelly Prado"),
    ):
        dialog, replies = talk(directory, [said, "Sou o Túlio."], apartment_number=home, resident_name=meant, valid_for_action=True)
        assert check_final(dialog, replies[-1]) == [], (said, [r.mensagem for r in replies])
        assert any("certo?" in r.mensagem for r in replies), "a name heard this loosely is read back"
    dialog, replies = talk(directory, ["Encomenda pra Marlene Morais, 510.", "Sou o Túlio."], apartment_number="510")
    assert replies[-1].dados.resident_name is None and not replies[-1].valid_for_action, "a name like nobody's there is not guessed"


def test_a_place_finishing_the_last_answer_before_the_name_asked_for(tmp_path):
    """Asked their name, the visitor first finishes the apartment ('torre 2.'), then says it."""
    directory = directory_of(tmp_path / "torres.json", {"1-704": ["Iara Bezerra"], "2-704": ["Iolanda Freire"], "9": ["Ubirajara Lins"]})
    for turns, home, resident, visitor in (
        (["Entrega pra Iolanda Freire, setecentos e quatro.", "torre 2. Ana Júlia"], "2-704", "Iolanda Freire", "Ana Júlia"),
        (["Sou o sobrinho do seu Ubirajara.", "casa nove. Rodrigo, o sobrinho dele"], "9", "Ubirajara Lins", "Rodrigo"),
    ):
        dialog, replies = talk(directory, turns, apartment_number=home, resident_name=resident, visitor_name=visitor, valid_for_action=True)
        assert check_final(dialog, replies[-1]) == [], (turns, [r.mensagem for r in replies])
