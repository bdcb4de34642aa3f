#!/usr/bin/env python3
"""Build the four condominium directories used by blind dialog batch 7.

Hand-picked residents (the ones the dialogs talk about, plus the deliberate
clashes) are fixed below; every other unit is filled from small name pools
with a fixed seed, so the output is reproducible:

    python3 tests/dialogs/blind/batch7/tools/gen_directories.py

The pools exclude every first name and surname that a dialog uses (residents,
visitors, and the names used in must-not-complete traps), so the only name
clashes are the deliberate ones listed in README.md.
"""
import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "directories"
SEED = 20257

# ---------------------------------------------------------------- hand-picked
AURORA = {
    "101": ["Jorge Amaral"],
    "102": ["Roberto Almeida", "Sandra Almeida"],
    "104": ["Pâmela Duarte"],
    "201": ["Rogério Tavares"],
    "203": ["Jeferson Lima"],
    "204": ["Douglas Brito"],
    "301": ["Marta Rezende"],
    "302": ["Carlos Souza"],
    "303": ["Gilberto Mello"],
    "304": ["Luciana Melo"],
    "401": ["Fernanda Castro"],
    "403": ["Joaquim Ferraz"],
    "502": ["Renata Oliveira"],
    "504": ["Renata Campos"],
    "601": ["Júlia Nogueira", "Patrícia Nogueira"],
    "604": ["Maria Silva"],
    "702": ["Otávio Barros"],
    "801": ["Cláudia Rangel"],
    "803": ["Wellington Pires"],
    "902": ["Tiago Correia"],
    "904": ["Silvana Teixeira"],
    "1002": ["Raimundo Farias"],
    "1004": ["Cecília Prado"],
    "1102": ["Beatriz Sousa", "Henrique Sousa"],
    "1203": ["Eduardo Queiroz"],
    "1301": ["Vanessa Moura"],
    "1402": ["Ingrid Assunção"],
    "1504": ["Leonardo Bastos"],
}

IPES = {
    "A-103": ["Sebastião Rocha"],
    "A-205": ["Aline Gouveia"],
    "A-302": ["Adriana Sousa"],
    "A-407": ["Bruno Fagundes"],
    "B-102": ["Simone Batista"],
    "B-203": ["Kátia Lopes"],
    "B-304": ["Joaquim Pereira"],
    "B-406": ["Sueli Ramos"],
    "C-108": ["Heloísa Barreto"],
    "C-204": ["Márcio Fontes"],
    "C-301": ["Lucas Andrade"],
    "C-302": ["Adriana Souza"],
    "D-106": ["Valéria Siqueira"],
    "D-203": ["Gustavo Henrique Paiva"],
    "D-308": ["Mauro Vieira"],
    "E-203": ["Gustavo Reis"],
    "E-305": ["Ivone Carvalho"],
    "E-401": ["Daniela Moraes"],
    "F-108": ["Rafael Cunha"],
    "F-205": ["Thiago Nascimento"],
    "F-302": ["Priscila Antunes"],
}

MIRANTE = {
    "1-601": ["Everton Rios"],
    "1-804": ["Camila Ventura"],
    "1-903": ["Moisés Fonseca"],
    "1-1004": ["Paulo Sérgio Matos"],
    "1-1102": ["Rita Cassiano"],
    "1-1204": ["Leandro Pacheco"],
    "1-1302": ["Marcelo Dantas"],
    "1-1401": ["Hugo Sampaio"],
    "1-1502": ["Vitor Hugo Sales"],
    "2-302": ["Cristiane Lacerda"],
    "2-404": ["Gisele Franco"],
    "2-702": ["Letícia Amorim"],
    "2-901": ["Jussara Pinheiro"],
    "2-1003": ["Benedito Guimarães"],
    "2-1102": ["Osvaldo Teles"],
    "2-1204": ["Mirela Pacheco"],
    "2-1303": ["Natália Brandão"],
    "2-1501": ["Elaine Prates"],
}

VILA = {
    "3": ["Zilda Martins"],
    "5": ["Jaqueline Freitas"],
    "7": ["Ademar Couto", "Neusa Couto"],
    "9": ["Nelson Arruda"],
    "11": ["Rosana Teles"],
    "12": ["Anderson Pimentel"],
    "14": ["Rodrigo Bezerra"],
    "15": ["Kelly Cristina Barbosa"],
    "18": ["Tereza Lemos"],
    "21": ["Wagner Figueira"],
    "23": ["Rosana Vidal"],
    "26": ["Mônica Salgado"],
    "27": ["Célio Macedo"],
    "30": ["Fátima Quintela"],
}

# Names that appear in dialogs as visitors or as must-not-complete traps:
# never hand them to a filler resident.
RESERVED_FIRST = """
Carlos Tânia Cristina Edson Márcio Heitor Vânia Sérgio Fabrício Lauro Odete
Ricardo Walter Davi Yasmin Ivete Cleiton Igor Samuel Jair Bianca Rogério Moacir
Elias Vinícius Luan Paulo Juliana Anselmo Renan Caio Joana Álvaro Rui Nilton
Felipe Jucê Beto Josué Geraldo Wesley Lúcia Tadeu Gabriel Sônia Nestor Zé
Gilmar Valter Ítalo Alex Fagner Júnior Everaldo Rosa Diego Kauã Jonas Patrick
Mateus Joel Robson Ester Kléber Otávio Bruno Marlon Adilson Valdir Rafael
Wanderson Vera Fernando Reginaldo Solange Fausto Caetano Lorena Emerson Ana
Wilson Reinaldo Clara Gerson Murilo Andreia Nicolas Luana Evandro Gláucia
Gertrudes Alan Jean Leandro Sílvio Rômulo Gustavo Tiago Denise Sara Cosme
Viviane Elton Renato Leila Vitor Everton Rubens Marcos Ronaldo Arnaldo Kauê
Luiz Bárbara Tales Anderson Wagner Rodrigo Beatriz Heloísa Eloisa Enrique
Uelinton Douglas Jeferson Pâmela Roger Famila Maria Marta Renata Júlia Julia
""".split()
RESERVED_LAST = """
Pereira Lemos Nunes Souza Sousa Mello Melo Pacheco Sales Sampaio Lima Brito
Silva Britos Ranger Couto Neuza
""".split()

FIRST = """
Alessandra Amanda Antônio Arthur Augusto Benício Caroline Célia Cíntia Cláudio
Davi_ Débora Diana Edite Elisa Elza Emanuel Érica Estela Fabiano Flávia
Francisco Gabriela Giovana Glória Hélio Horácio Irene Isabela Isadora Ismael
Jaime Jordana Larissa Laura Lívia Lourdes Manuela Marcela Marina Matilde
Mauricio Milena Miriam Nair Norberto Olga Orlando Rebeca Regina Rúben Samara
Saulo Selma Tamires Teodoro Ulisses Valentina Vicente Viviana Yara Zuleica
Alcides Amélia Artur Bento Carmem Dalva Dirceu Eliane Ernesto Everson
Gilda Heitor_ Irineu Joelma Josefa Leonor Lindomar Luzia Mara Nádia Noemi
""".split()
FIRST = [f for f in FIRST if not f.endswith("_")]

LAST = """
Abreu Aguiar Alencar Alves Araújo Azevedo Bragança Cabral Caldeira Campelo
Cardoso Coelho Costa Cruz Dias Duque Esteves Falcão Faria Ferreira Garcia
Godoy Gomes Leal Leite Macário Magalhães Maia Marques Medeiros Mendes
Miranda Monteiro Neves Paixão Peixoto Portela Rabelo Ribeiro Sá Santana
Serrano Soares Tavora Toledo Trindade Valente Vasconcelos Viana Xavier Zanetti
""".split()


def _check_pools():
    hand = [AURORA, IPES, MIRANTE, VILA]
    used_first, used_last = set(RESERVED_FIRST), set(RESERVED_LAST)
    for d in hand:
        for names in d.values():
            for n in names:
                parts = n.split()
                used_first.add(parts[0])
                used_last.update(parts[1:])
    bad = [f for f in FIRST if f in used_first or f in used_last]
    bad += [s for s in LAST if s in used_first or s in used_last]
    assert not bad, f"pool names collide with dialog names: {bad}"
    assert len(set(FIRST)) == len(FIRST) and len(set(LAST)) == len(LAST)


def _fill(units, hand, rng, voip_prefix):
    out = []
    taken = set(n for names in hand.values() for n in names)
    for apt in units:
        if apt in hand:
            residents = list(hand[apt])
        else:
            last = rng.choice(LAST)
            k = rng.choices([1, 2, 3], weights=[55, 35, 10])[0]
            residents = []
            while len(residents) < k:
                name = f"{rng.choice(FIRST)} {last}"
                if name in taken:
                    continue
                taken.add(name)
                residents.append(name)
        out.append({"apartment_number": apt,
                    "residents": residents,
                    "voip_number": f"PJSIP/{voip_prefix}{apt.replace('-', '_')}"})
    missing = set(hand) - set(units)
    assert not missing, f"hand-picked units outside the building: {missing}"
    return out


def build():
    _check_pools()
    rng = random.Random(SEED)
    aurora_units = [f"{floor}{u:02d}" for floor in range(1, 16) for u in range(1, 5)]
    ipes_units = [f"{b}-{floor}{u:02d}" for b in "ABCDEF"
                  for floor in range(1, 5) for u in range(1, 9)]
    mirante_units = [f"{t}-{floor}{u:02d}" for t in (1, 2)
                     for floor in range(1, 16) for u in range(1, 5)]
    vila_units = [str(n) for n in range(1, 41)]
    dirs = {
        "edificio_aurora.json": _fill(aurora_units, AURORA, rng, "aurora_"),
        "residencial_ipes.json": _fill(ipes_units, IPES, rng, "ipes_"),
        "torres_mirante.json": _fill(mirante_units, MIRANTE, rng, "mirante_"),
        "vila_jardim.json": _fill(vila_units, VILA, rng, "vila_casa_"),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for fname, data in dirs.items():
        (OUT / fname).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n",
                                 encoding="utf-8")
        print(f"{fname}: {len(data)} units, "
              f"{sum(len(u['residents']) for u in data)} residents")


if __name__ == "__main__":
    build()
