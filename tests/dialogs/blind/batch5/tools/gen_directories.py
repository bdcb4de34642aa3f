#!/usr/bin/env python3
"""Generate the batch5 directories (fixed seeds, standard library only).

Every resident a dialog depends on is hand-picked below (HAND). The remaining
units are filled from FILL_FIRST / FILL_LAST with a fixed seed. The fill pools
are kept free of every name the dialogs use; validate.py checks that no fill
name token appears anywhere in any dialog text.
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "directories")

FILL_FIRST = [
    "Alceu", "Berenice", "Clóvis", "Dalva", "Emílio", "Firmino", "Hermes",
    "Horácio", "Ismênia", "Jussara", "Lindalva", "Mirtes", "Nadir", "Orestes",
    "Percival", "Quirino", "Severino", "Tarcísio", "Ulisses",
    "Valdemar", "Belmiro", "Celeste", "Dorival", "Eunice", "Genésio",
    "Hermínia", "Iolanda", "Jandira", "Laércio", "Eustáquio", "Aristides",
    "Otília", "Plínio", "Rubens", "Salete", "Teodoro", "Vicentina",
    "Zenaide", "Adélia", "Bráulio", "Custódio", "Deolinda", "Evaristo",
    "Filomena", "Gumercindo", "Hortência", "Idalina", "Juvenal", "Leonor",
    "Mafalda", "Olímpio", "Palmira", "Romeu", "Sinval",
    "Virgílio", "Ernesto",
]

FILL_LAST = [
    "Abrantes", "Cardoso", "Dourado", "Espíndola", "Frazão", "Gouveia",
    "Hipólito", "Jatobá", "Bonfim", "Magalhães", "Novaes", "Ortega", "Paranhos",
    "Quaresma", "Rebouças", "Serpa", "Taveira", "Valadares", "Vilhena",
    "Zampieri", "Amorim", "Calixto", "Damasceno", "Estrela", "Fragoso",
    "Honorato", "Lustosa", "Mesquita", "Nóbrega", "Ornelas",
    "Portela", "Saraiva", "Tabosa", "Uchoa", "Veloso", "Werneck",
    "Bandeira", "Cerqueira", "Dutra", "Goulart", "Loureiro", "Mota",
]

HAND = {
    "casas_vila_dos_ipes.json": {
        "1": ["Jorge Antunes Ribeiro", "Célia Antunes Ribeiro"],
        "2": ["Thaís Mendonça"],
        "3": ["Benedito Carvalho", "Aparecida Carvalho"],
        "4": ["Luiz Fernando Prates"],
        "5": ["Luís Carlos Sampaio"],
        "6": ["Rosângela Duarte", "Eduarda Duarte"],
        "7": ["Sebastião Moura"],
        "8": ["Marta Gusmão"],
        "9": ["Otávio Queiroz", "Helena Queiroz"],
        "10": ["Francisca Nogueira"],
        "11": ["Fernando Pacheco"],
        "12": ["Irene Batista"],
        "13": ["Guilherme Rocha", "Patrícia Rocha"],
        "14": ["Ana Cláudia Ferraz"],
    },
    "edificio_jacaranda.json": {
        "101": ["Sérgio Bastos"],
        "103": ["Thaís Albuquerque", "Ricardo Albuquerque"],
        "104": ["Taís Fontoura"],
        "201": ["Gilberto Souza"],
        "202": ["Rosana Sousa"],
        "204": ["Jorge Menezes"],
        "301": ["Valdirene Castro"],
        "302": ["Paulo Henrique Lemos"],
        "401": ["Cláudio Figueiredo", "Simone Figueiredo"],
        "403": ["Antônio Carlos de Oliveira Neto"],
        "502": ["Renata Campos"],
        "504": ["Helena Campos"],
        "601": ["Dulce Maria Andrade"],
        "602": ["Márcio Teixeira"],
        "701": ["Priscila Nunes"],
        "703": ["Wellington Araújo"],
        "802": ["Benedita Lopes"],
        "804": ["Raimundo Nonato Farias"],
        "901": ["Lúcia Helena Pires"],
        "903": ["Fábio Junqueira"],
        "1002": ["Vera Lúcia Bragança"],
        "1004": ["Edson Moreira"],
        "1101": ["Camila Reis", "Bruno Reis"],
        "1103": ["Ivone Saldanha"],
        "1201": ["Laura Meireles"],
        "1204": ["Caio Brandão"],
    },
    "residencial_tres_torres.json": {
        "1-101": ["Osvaldo Pinheiro"],
        "1-302": ["Juliana Mattos"],
        "1-504": ["Rafael Cordeiro"],
        "1-1101": ["Neusa Amaral"],
        "1-1203": ["Gustavo Lins"],
        "1-1604": ["Débora Siqueira"],
        "2-103": ["Joana Prado"],
        "2-301": ["Márcia Lacerda", "Eduardo Lacerda"],
        "2-402": ["Juliana Barreto"],
        "2-604": ["Tiago Freitas"],
        "2-1001": ["Leandro Cavalcanti"],
        "2-1202": ["Rita de Cássia Monteiro"],
        "2-1503": ["Adriano Sales"],
        "3-201": ["Conceição Ramos"],
        "3-404": ["Washington Luiz Braga"],
        "3-702": ["Mariana Toledo"],
        "3-903": ["Everton Dias"],
        "3-1102": ["Kátia Rezende"],
        "3-1301": ["Jorge Almeida"],
        "3-1404": ["Beatriz Falcão"],
        "3-1502": ["Sílvia Nascimento", "Roberto Nascimento"],
        "3-1604": ["Henrique de Sá Barros"],
    },
    "condominio_parque_das_aguas.json": {
        "A-11": ["Zilda Coutinho"],
        "A-23": ["Marcos Vinícius Peixoto"],
        "A-42": ["Luiz Otávio Rangel"],
        "A-64": ["Cristiane Moraes"],
        "B-12": ["Luis Gustavo Rangel"],
        "B-34": ["Natália Guedes"],
        "B-53": ["Domingos Ferreira"],
        "C-14": ["Elaine Prado"],
        "C-21": ["Adalberto Vasconcelos"],
        "C-33": ["Flávia Tavares"],
        "C-51": ["Iracema Lobo"],
        "D-22": ["Maria José Bezerra"],
        "D-44": ["Cícero Lima"],
        "D-61": ["Lorena Fagundes", "Vinícius Fagundes"],
        "E-13": ["Gabriel Sousa"],
        "E-32": ["Gabriel Monteiro"],
        "E-54": ["Raquel Bittencourt"],
        "E-63": ["Ubirajara dos Santos"],
    },
    "edificio_mirante_do_vale.json": {
        "101": ["Terezinha Alencar"],
        "202": ["Moacir Pereira"],
        "402": ["Sandra Paiva"],
        "601": ["Cristóvão Leme"],
        "602": ["Denise Arruda"],
        "801": ["Jefferson Prates"],
        "1001": ["Odete Rangel"],
        "1002": ["Maurício Dantas"],
        "1102": ["Yasmin Khoury"],
        "1201": ["Letícia Barros"],
        "1202": ["Otávio Barros"],
        "1502": ["Aurélio Bastos"],
        "1601": ["Glória Figueira"],
        "1802": ["Vanessa Tomé"],
        "2001": ["Ronaldo Freire"],
        "2102": ["Amanda Xavier"],
        "2201": ["Pedro Paulo Mascarenhas"],
        "2302": ["Heloísa Quintana"],
        "2501": ["Maria Eduarda dos Anjos"],
        "2502": ["Fátima Serrano"],
    },
}


def layout(fname):
    if fname == "casas_vila_dos_ipes.json":
        return [str(i) for i in range(1, 15)]
    if fname == "edificio_jacaranda.json":
        return [f"{f}{u:02d}" for f in range(1, 13) for u in range(1, 5)]
    if fname == "residencial_tres_torres.json":
        return [f"{t}-{f}{u:02d}" for t in range(1, 4) for f in range(1, 17) for u in range(1, 5)]
    if fname == "condominio_parque_das_aguas.json":
        return [f"{b}-{f}{u}" for b in "ABCDE" for f in range(1, 7) for u in range(1, 5)]
    if fname == "edificio_mirante_do_vale.json":
        return [f"{f}{u:02d}" for f in range(1, 26) for u in range(1, 3)]
    raise KeyError(fname)


def voip(fname, apt):
    if fname == "casas_vila_dos_ipes.json":
        return f"PJSIP/casa{apt}"
    return "PJSIP/ap" + apt.replace("-", "_")


def main(seed=20250605):
    os.makedirs(OUT, exist_ok=True)
    fill = {}
    for i, fname in enumerate(sorted(HAND)):
        rng = random.Random(seed + i)
        units = []
        for apt in layout(fname):
            if apt in HAND[fname]:
                residents = list(HAND[fname][apt])
            else:
                last = rng.choice(FILL_LAST)
                n = rng.choice([1, 1, 1, 2, 2, 3])
                firsts = rng.sample(FILL_FIRST, n)
                residents = [f"{fn} {last}" for fn in firsts]
                fill.setdefault(fname, set()).update(residents)
            units.append({"apartment_number": apt, "residents": residents,
                          "voip_number": voip(fname, apt)})
        unknown = set(HAND[fname]) - set(layout(fname))
        assert not unknown, (fname, unknown)
        with open(os.path.join(OUT, fname), "w", encoding="utf-8") as fh:
            json.dump(units, fh, ensure_ascii=False, indent=1)
            fh.write("\n")
    return fill


if __name__ == "__main__":
    main()
    print("written to", OUT)
