"""End to end: the real Rasa server and action server on free ports, over the REST channel.

Needs the trained model (`make test` trains it first).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from bot.client import markers, route_of, send


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex}"


def walk_to_end(url: str, sender: str, first: list[dict], next_words: list[str]) -> list[dict]:
    """Follow a guide from its first reply to completion; return every marker seen."""
    seen = markers(first)
    assert seen and seen[0]["step"] == 1
    steps = seen[0]["steps"]
    for number in range(2, steps + 1):
        reply = send(url, sender, next_words[number % len(next_words)])
        marker = markers(reply)
        assert marker and marker[0]["step"] == number, (number, reply)
        seen += marker
    done = markers(send(url, sender, next_words[0]))
    assert done and done[0].get("completed") is True and done[0]["step"] == steps
    return seen + done


def test_every_guide_can_be_walked_with_buttons(bot_url, catalogue):
    for guide in catalogue.guides.values():
        sender = new_sender()
        first = send(bot_url, sender, f"/{guide.id}")
        assert route_of(first) == guide.id
        seen = walk_to_end(bot_url, sender, first, ["/next_step"])
        assert {m["guide"] for m in seen} == {guide.id}
        assert all(m["steps"] == guide.step_count for m in seen)


# A visitor's own words for every guide of the catalogue (both waves), walked to the end.
TYPED_STARTS = {
    "impots.espace_particulier": "je sais plus mon mot de passe du site des impots",
    "impots.declaration_revenus": "bonjour je dois declarer mes revenus sur internet",
    "impots.avis_imposition": "il me faut mon avis d imposition pour la mairie",
    "impots.prelevement_source": "je me suis marie je dois changer mon taux de prelevement",
    "impots.paiement": "comment je paye mes impots en plusieurs fois",
    "france_travail.inscription": "plus de travail je veux m inscrire a france travail",
    "france_travail.actualisation": "comment je fais pour m actualiser ce mois ci",
    "france_travail.espace_personnel": "jarrive pas a rentrer dans mon espace france travail",
    "france_travail.contact_conseiller": "envoyer un message a ma conseillere france travail",
    "france_travail.paiements": "mon allocation chomage est pas arrivee ce mois",
    "cv.rediger": "jai besoin de faire un cv pour travailler",
    "cv.lettre_motivation": "aidez moi a ecrire une lettre de motivation",
    "cv.candidature_email": "envoyer mon cv par mail a un employeur",
    "cv.deposer_en_ligne": "mettre mon cv en ligne pour que les patrons le voient",
    "compte.franceconnect": "c est quoi ce bouton franceconnect",
    "compte.adresse_email": "je voudrais me creer une boite mail",
    "securite.arnaques": "j'ai reçu un sms bizarre qui me demande ma carte bancaire",
    "caf.compte": "je me connecte pas a mon compte caf",
    "caf.prime_activite": "est ce que je peux avoir la prime d activite",
    "caf.declaration_trimestrielle": "je dois remplir ma declaration trimestrielle pour le rsa",
    "caf.rsa": "je voudrais demander le rsa",
    "ameli.compte": "ouvrir mon compte ameli sur internet",
    "ameli.attestation_droits": "imprimer mon attestation de droits ameli",
    "ameli.carte_vitale": "j ai perdu ma carte vitale comment en refaire une",
    "ants.carte_identite": "ma carte d identite est perimee il faut la refaire",
    "ants.permis_conduire": "je dois renouveler mon permis de conduire",
    "retraite.demande": "je veux faire ma demande de retraite sur internet",
    "compte.justificatif": "comment envoyer un papier scanne en pdf avec mon telephone",
    "compte.mot_de_passe": "je sais pas faire un mot de passe que je retiens",
    "securite.compte_pirate": "on a pirate ma boite mail que dois je faire",
}


def test_every_guide_has_a_typed_start(catalogue):
    assert set(TYPED_STARTS) == set(catalogue.ids)


@pytest.mark.parametrize("guide_id", sorted(TYPED_STARTS))
def test_a_guide_walked_with_typed_words(bot_url, guide_id):
    sender = new_sender()
    first = send(bot_url, sender, TYPED_STARTS[guide_id])
    assert route_of(first) == guide_id
    walk_to_end(bot_url, sender, first, ["c'est fait", "suivant", "ok c bon", "etape suivante"])
    thanks = send(bot_url, sender, "oui")
    assert markers(thanks) == [] and "Merci" in thanks[0]["text"]


def test_back_repeat_stuck_and_switch(bot_url):
    sender = new_sender()
    send(bot_url, sender, "/impots.espace_particulier")
    assert markers(send(bot_url, sender, "suivant"))[0]["step"] == 2
    assert markers(send(bot_url, sender, "suivant"))[0]["step"] == 3
    assert markers(send(bot_url, sender, "revenir en arriere"))[0]["step"] == 2
    assert markers(send(bot_url, sender, "tu peux répéter"))[0]["step"] == 2
    assert markers(send(bot_url, sender, "je bloque"))[0]["step"] == 2
    assert markers(send(bot_url, sender, "ça marche toujours pas"))[0] == {
        "handoff": "offered", "reason": "stuck"
    }  # fmt: skip
    switched = markers(send(bot_url, sender, "/cv.lettre_motivation"))
    assert switched[0]["guide"] == "cv.lettre_motivation" and switched[0]["step"] == 1


def test_routes_of_first_messages(bot_url):
    assert route_of(send(bot_url, new_sender(), "je voudrais parler a une vraie personne")) == (
        "handoff"
    )
    assert route_of(send(bot_url, new_sender(), "donne moi la meteo de demain")) == "fallback"
    assert route_of(send(bot_url, new_sender(), "les impots")) == "menu"
    # The carte Vitale has a guide now (second wave); the carte grise has none.
    uncovered = markers(send(bot_url, new_sender(), "je dois refaire ma carte grise"))
    assert len(uncovered) == 1 and uncovered[0]["fallback"] == "not_covered", uncovered


def test_greeting_has_no_marker(bot_url):
    reply = send(bot_url, new_sender(), "bonjour")
    assert markers(reply) == [] and "Bonjour" in reply[0]["text"]


@pytest.mark.parametrize("message", ["", "   ", "\x00\x01\x02", None, 12])
def test_empty_or_binary_input_gets_a_french_answer(bot_url, message):
    reply = send(bot_url, new_sender(), message)
    assert reply and reply[0]["text"]
    if message in ("", "   ", "\x00\x01\x02", None):
        assert "vide" in reply[0]["text"]


def test_huge_input_is_cut_and_answered(bot_url):
    reply = send(bot_url, new_sender(), "je veux faire mon cv " * 2000)
    assert "très long" in reply[0]["text"]
    assert route_of(reply) == "cv.rediger"


def test_html_input_is_kept_as_text(bot_url):
    reply = send(bot_url, new_sender(), "<script>alert('x')</script> imprimer avis impot")
    assert reply and all("<script>" not in (m.get("text") or "") for m in reply)


def test_unreadable_body_gets_a_french_answer(bot_url):
    request = urllib.request.Request(
        f"{bot_url}/webhooks/rest/webhook", data=b"\xff\xfe not json", method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 400
    assert "pas pu lire" in json.loads(info.value.read())[0]["text"]
