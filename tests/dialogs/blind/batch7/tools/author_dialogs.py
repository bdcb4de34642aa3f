"""Hand-written source of the batch-7 dialogs: writes batch7/*.json and tools/must_not_complete.json.

V(...) = valid dialog (confirm_no and keypad derived from the expected facts); N(...) = must-not-complete with its trap.
"""
import json, re
from pathlib import Path
OUT = Path(__file__).resolve().parent.parent
DIRS = {"AU": "edificio_aurora.json", "IP": "residencial_ipes.json",
        "MI": "torres_mirante.json", "VI": "vila_jardim.json"}
YES = ["Isso.", "Isso aí.", "É isso mesmo.", "Isso, correto.", "Sim, isso.", "Tá certo.", "Isso mesmo, obrigado."]
files = {}
traps = {}
_yi = [0]

def spoken(dk, apt):
    if dk == "IP":
        b, n = apt.split("-"); return f"bloco {b}, apartamento {n}"
    if dk == "MI":
        t, n = apt.split("-"); return f"torre {t}, apartamento {n}"
    if dk == "VI":
        return f"casa {apt}"
    return f"apartamento {apt}"

def V(theme, name, dk, turns, intent, visitor, apt, res, yes=None, no=None, keypad=None):
    if yes is None:
        yes = YES[_yi[0] % len(YES)]; _yi[0] += 1
    if no is None:
        what = "entrega" if intent == "entrega" else "visita"
        no = f"Não. Meu nome é {visitor}, é {what} pro {spoken(dk, apt)}, {res}."
    if keypad is None:
        keypad = apt.split("-")[-1]
    files.setdefault(theme, []).append({
        "name": name + "_b7", "directory": DIRS[dk], "turns": turns,
        "if_asked": {"confirm_yes": yes, "confirm_no": no, "keypad": keypad},
        "expect": {"intent_type": intent, "visitor_name": visitor, "apartment_number": apt,
                   "resident_name": res, "valid_for_action": True}})

def N(theme, name, dk, turns, intent, visitor, trap, no, yes="Isso.", keypad=None):
    ia = {"confirm_yes": yes, "confirm_no": no}
    if keypad is not None:
        ia["keypad"] = keypad
    files.setdefault(theme, []).append({
        "name": name + "_b7", "directory": DIRS[dk], "turns": turns, "if_asked": ia,
        "expect": {"intent_type": intent, "visitor_name": visitor, "valid_for_action": False}})
    traps[name + "_b7"] = trap

# ------------------------------------------------------------------ numeros_tortos
T = "numeros_tortos"
V(T, "num_300_51_marta", "AU", ["Boa tarde, eu vim fazer uma entrega para o apartamento 300-51.", "Meu nome é Carlos Pereira.", "É parada, Ana Marta Rezende."], "entrega", "Carlos Pereira", "301", "Marta Rezende")
V(T, "num_300_de_2_priscila", "IP", ["Oi, sou amiga da Priscila, vim visitar ela.", "Bloco F, apartamento 300 de 2.", "Meu nome é Tânia."], "visita", "Tânia", "F-302", "Priscila Antunes")
V(T, "num_500_4_renata_campos", "AU", ["Boa noite, vim visitar a Renata Campos.", "É o 500, 4.", "Eu sou a cunhada dela, Cristina."], "visita", "Cristina", "504", "Renata Campos")
V(T, "num_mil_100_e_2_beatriz", "AU", ["Entrega pro apartamento mil 100 e 2.", "É pra Beatriz Sousa.", "Meu nome é Edson."], "entrega", "Edson", "1102", "Beatriz Sousa")
V(T, "num_102_esta_roberto", "AU", ["boa noite, com morador do apartamento 102, está?", "Eu sou o Márcio, vim visitar o Roberto Almeida.", "É visita, meu nome é Márcio."], "visita", "Márcio", "102", "Roberto Almeida")
V(T, "num_400_e_3_joaquim", "AU", ["Sol Visita, vim ver o Joaquim, apartamento 400 e 3.", "Meu nome é Heitor."], "visita", "Heitor", "403", "Joaquim Ferraz")
N(T, "num_nmc_400_e_15", "AU", ["Oi, boa tarde, é visita pro apartamento 400 e 15.", "É pra dona Vânia.", "Meu nome é Sérgio."], "visita", "Sérgio",
  {"kind": "no_such_apartment", "apartment": "415", "also_no_resident": "Vânia"},
  "Não, é o quatrocentos e quinze, da dona Vânia.", keypad="415")
V(T, "num_1300_e_1_vanessa", "AU", ["Boa tarde. Entrega pro 1300 e 1.", "É pra Vanessa Moura. Obrigado.", "Meu nome é Fabrício."], "entrega", "Fabrício", "1301", "Vanessa Moura")
V(T, "num_12_03_eduardo", "AU", ["Visita pro 12, 03.", "Eu sou o Lauro, amigo do Eduardo Queiroz."], "visita", "Lauro", "1203", "Eduardo Queiroz")
V(T, "num_mil_e_4_cecilia", "AU", ["É visita. Apartamento mil e 4.", "É pra dona Cecília.", "Meu nome é Odete."], "visita", "Odete", "1004", "Cecília Prado")
V(T, "num_900_e_4_silvana", "AU", ["entrega para o 900 e 4 dona silvana", "meu nome é ricardo"], "entrega", "ricardo", "904", "Silvana Teixeira")
V(T, "num_limpo_702_otavio", "AU", ["Boa tarde, vim visitar o seu Otávio Barros do 702.", "Meu nome é Walter Nunes."], "visita", "Walter Nunes", "702", "Otávio Barros")
V(T, "num_casa_20_e_7_celio", "VI", ["Entrega pra casa 20 e 7.", "É pro seu Célio Macedo.", "Meu nome é Davi."], "entrega", "Davi", "27", "Célio Macedo")
V(T, "num_casa_10_8_tereza", "VI", ["Oi, vim ver a dona Tereza, da casa 10, 8.", "Sou a neta dela, Yasmin."], "visita", "Yasmin", "18", "Tereza Lemos")
V(T, "num_casa_3_zilda_arista", "VI", ["Bom dia. Casa 3, dona Zilda.", "Meu nome é Ivete, sou de arista dela."], "visita", "Ivete", "3", "Zilda Martins")
V(T, "num_100_e_6_valeria", "IP", ["Encomenda para o bloco dê, apartamento 100 e 6.", "Pra Valéria Siqueira.", "Meu nome é Cleiton."], "entrega", "Cleiton", "D-106", "Valéria Siqueira")
V(T, "num_400_7_bruno", "IP", ["Vim ver o Bruno Fagundes, bloco A.", "Apartamento 400, 7.", "Meu nome é Igor."], "visita", "Igor", "A-407", "Bruno Fagundes")
V(T, "num_mil_500_e_2_vitor_hugo", "MI", ["Boa noite, vim visitar o Vitor Hugo.", "Torre 1, apartamento mil 500 e 2.", "Meu nome é Samuel."], "visita", "Samuel", "1-1502", "Vitor Hugo Sales")
V(T, "num_1100_2_osvaldo", "MI", ["Entrega para a torre 2, 1100, 2.", "É pro seu Osvaldo.", "Meu nome é Jair."], "entrega", "Jair", "2-1102", "Osvaldo Teles")
V(T, "num_700_e_2_leticia", "MI", ["Visita pra Letícia, torre dois, apartamento 700 e 2.", "Meu nome é Bianca."], "visita", "Bianca", "2-702", "Letícia Amorim")
N(T, "num_nmc_mil_600_e_1", "AU", ["Entrega pro apartamento mil 600 e 1.", "Não tem nome, só o número.", "Meu nome é Rogério."], "entrega", "Rogério",
  {"kind": "no_such_apartment", "apartment": "1601"},
  "Não, é mil seiscentos e um, tá escrito aqui.", keypad="1601")
N(T, "num_nmc_200_3_sem_bloco", "IP", ["Encomenda dos correios pro apartamento 200... 3.", "O bloco tá apagado na etiqueta, não dá pra ler.", "Meu nome é Moacir."], "entrega", "Moacir",
  {"kind": "ambiguous_number", "candidates": ["A-203", "B-203", "C-203", "D-203", "E-203", "F-203"]},
 yes="Não sei dizer, moço, só tenho isso que eu falei.", no="Não sei o bloco, moço, só tem o 203 e não tem nome.", keypad="203")
N(T, "num_nmc_pacheco_sem_torre", "MI", ["Entrega pra Pacheco, apartamento mil 200 e 4.", "A etiqueta não fala a torre, só Pacheco.", "Meu nome é Elias."], "entrega", "Elias",
  {"kind": "ambiguous_number", "candidates": ["1-1204", "2-1204"], "shared_token": "Pacheco"},
 yes="Não sei dizer, moço, só tenho isso que eu falei.", no="Não sei a torre, só tá escrito Pacheco, 1204.", keypad="1204")
V(T, "num_200_5_aline_minusculo", "IP", ["aline gouveia bloco a 200 e 5", "sou o primo dela vinícius vim visitar"], "visita", "vinícius", "A-205", "Aline Gouveia")
V(T, "num_cento_e_4_pamela", "AU", ["Boa tarde, é entrega para o cento e 4.", "Pra Pâmela Duarte.", "Meu nome é Luan."], "entrega", "Luan", "104", "Pâmela Duarte")
V(T, "num_casa_1_2_anderson", "VI", ["Oi, casa 1 2, o Anderson tá?", "Meu nome é Paulo, sou colega de trabalho dele, é visita."], "visita", "Paulo", "12", "Anderson Pimentel")

# ------------------------------------------------------------------ nomes_escorregados
T = "nomes_escorregados"
V(T, "nome_famila_duarte", "AU", ["Boa tarde, vim visitar a Famila Duarte.", "Apartamento 104.", "Meu nome é Juliana."], "visita", "Juliana", "104", "Pâmela Duarte")
V(T, "nome_roger_tavares", "AU", ["Oi, é visita pro seu Roger Tavares.", "Apartamento 201.", "Eu sou o Anselmo."], "visita", "Anselmo", "201", "Rogério Tavares")
V(T, "nome_je_fez_som", "AU", ["Entrega do Mercado Livre pro Jé fez som Lima.", "Apartamento 203.", "Meu nome é Renan."], "entrega", "Renan", "203", "Jeferson Lima")
V(T, "nome_doblas_britos", "AU", ["vim ver o doblas britos do 204", "meu nome é caio"], "visita", "caio", "204", "Douglas Brito")
V(T, "nome_parada_ana_maria", "AU", ["É parada, Ana Maria Silva.", "Apartamento 600 e 4.", "Meu nome é Joana, vim fazer uma visita."], "visita", "Joana", "604", "Maria Silva")
V(T, "nome_gilberto_melo", "AU", ["Visita pro seu Gilberto Melo.", "Apartamento 303.", "Meu nome é Álvaro."], "visita", "Álvaro", "303", "Gilberto Mello")
V(T, "nome_luciana_mello", "AU", ["Entrega pra Luciana Mello, 300 e 4.", "Meu nome é Rui."], "entrega", "Rui", "304", "Luciana Melo")
V(T, "nome_carlos_sousa_tecnico", "AU", ["É pro Carlos Sousa, apartamento 302.", "Eu sou o técnico da internet, vim fazer a instalação.", "Meu nome é Nilton."], "visita", "Nilton", "302", "Carlos Souza")
V(T, "nome_enrique_souza", "AU", ["oi vim ver o enrique souza do mil cento e dois", "meu nome é felipe"], "visita", "felipe", "1102", "Henrique Sousa")
V(T, "nome_visitante_jucelino", "AU", ["Boa noite, meu nome é Jucê Lino.", "Vim visitar a Ingrid Assunção, do 1402."], "visita", "Jucê Lino", "1402", "Ingrid Assunção")
V(T, "nome_uelinton", "AU", ["Visita pro Uelinton, apartamento 803.", "Meu nome é Beto."], "visita", "Beto", "803", "Wellington Pires")
V(T, "nome_claudia_ranger", "AU", ["É pra dona Cláudia Ranger, 801.", "Entrega da farmácia.", "Meu nome é Josué."], "entrega", "Josué", "801", "Cláudia Rangel")
V(T, "nome_bastiao_rocha", "IP", ["Bom dia, vim ver o seu Bastião Rocha, bloco a 103.", "Meu nome é Geraldo."], "visita", "Geraldo", "A-103", "Sebastião Rocha")
V(T, "nome_eloisa_barreto", "IP", ["Entrega pra Eloisa Barreto, bloco C, 108.", "Meu nome é Wesley."], "entrega", "Wesley", "C-108", "Heloísa Barreto")
V(T, "nome_adriana_souza_bloco_a", "IP", ["Vim ver a Adriana Souza, bloco A, apartamento 302.", "Meu nome é Lúcia. Sol Visita."], "visita", "Lúcia", "A-302", "Adriana Sousa",
  no="Não. Meu nome é Lúcia, visita pra Adriana do bloco A, apartamento 302.")
V(T, "nome_ivone_bloco_e", "IP", ["entrega da xopi pra ivone carvalho", "bloco é 305", "meu nome é tadeu"], "entrega", "tadeu", "E-305", "Ivone Carvalho")
V(T, "nome_leandro_pacheco", "MI", ["Vim visitar o Leandro Pacheco.", "Torre um, 1204.", "Meu nome é Gabriel."], "visita", "Gabriel", "1-1204", "Leandro Pacheco")
V(T, "nome_mirela_solma", "MI", ["É pra Mirela Pacheco, da torre 2.", "Apartamento mil 200 e 4.", "Meu nome é Sônia, solmã da amiga dela, vim buscar a menina."], "visita", "Sônia", "2-1204", "Mirela Pacheco")
V(T, "nome_benedito_torre_2", "MI", ["visita pro seu Benedito torre 2 apartamento 1003", "Meu nome é Nestor."], "visita", "Nestor", "2-1003", "Benedito Guimarães")
V(T, "nome_ademar_jardineiro", "VI", ["Oi, o seu Ademar Couto, casa 7.", "Meu nome é Zé Carlos, sou o jardineiro, vim fazer o serviço."], "visita", "Zé Carlos", "7", "Ademar Couto")
V(T, "nome_neuza_casa_7", "VI", ["Entrega pra dona Neuza, casa 7.", "Meu nome é Gilmar."], "entrega", "Gilmar", "7", "Neusa Couto")
N(T, "nome_nmc_renata_quinto_andar", "AU", ["Vim ver a Renata, do quinto andar.", "Não lembro o número do apartamento, só que é no quinto.", "Meu nome é Paula, é visita."], "visita", "Paula",
  {"kind": "ambiguous_resident", "token": "Renata", "candidates": ["502", "504"]},
 yes="Não sei dizer, moço, só tenho isso que eu falei.", no="Não sei o número, é a Renata do quinto andar.")
N(T, "nome_nmc_otavio_802", "AU", ["Boa tarde, vim visitar o seu Otávio Barros.", "Apartamento 802.", "Meu nome é Valter."], "visita", "Valter",
  {"kind": "resident_not_in_apartment", "apartment": "802", "token": "Otávio Barros"},
  "Não, é o 802, seu Otávio Barros.", keypad="802")
N(T, "nome_nmc_recusa_tereza", "VI", ["Visita pra dona Tereza, casa 18.", "Não vou dar meu nome não, ela sabe quem é.", "Só avisa ela que eu tô aqui."], "visita", None,
  {"kind": "refused_name", "apartment": "18", "token": "Tereza"},
 yes="Isso, mas nome eu não vou dar.", no="Não, já falei que não vou dar nome.", keypad="18")

# ------------------------------------------------------------------ marcas_e_entregas
T = "marcas_e_entregas"
V(T, "marca_efold_casa_5", "VI", ["entrega do e-fold para o 5.", "É pra Jaqueline.", "Meu nome é Ítalo."], "entrega", "Ítalo", "5", "Jaqueline Freitas")
V(T, "marca_efoge_902", "AU", ["entrega do efoge para os 900 e 2.", "Pro Tiago Correia.", "Meu nome é Alex."], "entrega", "Alex", "902", "Tiago Correia")
V(T, "marca_logica_bloco_be", "IP", ["Lógica, entrega pro bloco bê, 406.", "Pra Sueli Ramos.", "Meu nome é Fagner."], "entrega", "Fagner", "B-406", "Sueli Ramos")
V(T, "marca_xopi_gisele", "MI", ["Xopi, tenho um pacote pra Gisele Franco.", "Torre 2, apartamento 400 e 4.", "Meu nome é Júnior."], "entrega", "Júnior", "2-404", "Gisele Franco")
V(T, "marca_mercado_livre_bloco_ser", "IP", ["mercado livre entrega para o apartamento 204 bloco ser.", "É pro Márcio Fontes.", "Meu nome é Everaldo."], "entrega", "Everaldo", "C-204", "Márcio Fontes")
V(T, "marca_correios_bloco_a", "IP", ["tem uma encomenda dos correios para o bloco a apartamento 103.", "Pro seu Sebastião.", "Meu nome é Rosa."], "entrega", "Rosa", "A-103", "Sebastião Rocha")
V(T, "marca_a_mazon_1504", "AU", ["Entrega da a mazon pro 1504.", "Leonardo Bastos.", "Meu nome é Diego."], "entrega", "Diego", "1504", "Leonardo Bastos")
V(T, "marca_happy_raimundo", "AU", ["É do happy, entrega pro 1002.", "Pro seu Raimundo.", "Meu nome é Kauã."], "entrega", "Kauã", "1002", "Raimundo Farias")
V(T, "marca_magalo_everton", "MI", ["Entrega da Magalo pra torre 1, 601.", "Everton Rios.", "Meu nome é Jonas."], "entrega", "Jonas", "1-601", "Everton Rios")
V(T, "marca_ze_de_liver_wagner", "VI", ["Zé de Liver, entrega pra casa 21.", "É pro Wagner.", "Meu nome é Patrick."], "entrega", "Patrick", "21", "Wagner Figueira")
V(T, "marca_ai_foodie_rodrigo", "VI", ["Aí, Foodie, pedido pra casa 14.", "Pro Rodrigo Bezerra.", "Meu nome é Mateus."], "entrega", "Mateus", "14", "Rodrigo Bezerra")
V(T, "marca_sede_x_daniela", "IP", ["Sede X dos correios pro bloco E, 401.", "Daniela Moraes.", "Meu nome é Joel."], "entrega", "Joel", "E-401", "Daniela Moraes")
V(T, "marca_logi_natalia_minusculo", "MI", ["entrega da lógi pra natália brandão torre dois 1300 e 3", "meu nome é robson"], "entrega", "robson", "2-1303", "Natália Brandão")
V(T, "marca_xing_cecilia", "AU", ["Encomenda da Xing pra dona Cecília Prado.", "Apartamento mil e 4.", "Meu nome é Ester."], "entrega", "Ester", "1004", "Cecília Prado")
V(T, "marca_jade_log_thiago", "IP", ["Jade Log, entrega pro bloco F 205.", "Thiago Nascimento.", "Meu nome é Kléber."], "entrega", "Kléber", "F-205", "Thiago Nascimento")
V(T, "marca_uber_fresh_camila", "MI", ["Uber Fresh, entrega pra Camila Ventura, torre 1, 800 e 4.", "Meu nome é Otávio."], "entrega", "Otávio", "1-804", "Camila Ventura")
V(T, "marca_ifood_repetido_claudia", "AU", ["Entrega do iFood do iFood pro 801.", "Pra Cláudia.", "Meu nome é Bruno."], "entrega", "Bruno", "801", "Cláudia Rangel")
V(T, "marca_droga_sil_rosana", "VI", ["Entrega da droga Sil pra casa 23.", "Pra dona Rosana.", "Meu nome é Marlon."], "entrega", "Marlon", "23", "Rosana Vidal")
V(T, "marca_mercado_livre_torre_dois", "MI", ["Mercado Livre, entrega para o apartamento 302, torre dois.", "Cristiane Lacerda.", "Meu nome é Adilson."], "entrega", "Adilson", "2-302", "Cristiane Lacerda")
V(T, "marca_shopi_mauro_minusculo", "IP", ["shopi entrega bloco d 308 mauro vieira", "meu nome é valdir"], "entrega", "valdir", "D-308", "Mauro Vieira")
V(T, "marca_ali_express_jeferson", "AU", ["Ali, Express, pacote pro 203.", "Jeferson Lima.", "Meu nome é Igor."], "entrega", "Igor", "203", "Jeferson Lima")
N(T, "marca_nmc_xopi_vera", "AU", ["Xopi, entrega pra dona Vera, apartamento 900 e 2.", "Meu nome é Rafael."], "entrega", "Rafael",
  {"kind": "resident_not_in_apartment", "apartment": "902", "token": "Vera", "nobody_has_it": True},
  "Não, é pra dona Vera, do 902.", keypad="902")
N(T, "marca_nmc_logica_1603", "MI", ["Lógica, entrega pra torre 2, apartamento mil 600 e 3.", "O nome tá rasgado na etiqueta.", "Meu nome é Wanderson."], "entrega", "Wanderson",
  {"kind": "no_such_apartment", "apartment": "2-1603"},
  "Não, torre 2, mil seiscentos e três.", keypad="1603")
N(T, "marca_nmc_recusa_entregador", "IP", ["Mercado Livre, entrega pro bloco C, 301, Lucas Andrade.", "Nome não precisa, é só entrega, deixa eu subir.", "Não vou falar meu nome."], "entrega", None,
  {"kind": "refused_name", "apartment": "C-301", "token": "Lucas Andrade"},
 yes="Isso, mas nome eu não vou dar.", no="Não vou falar meu nome, só abre aí.", keypad="301")

# ------------------------------------------------------------------ intencoes_e_ruido
T = "intencoes_e_ruido"
V(T, "int_bebida_eduardo", "AU", ["Boa tarde, é uma bebida, vim ver o Eduardo do 1203.", "Meu nome é Fernando, sou amigo dele."], "visita", "Fernando", "1203", "Eduardo Queiroz")
V(T, "int_entrevista_pacote_vanessa", "AU", ["Oi, é entrevista, tenho um pacote pro 1301.", "Pra Vanessa Moura.", "Meu nome é Reginaldo."], "entrega", "Reginaldo", "1301", "Vanessa Moura")
V(T, "int_amara_julia_solma", "AU", ["Vim buscar a Julia do 601. Legendas pela comunidade Amara.org", "Meu nome é Solange, solmã da amiga dela."], "visita", "Solange", "601", "Júlia Nogueira")
V(T, "int_obrigado_simone", "IP", ["Encomenda pro bloco B, 102. Obrigado.", "É pra Simone Batista. Obrigado.", "Meu nome é Anderson."], "entrega", "Anderson", "B-102", "Simone Batista")
V(T, "int_ha_hugo", "MI", ["Hã.", "Boa noite, hã, visita pro Hugo Sampaio.", "Torre 1, 1401.", "Meu nome é Fausto."], "visita", "Fausto", "1-1401", "Hugo Sampaio")
V(T, "int_partamento_joaquim", "AU", ["partamento 403, vim ver o Joaquim.", "Meu nome é Caetano, é visita."], "visita", "Caetano", "403", "Joaquim Ferraz")
V(T, "int_repetido_fatima", "VI", ["Boa tarde boa tarde, é a entrega, a entrega pra casa 30.", "Pra dona Fátima Quintela.", "Meu nome é Lorena."], "entrega", "Lorena", "30", "Fátima Quintela")
V(T, "int_tecnico_silvana", "AU", ["Eu sou o técnico da internet, vim fazer a instalação.", "Apartamento 900, 4. Silvana.", "Meu nome é Emerson."], "visita", "Emerson", "904", "Silvana Teixeira")
V(T, "int_de_arista_fernanda", "AU", ["Meu nome é Ana Beatriz Souza, sou de arista da dona Fernanda.", "Apartamento 401."], "visita", "Ana Beatriz Souza", "401", "Fernanda Castro")
V(T, "int_pintou_rafael", "IP", ["Sou o pintou, vim fazer o serviço no bloco F, 108.", "Do Rafael Cunha.", "Meu nome é Wilson."], "visita", "Wilson", "F-108", "Rafael Cunha")
V(T, "int_encanado_ivone", "IP", ["Sou encanado, vim consertar o vazamento.", "Bloco ê, 305, dona Ivone.", "Meu nome é Reinaldo."], "visita", "Reinaldo", "E-305", "Ivone Carvalho")
V(T, "int_encomenda_moises", "MI", ["Vim deixar uma encomenda pro Moisés Fonseca.", "Torre 1, 900 e 3.", "Meu nome é Paulo."], "entrega", "Paulo", "1-903", "Moisés Fonseca")
V(T, "int_sol_visita_jussara", "MI", ["Sol Visita. Vim ver a Jussara, torre 2.", "Apartamento 900 e 1.", "Meu nome é Clara."], "visita", "Clara", "2-901", "Jussara Pinheiro")
V(T, "int_minusculo_nelson", "VI", ["é visita pro nelson arruda da casa 9 obrigado", "meu nome é gerson"], "visita", "gerson", "9", "Nelson Arruda")
V(T, "int_legendas_lucas", "IP", ["Legendas pela comunidade Amara.org", "Boa noite, visita pro Lucas Andrade, bloco cê, 301.", "Meu nome é Murilo."], "visita", "Murilo", "C-301", "Lucas Andrade")
V(T, "int_buscar_kelly", "VI", ["Vim buscar a filha da Kelly, solmã da amiga dela.", "Casa 15.", "Meu nome é Andreia."], "visita", "Andreia", "15", "Kelly Cristina Barbosa")
V(T, "int_festa_leonardo", "AU", ["Oi, vim pra festa do Leonardo, do 1500 e 4.", "Meu nome é Nicolas."], "visita", "Nicolas", "1504", "Leonardo Bastos")
V(T, "int_personal_natalia", "MI", ["Sou o personal da Natália, torre dois.", "1300, 3.", "Meu nome é Ricardo."], "visita", "Ricardo", "2-1303", "Natália Brandão")
V(T, "int_flores_monica", "VI", ["Entrega de flores pra Mônica, casa 26.", "Meu nome é Luana. Obrigado."], "entrega", "Luana", "26", "Mônica Salgado")
V(T, "int_solta_entrega_ingrid", "AU", ["trega, trega pro 1402.", "É pra Ingrid Assunção, um pacote.", "Meu nome é Tales. Obrigado."], "entrega", "Tales", "1402", "Ingrid Assunção")
N(T, "int_nmc_casa_50_e_1", "VI", ["Entrega pra casa 50 e 1.", "É pra dona Gláucia.", "Meu nome é Evandro."], "entrega", "Evandro",
  {"kind": "no_such_apartment", "apartment": "51", "also_no_resident": "Gláucia"},
  "Não, casa cinquenta e um, dona Gláucia.", keypad="51")
N(T, "int_nmc_bebida_gertrudes", "AU", ["É uma bebida, vim ver a dona Gertrudes, sou sobrinho dela.", "Apartamento mil e 4.", "Meu nome é Alan."], "visita", "Alan",
  {"kind": "resident_not_in_apartment", "apartment": "1004", "token": "Gertrudes", "nobody_has_it": True},
  "Não, é a dona Gertrudes, do mil e quatro.", keypad="1004")
N(T, "int_nmc_amara_mil_3", "MI", ["Legendas pela comunidade Amara.org", "Entrega pra torre 1, apartamento mil... hã... 3.", "O número tá borrado, não tem nome no pacote.", "Meu nome é Jean."], "entrega", "Jean",
  {"kind": "ambiguous_number", "candidates": ["1-1003", "1-1103", "1-1203", "1-1303", "1-1403", "1-1503"]},
 yes="Não sei dizer, moço, só tenho isso que eu falei.", no="Não sei, tá borrado, é mil e alguma coisa e 3.")
N(T, "int_nmc_rafael_f302", "IP", ["Vim ver o Rafael Cunha, bloco efe.", "Apartamento 300 e 2.", "Meu nome é Leandro."], "visita", "Leandro",
  {"kind": "resident_not_in_apartment", "apartment": "F-302", "token": "Rafael"},
  "Não, bloco F, 302, o Rafael Cunha.", keypad="302")

# ------------------------------------------------------------------ blocos_e_torres
T = "blocos_e_torres"
V(T, "bloco_b_joaquim_a_partamento", "IP", ["Sol Visita, vim ver o Joaquim do bloco B, a partamento 304.", "Meu nome é Sílvio."], "visita", "Sílvio", "B-304", "Joaquim Pereira")
V(T, "bloco_be_katia_minusculo", "IP", ["entrega pro bloco bê 203 kátia lopes", "meu nome é rômulo"], "entrega", "rômulo", "B-203", "Kátia Lopes")
V(T, "bloco_de_gustavo_xara", "IP", ["Visita pro Gustavo Henrique, bloco dê, 203.", "Meu nome é Gustavo também, Gustavo Lemos."], "visita", "Gustavo Lemos", "D-203", "Gustavo Henrique Paiva")
V(T, "bloco_e_gustavo_reis", "IP", ["Entrega pro Gustavo Reis.", "Bloco ê, apartamento 200 e 3.", "Meu nome é Tiago."], "entrega", "Tiago", "E-203", "Gustavo Reis")
V(T, "bloco_efe_priscila_minusculo", "IP", ["bloco efe apartamento 302 priscila antunes visita", "meu nome é denise"], "visita", "denise", "F-302", "Priscila Antunes")
V(T, "bloco_ce_heloisa", "IP", ["Boa tarde, bloco cê, 100 e 8.", "É visita pra Heloísa.", "Meu nome é Sara."], "visita", "Sara", "C-108", "Heloísa Barreto")
V(T, "bloco_a_bruno_minusculo", "IP", ["bloco a 407 o bruno tá", "é visita meu nome é otávio"], "visita", "otávio", "A-407", "Bruno Fagundes")
V(T, "bloco_de_mauro_farmacia", "IP", ["É do bloco de 308, pro seu Mauro Vieira.", "Entrega da farmácia.", "Meu nome é Cosme."], "entrega", "Cosme", "D-308", "Mauro Vieira")
V(T, "bloco_e_acento_daniela", "IP", ["Vim ver a Daniela, bloco é, 400 e 1.", "Meu nome é Viviane."], "visita", "Viviane", "E-401", "Daniela Moraes")
V(T, "bloco_ce_adriana_sousa", "IP", ["Entrega pra Adriana Sousa, bloco cê, 302.", "Meu nome é Elton."], "entrega", "Elton", "C-302", "Adriana Souza",
  no="Não. Meu nome é Elton, entrega pra Adriana do bloco C, apartamento 302.")
V(T, "bloco_f_thiago", "IP", ["É pro Thiago do bloco F, 205.", "Visita, meu nome é Renato."], "visita", "Renato", "F-205", "Thiago Nascimento")
V(T, "torre_dois_elaine", "MI", ["Torre dois, apartamento 1500 e 1.", "É visita pra dona Elaine Prates.", "Meu nome é Leila."], "visita", "Leila", "2-1501", "Elaine Prates")
V(T, "torre_um_rita", "MI", ["Entrega pra Rita Cassiano, torre um, 1102.", "Meu nome é Anderson."], "entrega", "Anderson", "1-1102", "Rita Cassiano")
V(T, "torre_1_marcelo_minusculo", "MI", ["visita torre 1 apartamento 1300 e 2 marcelo dantas", "meu nome é jean"], "visita", "jean", "1-1302", "Marcelo Dantas")
V(T, "torre_1_paulo_sergio", "MI", ["Boa tarde, torre 1, mil e 4.", "Visita pro Paulo Sérgio.", "Meu nome é Wagner."], "visita", "Wagner", "1-1004", "Paulo Sérgio Matos")
V(T, "torre_dois_leticia_limpo", "MI", ["Entrega, torre dois, 702, Letícia Amorim.", "Meu nome é Rodrigo."], "entrega", "Rodrigo", "2-702", "Letícia Amorim")
V(T, "torre_2_mirela_nao_leandro", "MI", ["Vim ver o Pacheco, torre 2, 1204.", "A Mirela, a Mirela Pacheco.", "Meu nome é Bárbara, é visita."], "visita", "Bárbara", "2-1204", "Mirela Pacheco")
V(T, "torre_1_hugo_visitante_vitor", "MI", ["Visita pro Hugo, torre 1.", "Apartamento 1400 e 1.", "Meu nome é Vitor."], "visita", "Vitor", "1-1401", "Hugo Sampaio")
V(T, "torre_de_rita_tele", "MI", ["Torre dê... torre um, apartamento 1100 e 2, é entrega.", "Pra Rita Cassiano.", "Meu nome é Hamilton."], "entrega", "Hamilton", "1-1102", "Rita Cassiano")
V(T, "casa_sete_ademar", "VI", ["Casa sete, seu Ademar, é entrega.", "Meu nome é Everton."], "entrega", "Everton", "7", "Ademar Couto")
V(T, "aurora_uma_fala_ingrid", "AU", ["entrega pro 1402 ingrid assunção meu nome é tales"], "entrega", "tales", "1402", "Ingrid Assunção")
N(T, "bloco_nmc_ge_105", "IP", ["Encomenda pro bloco gê, 105.", "O nome tá apagado.", "Meu nome é Rubens."], "entrega", "Rubens",
  {"kind": "no_such_apartment", "apartment": "G-105"},
  "Não, bloco G, de gato, 105.", keypad="105")
N(T, "bloco_nmc_torre_tres", "MI", ["Visita pra torre três, apartamento 800 e 4.", "Pro seu Ronaldo.", "Meu nome é Marcos."], "visita", "Marcos",
  {"kind": "no_such_apartment", "apartment": "3-804", "also_no_resident": "Ronaldo"},
  "Não, torre três, 804, seu Ronaldo.", keypad="804")
N(T, "bloco_nmc_arnaldo_c204", "IP", ["entrega bloco cê 204 pro seu arnaldo", "meu nome é kauê"], "entrega", "kauê",
  {"kind": "resident_not_in_apartment", "apartment": "C-204", "token": "Arnaldo", "nobody_has_it": True},
  "Não, bloco C, 204, seu Arnaldo.", keypad="204")
N(T, "bloco_nmc_casa_20_e", "VI", ["Entrega pra casa 20 e... hã...", "Não dá pra ler o resto, o pacote molhou.", "Meu nome é Luiz. Obrigado."], "entrega", "Luiz",
  {"kind": "ambiguous_number", "candidates": [str(n) for n in range(20, 30)]},
 yes="Não sei dizer, moço, só tenho isso que eu falei.", no="Não sei, só dá pra ler vinte e alguma coisa.")

for theme, dialogs in files.items():
    (OUT / f"{theme}.json").write_text(json.dumps(dialogs, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(theme, len(dialogs), sum(1 for d in dialogs if not d["expect"]["valid_for_action"]))
(OUT / "tools" / "must_not_complete.json").write_text(json.dumps(traps, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
