"""Dated facts age: each carries dates a program can compare, today's catalogue holds none
that has expired, and once one expires the console says « à revoir » while the visitor is
sent to the official page instead of reading the old date."""

from __future__ import annotations

import datetime as dt
import html
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from bot import walk
from bot.accounts import AccountStore
from bot.guides import (
    DATED_FACT_RE,
    Catalogue,
    Guide,
    Validity,
    load_catalogue,
    paris_today,
    parse_guide,
)
from bot.orientation import TABLE_FILE, load_table
from bot.settings import ROOT, Settings
from bot.walk import WalkState
from bot.web.app import create_app
from bot.web.reports import ReportPages

KNOWLEDGE = ROOT / "knowledge"
CHECK_SENTENCE = "sur la page officielle, avec le lien ci-dessous."

# A guide of three steps: a campaign deadline that ends, a rule « en vigueur depuis … »
# with a review date, and a plain step.
DEMO: dict[str, Any] = {
    "id": "demo.dates",
    "title": "Un guide daté",
    "summary": "Un guide pour les tests des dates.",
    "audience": ["Tout le monde."],
    "prerequisites": [],
    "steps": [
        {
            "instruction": "Déclarez vos revenus. La date limite est le 22 mai 2025.",
            "detail": "Il y a trois zones. En 2025, la fin est le 5 juin pour la zone 3.",
            "valid_for": "campagne 2025 (revenus 2024)",
            "valid_until": dt.date(2025, 6, 5),
            "link": {"label": "Déclarer en ligne", "url": "https://www.impots.gouv.fr/declarer"},
        },
        {
            "instruction": "Tapez le code reçu par mail. Il est demandé depuis le 25 juin 2025.",
            "valid_for": "règle en vigueur depuis le 25 juin 2025",
            "valid_from": dt.date(2025, 6, 25),
            "review_by": dt.date(2027, 6, 30),
        },
        {"instruction": "Déconnectez-vous à la fin."},
    ],
    "human_help": ["Le médiateur numérique."],
    "sources": [{"title": "Impots.gouv.fr", "url": "https://www.impots.gouv.fr"}],
    "verified_on": dt.date(2025, 7, 1),
    "coop_category": "argent_impots",
    "dated_facts": [
        {
            "fact": "Date limite en ligne : 22 mai, 28 mai ou 5 juin selon la zone.",
            "valid_for": "campagne 2025 (revenus 2024)",
            "valid_until": dt.date(2025, 6, 5),
            "source": "https://www.impots.gouv.fr",
        }
    ],
}


def demo_guide() -> Guide:
    return parse_guide(DEMO, Path("demo.dates.yml"), today=dt.date(2025, 7, 1))


def demo_catalogue(today: dt.date) -> Catalogue:
    return Catalogue({"demo.dates": demo_guide()}, clock=lambda: today)


def text_of(reply: walk.Reply) -> str:
    return "\n".join(m.text for m in reply.messages)


# ---- every dated fact can be compared with a date --------------------------------------------


def test_every_dated_fact_has_a_machine_readable_validity(catalogue):
    missing = []
    for guide in catalogue.guides.values():
        for number, step in enumerate(guide.steps, 1):
            said = " ".join(filter(None, (step.instruction, step.detail, step.warning)))
            if (step.valid_for or DATED_FACT_RE.search(said)) and (
                step.validity is None or step.validity.check_by is None
            ):
                missing.append(f"{guide.id}.yml, étape {number}")
        for number, fact in enumerate(guide.dated_facts, 1):
            if fact.validity.check_by is None:
                missing.append(f"{guide.id}.yml, information datée {number}")
    raw_table = yaml.safe_load((KNOWLEDGE / TABLE_FILE).read_text(encoding="utf-8"))
    for entry in raw_table:
        if entry.get("valid_for") and not (entry.get("valid_until") or entry.get("review_by")):
            missing.append(f"{TABLE_FILE}, {entry['id']}: valid_until or review_by")
    assert missing == [], "dated facts without valid_until or review_by: " + "; ".join(missing)


def test_the_catalogue_counts_its_dated_facts(catalogue):
    dated = [s for g in catalogue.guides.values() for s in g.steps if s.validity]
    facts = [f for g in catalogue.guides.values() for f in g.dated_facts]
    assert len(dated) + len(facts) >= 40
    # Rules « en vigueur depuis … » have no end: each is checked again by a date.
    open_ended = [s.validity for s in dated if s.validity and s.validity.valid_until is None]
    assert open_ended and all(v.review_by for v in open_ended)


def test_no_dated_fact_has_expired_today():
    """Fails when a dated fact of the real catalogue has passed its date: review it."""
    today = paris_today()
    catalogue = replace(load_catalogue(KNOWLEDGE), clock=lambda: today)
    lines = [
        f"{guide_id}.yml, {fact.where} « {fact.validity.valid_for} » : {fact.reason}"
        for guide_id, facts in catalogue.expired().items()
        for fact in facts
    ]
    lines += [
        f"{TABLE_FILE}, {entry.id} « {entry.valid_for} » : à revoir"
        for entry in load_table(KNOWLEDGE).values()
        if entry.stale(today)
    ]
    assert not lines, (
        f"Dated facts expired on {today}. Check each against ../shared/docs/domain-facts.md "
        "and the official page, then update the text, its valid_until or review_by, and the "
        "guide's verified_on:\n" + "\n".join(lines)
    )


# ---- expiry --------------------------------------------------------------------------------


def test_an_ended_fact_makes_its_guide_a_revoir():
    guide = demo_guide()
    assert guide.expired_facts(dt.date(2025, 6, 5)) == []  # its last day still counts
    expired = guide.expired_facts(dt.date(2025, 6, 6))
    assert [f.where for f in expired] == ["étape 1", "information datée 1"]
    assert expired[0].reason == "valable jusqu'au 05/06/2025"
    assert demo_catalogue(dt.date(2025, 6, 6)).expired() == {"demo.dates": expired}


def test_an_open_ended_rule_is_not_flagged_before_its_review_date():
    rule = Validity("depuis le 25 juin 2025", valid_from=dt.date(2025, 6, 25),
                    review_by=dt.date(2027, 6, 30))  # fmt: skip
    assert not rule.expired(dt.date(2027, 6, 30))
    assert rule.expired(dt.date(2027, 7, 1))
    guide = demo_guide()
    assert [f.where for f in guide.expired_facts(dt.date(2027, 6, 30))] == [
        "étape 1",
        "information datée 1",
    ]
    later = guide.expired_facts(dt.date(2027, 7, 1))
    assert "étape 2" in [f.where for f in later]
    assert later[1].reason == "à revérifier avant le 30/06/2027"


def test_far_in_the_future_every_guide_with_a_dated_fact_is_a_revoir(catalogue):
    future = replace(catalogue, clock=lambda: dt.date(2040, 1, 1))
    dated = {
        g.id for g in catalogue.guides.values() if g.dated_facts or any(s.validity for s in g.steps)
    }
    assert dated and set(future.expired()) == dated


# ---- what the visitor reads ----------------------------------------------------------------


def test_the_walk_does_not_state_an_expired_date():
    before = demo_catalogue(dt.date(2025, 5, 1))
    said = text_of(walk.start_guide(before, "demo.dates", WalkState()))
    assert "22 mai 2025" in said and "Information valable pour : campagne 2025" in said

    after = demo_catalogue(dt.date(2026, 1, 15))
    reply = walk.start_guide(after, "demo.dates", WalkState())
    step = reply.messages[-1].text
    assert "22 mai" not in step and "2025" not in step
    assert step.startswith(
        "Étape 1 sur 3\nDéclarez vos revenus. Vérifiez la date à jour " + CHECK_SENTENCE
    )
    assert "Lien : Déclarer en ligne — https://www.impots.gouv.fr/declarer" in step
    assert reply.messages[-1].custom == {"guide": "demo.dates", "step": 1, "steps": 3}

    detail = text_of(walk.step_detail(after, reply.state))
    assert "5 juin" not in detail and "Il y a trois zones." in detail


def test_an_expired_rule_without_a_link_sends_to_the_guides_source():
    catalogue = demo_catalogue(dt.date(2027, 7, 1))
    state = WalkState(guide_id="demo.dates", step=1)
    step = walk.next_step(catalogue, state).messages[-1].text
    assert "25 juin" not in step
    assert "Cette information a peut-être changé : vérifiez-la " + CHECK_SENTENCE in step
    assert "Lien : Impots.gouv.fr — https://www.impots.gouv.fr" in step
    # A step wholly made of dated sentences is never empty: the check sentence stays.
    assert step.split("\n")[1].startswith("Tapez le code reçu par mail.")


def test_a_step_of_dated_sentences_only_still_says_something():
    data = DEMO | {"steps": [{**DEMO["steps"][0], "instruction": "Fin le 22 mai 2025."}]
                   + DEMO["steps"][1:]}  # fmt: skip
    guide = parse_guide(data, Path("demo.dates.yml"), today=dt.date(2025, 7, 1)).as_of(
        dt.date(2026, 1, 1)
    )
    assert guide.step(1).instruction == "Vérifiez la date à jour " + CHECK_SENTENCE
    assert guide.step(1).outdated and guide.step(1).link


def test_every_real_guide_can_be_walked_after_its_dates_expire(catalogue):
    future = replace(catalogue, clock=lambda: dt.date(2040, 1, 1))
    for guide_id in catalogue.ids:
        reply = walk.start_guide(future, guide_id, WalkState())
        for number in range(1, catalogue[guide_id].step_count + 1):
            original = catalogue[guide_id].step(number)
            step = reply.messages[-1].text
            assert step.split("\n")[1].strip(), (guide_id, number)
            if original.validity:
                current = future.current(guide_id)
                assert current is not None
                shown = current.step(number)
                said = " ".join(filter(None, (shown.instruction, shown.detail, shown.warning)))
                assert not DATED_FACT_RE.search(said), (guide_id, number, said)
                assert CHECK_SENTENCE in step and "\nLien : " in step, (guide_id, number)
                assert "Information valable pour" not in step
            reply = walk.next_step(future, reply.state)


# ---- what the mediator sees ----------------------------------------------------------------

PASSWORD = "correct horse battery"


@pytest.fixture
def console(tmp_path: Path) -> TestClient:
    """The console over a copy of knowledge/ where impots.paiement has two facts that end
    on 1 March 2027."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, knowledge)
    path = knowledge / "impots.paiement.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    step = next(s for s in data["steps"] if s.get("valid_for"))
    for dated in (step, data["dated_facts"][0]):
        dated.pop("review_by", None)
        dated["valid_until"] = dt.date(2027, 3, 1)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    settings = Settings(
        Settings.from_env().values
        | {"DATA_DIR": str(tmp_path / "var"), "KNOWLEDGE_DIR": str(knowledge)}
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with AccountStore.open(settings) as accounts:
        accounts.create("camille", PASSWORD)
    client = TestClient(create_app(settings), follow_redirects=False)
    login = client.get("/mediation/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', login)
    assert token
    response = client.post(
        "/mediation/login", data={"name": "camille", "password": PASSWORD, "csrf": token[1]}
    )
    assert response.status_code == 303
    return client


def card_of(page: str, guide_id: str) -> str:
    cards = page.split('<li class="card guide')
    return next(c for c in cards if f"<code>{guide_id}</code>" in c)


def test_the_guides_page_flags_expired_facts(console, monkeypatch):
    monkeypatch.setattr(ReportPages, "clock", staticmethod(lambda: dt.date(2027, 2, 28)))
    card = card_of(html.unescape(console.get("/mediation/guides").text), "impots.paiement")
    assert "À revoir" not in card and "Prochaine vérification : le 01/03/2027." in card

    monkeypatch.setattr(ReportPages, "clock", staticmethod(lambda: dt.date(2027, 3, 2)))
    page = html.unescape(console.get("/mediation/guides").text)
    card = card_of(page, "impots.paiement")
    assert "À revoir : 2 informations datées ont expiré" in card
    assert (
        "Étape 3 (règle habituelle (campagne 2025) ; dates de l'année sur l'avis d'impôt)" in card
    )
    assert "valable jusqu'au 01/03/2027" in card
    assert "Vérifié le" in card  # beside the review of verified_on
    assert "À revoir" not in card_of(page, "cv.rediger")


def test_the_printed_sheet_does_not_state_an_expired_date(console, monkeypatch):
    monkeypatch.setattr(ReportPages, "clock", staticmethod(lambda: dt.date(2027, 3, 2)))
    sheet = html.unescape(console.get("/mediation/guides/impots.paiement/fiche").text)
    assert "Vérifiez cette information à jour " + CHECK_SENTENCE in sheet
