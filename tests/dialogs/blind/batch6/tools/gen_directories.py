#!/usr/bin/env python3
"""Generate the five condominium directories of blind batch 6.

Hand-picked apartments (the ones the dialogs talk about, with every deliberate
clash) are fixed in HAND; every other unit is filled from name pools with a
fixed seed, so the output is byte-for-byte reproducible:

    python3 tools/gen_directories.py            # writes ../directories/*.json
    python3 tools/gen_directories.py --out DIR  # writes somewhere else

Filler names never reuse a token (first name or surname) of a hand-picked
resident, so no filler resident can collide with a name a dialog says;
tools/validate.py checks this again against the dialog text.
"""
import argparse
import json
import os
import random
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(HERE), "directories")


def norm(s):
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if not unicodedata.combining(c)).lower()


# --------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------

def layout_ipes():
    # Condomínio horizontal: quadras 1-8, casas 1-12 -> "3-12" (96 casas)
    return [f"{q}-{c}" for q in range(1, 9) for c in range(1, 13)]


def layout_aurora():
    # Conjunto de 12 blocos, 4 andares x 4 unidades: 11..14, 21..24, 31..34, 41..44
    # -> "7-23" (192 unidades)
    return [f"{b}-{a}{u}" for b in range(1, 13) for a in range(1, 5) for u in range(1, 5)]


def layout_mirante():
    # Torre única de 30 andares, 8 unidades por andar: 101..108 ... 3001..3008 (240)
    return [f"{a}{u:02d}" for a in range(1, 31) for u in range(1, 9)]


def layout_parque():
    # Torres A-D, 18 andares, 4 unidades por andar: "C-1502", "A-704" (288)
    return [f"{t}-{a}{u:02d}" for t in "ABCD" for a in range(1, 19) for u in range(1, 5)]


def layout_solar():
    # Prédio pequeno, apartamentos 1..24 sem andar no número (24)
    return [str(n) for n in range(1, 25)]


# --------------------------------------------------------------------------
# Hand-picked residents (full lists for these units)
# --------------------------------------------------------------------------

HAND = {
    "vale_dos_ipes.json": {
        "1-3": ["Edson Ferreira", "Cláudia Ferreira"],
        "1-9": ["Aparecida Nunes"],
        "2-11": ["Augusto Teixeira Lopes", "Marina Teixeira"],
        "3-5": ["Maria das Graças Pimentel"],
        "3-12": ["Renata Sousa Vieira", "Otto Vieira"],
        "4-7": ["Jurandir Ferreira", "Neusa Ferreira"],
        "5-8": ["Lúcia da Paz Moreira"],
        "6-4": ["Renata de Souza Lima", "Felipe Lima"],
        "6-10": ["Davi Rocha", "Yasmin Rocha"],
        "7-1": ["João Pedro Cavalcanti", "Letícia Cavalcanti"],
        "7-9": ["Francisco Assis Lopes"],
        "8-2": ["Benedito Alves Pereira", "Zilda Pereira"],
    },
    "conjunto_aurora.json": {
        "1-24": ["Rosa Lins"],
        "2-41": ["Thayná Ribeiro Costa", "Marcos Costa"],
        "3-22": ["Ivone Martins"],
        "4-32": ["Kelly Cristina Moura", "Adriano Moura"],
        "4-33": ["Marcos Vinícius Prado", "Aline Prado"],
        "5-12": ["Renata Campos"],
        "6-13": ["José Carlos Menezes", "Ana Paula Menezes"],
        "7-23": ["Wellington Rodrigues Alves", "Dayane Cristina Alves"],
        "8-12": ["Joaquim Sales Neto", "Rita Sales"],
        "9-31": ["Renata Oliveira Prado", "Hugo Prado"],
        "10-42": ["Sebastião Ferraz", "Odete Ferraz"],
        "11-14": ["Vitória Mendes Braga", "Caio Braga"],
        "12-44": ["Roberto Guimarães Neto", "Sílvia Guimarães"],
    },
    "torre_mirante.json": {
        "101": ["Evandro Quintela"],
        "602": ["Milena Duarte", "Otávio Duarte"],
        "605": ["Helena Vasconcelos"],
        "702": ["Márcio de Sousa", "Elaine de Sousa"],
        "704": ["Ângela Moreira"],
        "806": ["Conceição Luz", "Arnaldo Luz"],
        "1008": ["Fabrício Gouveia"],
        "1105": ["Márcio Souza Lima", "Fabiana Lima"],
        "1204": ["Cláudio Antunes", "Márcia Antunes"],
        "1508": ["Tatiane Rocha", "Bruno Rocha"],
        "1904": ["Pedro Henrique Galvão", "Regina Galvão", "Antônio Galvão"],
        "2001": ["Hiroshi Tanaka", "Keiko Tanaka"],
        "2307": ["Dayane Ketlen Souto"],
        "2402": ["Jesus Aparecido Ramos", "Luzia Ramos"],
        "3008": ["Haruki Sato", "Mayumi Sato"],
    },
    "parque_das_torres.json": {
        "A-704": ["Otávio Branco"],
        "A-803": ["Fátima Rezende", "Nelson Rezende"],
        "A-1801": ["Maria Luiza Fontes", "Carlos Eduardo Fontes"],
        "B-601": ["Paulo Sérgio Bezerra", "Ivete Bezerra"],
        "B-1203": ["Luís Fernando Arantes", "Sônia Arantes"],
        "B-1401": ["Maria Eduarda dos Santos de Oliveira e Silva", "Fernando Oliveira e Silva"],
        "C-903": ["Giovanna Lemos Pacheco", "Rui Pacheco", "Eduardo Pacheco"],
        "C-1104": ["Helena Brandão Rocha", "Artur Rocha"],
        "C-1502": ["Sandra Regina Motta", "Vinícius Motta"],
        "D-203": ["Gilmar Rebouças"],
        "D-704": ["Luiz Henrique Batista", "Cristiane Batista"],
        "D-1102": ["Augusto Cezar Dantas", "Paula Dantas"],
        "D-1402": ["Nkechi Okafor", "Emeka Okafor"],
    },
    "solar_das_rosas.json": {
        "2": ["Jandira Pacheco"],
        "3": ["Luana Prates", "Júlia Prates"],
        "6": ["Marlene Siqueira"],
        "8": ["Madalena Ferraz Coelho"],
        "9": ["Clara Menezes Duarte", "Sérgio Duarte"],
        "10": ["Beatriz Honorato"],
        "11": ["Heitor Campos", "Diana Campos"],
        "12": ["Hélio Castro", "Mirela Castro"],
        "14": ["João Pedro Lacerda", "Sílvia Lacerda"],
        "15": ["Vitória Albuquerque", "Renan Albuquerque"],
        "17": ["Ahmad Haddad", "Samira Haddad"],
        "19": ["Ricardo Paz", "Yara Paz"],
        "20": ["Thiago Nogueira", "Bruna Nogueira"],
        "21": ["Rosa Maria Bastos"],
        "24": ["Nicole Barros", "Jairo Barros"],
    },
}

DIRECTORIES = [
    # file, layout, voip prefix, seed
    ("vale_dos_ipes.json", layout_ipes, "ipes", 60601),
    ("conjunto_aurora.json", layout_aurora, "aurora", 60602),
    ("torre_mirante.json", layout_mirante, "mirante", 60603),
    ("parque_das_torres.json", layout_parque, "parque", 60604),
    ("solar_das_rosas.json", layout_solar, "solar", 60605),
]

# --------------------------------------------------------------------------
# Filler pools (checked to be disjoint from every hand-picked name token)
# --------------------------------------------------------------------------

FEMALE = """Adriana Alessandra Amanda Andreia Bárbara Bianca Carla Carolina Cecília
Daniela Denise Elisa Emanuele Érica Estela Flávia Gabriela Gisele Heloísa Isabela
Jaqueline Joana Juliana Karina Laura Larissa Lorena Manuela Michele Mônica
Natália Olívia Paloma Raquel Rebeca Sabrina Silvana Sofia Tânia Valéria Viviane
Lorraine Pâmela Rayssa Nathália Suelen Tamires Jussara Iolanda Eunice Noêmia""".split()

MALE = """Alexandre Alan Álvaro André Breno Caetano César Daniel Danilo Diogo Emerson
Enzo Érico Flávio Guilherme Isaac Jorge Júlio Lauro Leonel Lucas Mário Miguel
Moacir Nicolas Norberto Orlando Raul Rodolfo Teodoro Túlio Valter Vicente Yuri
Alcides Anderson_ Bento Caio_ Douglas Edmilson Everson Geovane Hélton Ismael
Jeferson Lázaro Natanael Ulisses Wilson""".split()

SURNAMES = """Almeida Andrade Azevedo Barbosa Barreto Cardoso Carvalho Correia Freitas
Gomes Macedo Machado Magalhães Medeiros Mendonça Monteiro Nascimento Peixoto
Queiroz Sampaio Tavares Teles Toledo Xavier Aguiar Bittencourt Coutinho
Fagundes Godoy Moraes Paiva Rangel Vasques Veloso Cunha Brito Borges Damasceno
Figueiredo Guedes Holanda Jardim_ Lobato Meireles Nóbrega Quaresma Tenório""".split()

# names marked with a trailing "_" are deliberately dropped (they clash with
# a name some dialog says: Anderson Calixto, Caio Braga, "jardim" as a word)
FEMALE = [n for n in FEMALE if not n.endswith("_")]
MALE = [n for n in MALE if not n.endswith("_")]
SURNAMES = [n for n in SURNAMES if not n.endswith("_")]


def hand_tokens():
    toks = set()
    for units in HAND.values():
        for names in units.values():
            for name in names:
                toks.update(norm(t) for t in name.split())
    return toks


def check_pools():
    taken = hand_tokens()
    for pool in (FEMALE, MALE, SURNAMES):
        bad = [n for n in pool if norm(n) in taken]
        assert not bad, f"filler pool reuses hand-picked tokens: {bad}"
    assert len(set(map(norm, FEMALE + MALE + SURNAMES))) == len(FEMALE + MALE + SURNAMES)


def filler_unit(rng):
    family = rng.choice(SURNAMES)
    n = rng.choices([1, 2, 3, 4], weights=[28, 42, 20, 10])[0]
    used_first = set()
    names = []
    for i in range(n):
        pool = FEMALE if rng.random() < 0.52 else MALE
        first = rng.choice(pool)
        while first in used_first:
            first = rng.choice(pool)
        used_first.add(first)
        if i == 0 and rng.random() < 0.35:
            # two surnames for the head of household
            other = rng.choice(SURNAMES)
            while other == family:
                other = rng.choice(SURNAMES)
            names.append(f"{first} {other} {family}")
        elif i > 0 and rng.random() < 0.15:
            # spouse who kept their own surname
            other = rng.choice(SURNAMES)
            while other == family:
                other = rng.choice(SURNAMES)
            names.append(f"{first} {other}")
        else:
            names.append(f"{first} {family}")
    return names


def build(fname, layout, prefix, seed):
    rng = random.Random(seed)
    hand = HAND[fname]
    units = layout()
    missing = set(hand) - set(units)
    assert not missing, f"{fname}: hand-picked units outside the layout: {missing}"
    out = []
    for apt in units:
        residents = list(hand[apt]) if apt in hand else filler_unit(rng)
        voip = "PJSIP/" + prefix + "_" + apt.replace("-", "_").lower()
        out.append({"apartment_number": apt, "residents": residents, "voip_number": voip})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    check_pools()
    os.makedirs(args.out, exist_ok=True)
    for fname, layout, prefix, seed in DIRECTORIES:
        data = build(fname, layout, prefix, seed)
        with open(os.path.join(args.out, fname), "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(f"{fname}: {len(data)} units, {sum(len(u['residents']) for u in data)} residents")


if __name__ == "__main__":
    main()
