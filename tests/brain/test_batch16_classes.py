"""Numbers that are not the apartment (blind batch 16; first run 51/61, no wrong visit: the
concierge asked instead), in our own words and directory, where each distractor is also a real
apartment number: an order or pickup code, a tracking number, a CEP, a plate, a parking space, a
time; and ordinals and groups that are no one's name."""

from __future__ import annotations

import pytest

from concierge.brain.directory import Directory
from concierge.brain.understand import understand

from .dialogs import check_final, directory_of, talk

UNITS = {"403": ["Mariana Coelho"], "1604": ["Otávio Brandão"], "1004": ["Rui Sampaio"], "801": ["Ramon Teles"], "15": ["Lia Prado"]}


@pytest.fixture(scope="module")
def block(tmp_path_factory) -> Directory:
    return directory_of(tmp_path_factory.mktemp("b16") / "block.json", UNITS)


@pytest.mark.parametrize(
    "said",
    [
        "o código de retirada é 1 6 0 4",
        "rastreio final 1 0 0 4",
        "o CEP aqui é 1 6 0 4 0 0 1 0",
        "tô parado na vaga 15",
        "placa PEX 1604",
        "cheguei às 10:04",
        "meu telefone é 9 8 0 1",
    ],
)
def test_a_number_that_names_something_else_is_no_apartment(block, said):
    assert understand(said, block).apartments == []


def test_the_apartment_said_among_them_is_the_one(block):
    dialog, replies = talk(
        block, ["sedex pro quarto andar, apartamento quatro zero três", "Mariana Coelho, é 1 volume só, rastreio final 1 0 0 4", "Ítalo"],
        apartment_number="403", resident_name="Mariana Coelho", visitor_name="Ítalo", valid_for_action=True,
    )  # fmt: skip
    assert check_final(dialog, replies[-1]) == [], replies[-1].mensagem


def test_a_group_named_by_one_of_them(block):
    dialog, replies = talk(block, ["somos 4, viemos pro churrasco do Ramon", "é no oitavo andar, 801", "Thiago e a turma"], visitor_name="Thiago", valid_for_action=True)
    assert check_final(dialog, replies[-1]) == [], replies[-1].mensagem
