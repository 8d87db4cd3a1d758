"""The review app (facegraph.review): pages that only read, corrections by POST, errors as pages, and a real
browser that merges, names and moves a face on a store of real photos."""

from __future__ import annotations

import re

import pytest

from facegraph.errors import InvalidRequestError, PersonNotFoundError
from facegraph.gallery import write_gallery
from facegraph.review.server import listen
from tests.facegraph.conftest import everything, keep


def note_of(client, response) -> str:
    """The note a correction left on the page it redirected to (its text, links and buttons)."""
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"]).text
    found = re.search(r'<div class="note[^"]*"[^>]*>(.*?)</div>', page, re.S)
    assert found, "no note on the page"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_pages_and_images_never_write(graph, client):
    before = everything(graph)
    person = graph.list_persons(limit=1)[0]
    face = graph.get_person(person["person_id"])["face_ids"][0]
    for url in ["/", "/?page=2", "/?place=small", "/?place=unsure", "/?place=hidden", "/?q=mad", "/not-faces",
                "/recluster", f"/persons/{person['person_id']}", "/suggestions", f"/faces/{face}.jpg",
                f"/photos/{face.rsplit('_face', 1)[0]}.jpg", f"/photos/{face.rsplit('_face', 1)[0]}?face={face}"]:
        response = client.get(url)
        assert response.status_code == 200, url
    assert client.get("/merge").status_code == 405  # a correction is never a GET
    assert client.get(f"/persons/{person['person_id']}/faces/{face}/not-this-person").status_code == 405
    assert everything(graph) == before


def test_grid_shows_named_persons_first_then_the_largest_with_merge_boxes(graph, client):
    persons = graph.people().persons
    graph.name_person(persons[-1]["person_id"], "Zed")
    page = client.get("/").text
    order = [persons[-1]] + persons[:-1]
    positions = [page.index(f'data-person-id="{p["person_id"]}"') for p in order]
    assert positions == sorted(positions)
    assert page.count('type="checkbox" name="person_ids"') == len(persons)
    biggest = persons[0]
    assert (f'<img src="/faces/{biggest["representative_face_id"]}.jpg" alt="unnamed person of '
            f'{biggest["face_count"]} faces"') in page
    assert f'aria-label="name of unnamed person of {biggest["face_count"]} faces"' in page
    assert 'value="Zed"' in page and f"Persons <small>{len(persons)}</small>" in page
    image = client.get(f"/faces/{biggest['representative_face_id']}.jpg")
    assert image.headers["content-type"] == "image/jpeg" and image.content[:2] == b"\xff\xd8"


def test_names_are_text_never_markup(graph, client, tmp_path):
    person = graph.list_persons(limit=1)[0]["person_id"]
    name = "<script>alert('x')</script> & Co"
    response = client.post(f"/persons/{person}/name", data={"name": name})
    assert response.status_code == 303 and response.headers["location"].startswith(f"/persons/{person}?note=")
    assert graph.get_person(person)["name"] == name
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co"
    for page in (client.get(f"/persons/{person}").text, client.get("/").text):
        assert escaped in page and "<script>alert" not in page
    gallery = write_gallery(graph, tmp_path / "persons.html").read_text()  # the same partials, escaped alike
    assert escaped in gallery and "<script>" not in gallery


def test_a_refused_correction_comes_back_to_its_page_in_words_and_changes_nothing(graph, client):
    person = graph.list_persons(limit=1)[0]["person_id"]
    before = everything(graph)
    came_from = {"referer": f"http://testserver/persons/{person}"}
    one = client.post("/merge", data={"person_ids": [person]}, headers=came_from)
    assert one.headers["location"].startswith(f"/persons/{person}?note=")
    assert "merging needs at least two different persons" in note_of(client, one)
    missing = client.get("/persons/person_000000000000")
    assert missing.status_code == 404 and "no person &#39;person_000000000000&#39;" in missing.text
    assert client.get("/?page=0").status_code == 400 and client.get("/?place=nowhere").status_code == 400
    assert "non-empty face groups" in note_of(client, client.post(f"/persons/{person}/split", data={}))
    stale = client.post(f"/persons/{person}/move", data={"face_ids": ["nope"], "target": person, "seen": "old"})
    assert "this person changed since the page was loaded" in note_of(client, stale)
    gone = client.post("/merge", data={"person_ids": [person, "person_000000000000"]})
    assert "changed since the page was loaded" in note_of(client, gone)
    nobody = client.post(f"/persons/{person}/move", data={"face_ids": graph.get_person(person)["face_ids"][:1],
                                                           "target": "Nobody Named This"})
    assert "no person is named or has the id “Nobody Named This”" in note_of(client, nobody)
    cross_site = client.post("/merge", data={"person_ids": [person, person]}, headers={"origin": "http://evil.test"})
    assert cross_site.status_code == 403
    referred = client.post("/merge", data={"person_ids": [person, person]}, headers={"referer": "http://evil.test/x"})
    assert referred.status_code == 403  # a browser that sends no Origin still names the page it came from
    assert "Traceback" not in missing.text and missing.headers["content-type"].startswith("text/html")
    assert everything(graph) == before


def test_not_this_person_and_split_make_persons_of_their_own(graph, client):
    person = graph.list_persons(limit=1)[0]["person_id"]
    faces = graph.get_person(person)["face_ids"]
    response = client.post(f"/persons/{person}/faces/{faces[0]}/not-this-person")
    assert "Moved the face out into a person of its own. that person Undo" == note_of(client, response)
    alone = graph.collection.face(faces[0]).payload["person_id"]
    assert alone != person and graph.get_person(alone)["face_ids"] == [faces[0]]
    assert frozenset((person, alone)) in graph.records.kept_apart()
    client.post(f"/persons/{person}/split", data={"face_ids": faces[1:3]})
    split_off = graph.collection.face(faces[1]).payload["person_id"]
    assert graph.get_person(split_off)["face_ids"] == sorted(faces[1:3])
    assert graph.get_person(person)["face_ids"] == faces[3:]


def test_merge_suggestions_can_be_accepted(graph, client):
    [suggestion] = graph.suggest_merges(1)
    faces = {f for p in suggestion.person_ids for f in graph.get_person(p)["face_ids"]}
    page = client.get("/suggestions").text
    assert all(f'value="{p}"' in page for p in suggestion.person_ids)
    response = client.post("/merge", data={"person_ids": list(suggestion.person_ids), "back": "/suggestions"})
    assert response.status_code == 303 and response.headers["location"].startswith("/suggestions?note=")
    [kept] = {graph.collection.face(face).payload["person_id"] for face in faces}
    assert kept in suggestion.person_ids and set(graph.get_person(kept)["face_ids"]) == faces


def test_a_port_in_use_is_refused_saying_choose_another():
    # beyond loopback the app needs an access token: test_review_security.py
    with listen("127.0.0.1", 0) as taken, pytest.raises(InvalidRequestError, match="choose another --port"):
        listen("127.0.0.1", taken.getsockname()[1])


# ---- in a real browser ------------------------------------------------------------------------------------------

def test_a_person_merges_names_and_moves_a_face_in_a_browser(graph, server, browser, tmp_path):
    from playwright.sync_api import expect

    first, second, third = graph.people(limit=3).persons
    faces = {p["person_id"]: set(graph.get_person(p["person_id"])["face_ids"]) for p in (first, second, third)}
    persons = graph.people().total  # the test reads the store only while no request runs
    moved = sorted(faces[second["person_id"]])[0]
    merged_url = f"/persons/{first['person_id']}"
    shots = tmp_path / "screenshots"
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.goto(server.url + "/")
    cards = page.locator("article.card")
    expect(cards).to_have_count(persons)
    page.wait_for_load_state("networkidle")  # the thumbnails too
    page.screenshot(path=shots / "persons-before-merge.png", full_page=True)

    for person in (first, second):  # the largest keeps its id
        page.check(f'input[name="person_ids"][value="{person["person_id"]}"]')
    page.click("text=Merge selected")
    expect(page.locator(".note")).to_contain_text("Merged 2 persons into")
    expect(cards).to_have_count(persons - 1)
    expect(page.locator(f'[data-person-id="{second["person_id"]}"]')).to_have_count(0)

    page.click(f'[data-person-id="{first["person_id"]}"] a.thumb')
    expect(page).to_have_url(server.url + merged_url)
    merged_count = first["face_count"] + second["face_count"]
    expect(page.locator("p.meta").first).to_contain_text(f"{merged_count} faces")

    page.fill('input[aria-label="name of this person"]', "Ada Lovelace")
    page.click("text=Save name")
    expect(page.locator("h1")).to_have_text("Ada Lovelace")
    expect(page.locator(".note")).to_contain_text("Named Ada Lovelace.")

    page.check(f'input[name="face_ids"][value="{moved}"]')
    page.fill('input[name="target"]', third["person_id"])
    page.click('button:text-is("Move")')
    expect(page.locator("p.meta").first).to_contain_text(f"{merged_count - 1} faces")
    expect(page.locator(f'[data-face-id="{moved}"]')).to_have_count(0)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=shots / "person-after-move.png", full_page=True)
    for shot in sorted(shots.iterdir()):
        keep(shot)

    merged = graph.get_person(first["person_id"])
    assert merged["name"] == "Ada Lovelace"
    assert set(merged["face_ids"]) == (faces[first["person_id"]] | faces[second["person_id"]]) - {moved}
    with pytest.raises(PersonNotFoundError):
        graph.get_person(second["person_id"])
    pins = graph.records.pins()
    assert all(pins[face] == first["person_id"] for face in merged["face_ids"])
    assert graph.collection.face(moved).payload["person_id"] == third["person_id"] == pins[moved]
    assert moved in graph.get_person(third["person_id"])["face_ids"]


def test_the_review_view_asks_one_question_and_a_stale_answer_is_a_page_in_words(graph, client):
    graph.cluster_all(threshold=0.6)  # strict: people fall apart, so there is something to ask
    page = client.get("/review")
    assert page.status_code == 200 and "0 answers given" in page.text
    [question] = graph.questions(limit=1)
    assert f'data-key="{question.key}"' in page.text and "/photos/" in page.text
    assert all(f"/faces/{face}.jpg" in page.text for side in question.shown for face in side)
    done = client.post("/review/answer", data={"key": question.key, "reply": "skip"})
    assert done.status_code == 303 and done.headers["location"] == "/review"
    before = everything(graph)
    stale = client.post("/review/answer", data={"key": question.key, "reply": "yes"},  # answered: no longer open
                        headers={"referer": "http://testserver/review"})
    assert "no open question" in note_of(client, stale) and everything(graph) == before
    assert client.post("/review/undo").status_code == 303 and graph.records.answers() == []


def test_the_review_view_answers_by_keyboard_in_a_browser(graph, server, browser, tmp_path):
    from playwright.sync_api import expect

    graph.cluster_all(threshold=0.6)
    [first] = graph.questions(limit=1)
    persons = len(graph.list_persons(limit=1000))
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.goto(server.url + "/review")
    expect(page.locator("section.question")).to_have_attribute("data-key", first.key)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=tmp_path / "review-question.png", full_page=True)
    page.keyboard.press("y")  # yes: the two persons become one
    expect(page.locator("#counts")).to_contain_text("1 answer given")
    expect(page.locator("section.question")).not_to_have_attribute("data-key", first.key)
    page.keyboard.press("u")  # undo
    expect(page.locator("#counts")).to_contain_text("0 answers given")
    expect(page.locator("section.question")).to_have_attribute("data-key", first.key)
    page.keyboard.press("n")  # no: kept apart for good
    expect(page.locator("#counts")).to_contain_text("1 answer given")
    page.keyboard.press("s")
    expect(page.locator("#counts")).to_contain_text("2 answers given")
    keep(tmp_path / "review-question.png")
    replies = [answer["reply"] for answer in graph.records.answers()]
    assert replies == ["no", "skip"] and graph.records.answers()[0]["key"] == first.key
    if first.kind == "same_person":  # the yes was undone; the no and skip join nobody
        assert len(graph.list_persons(limit=1000)) == persons
    else:  # the no took the face out of its person
        assert graph.collection.face(first.face_id).payload["person_id"] != first.person_ids[0]
