"""The People page in a real browser (Debian's Chromium driven by Playwright) on a store of real photos, one test per
behaviour: hide and "not a face" through a recluster started from the page, search by name, moving a face by name,
the merge offered for a name taken, undo, errors in words, and the page refusing forged requests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from facegraph.collection import photo_path
from facegraph.store.base import FACES
from tests.facegraph.conftest import Server, everything, keep


def person_of(graph) -> dict:
    return {p.payload["face_id"]: p.payload.get("person_id") for p in graph.store.scroll(FACES)}


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server.url + "/")
    return page


def test_hide_and_not_a_face_survive_a_recluster_from_the_page(graph, server, page):
    hidden, other = graph.people(limit=2).persons
    face = graph.get_person(other["person_id"])["face_ids"][-1]
    page.goto(f"{server.url}/persons/{hidden['person_id']}")
    page.click("text=Hide this person")
    expect(page.locator(".note")).to_contain_text("it is under Hidden")
    expect(page.locator(f'[data-person-id="{hidden["person_id"]}"]')).to_have_count(0)
    page.goto(f"{server.url}/persons/{other['person_id']}")
    page.click(f'[data-face-id="{face}"] >> text=Not a face')
    expect(page.locator(".note")).to_contain_text("Marked as not a face")
    page.click("header >> text=Recluster")
    expect(page.locator("main")).to_contain_text("Done in", timeout=60_000)
    page.click("text=See the persons")
    page.click('nav.tabs >> text=Hidden')
    expect(page.locator("article.card")).to_have_count(1)
    expect(page.locator(f'article.card[data-person-id="{hidden["person_id"]}"]')).to_have_count(1)
    page.click("nav >> text=Not faces")
    expect(page.locator(f'[data-face-id="{face}"]')).to_have_count(1)
    assert person_of(graph)[face] is None
    assert graph.people("hidden").persons[0]["person_id"] == hidden["person_id"]


def test_search_finds_a_person_named_in_place_on_the_grid(graph, server, page):
    target = graph.people().persons[-1]["person_id"]
    page.fill(f'[data-person-id="{target}"] input[name="name"]', "Ada Lovelace")
    page.click(f'[data-person-id="{target}"] button:text-is("Save")')
    expect(page.locator(".note")).to_contain_text("Named Ada Lovelace.")
    expect(page.locator("article.card").first).to_have_attribute("data-person-id", target)  # named first
    page.fill('input[type="search"]', "lovel")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("1 person match “lovel”")
    expect(page.locator("article.card")).to_have_count(1)
    expect(page.locator(f'article.card[data-person-id="{target}"]')).to_have_count(1)


def test_a_face_moves_to_a_person_picked_by_name(graph, server, page):
    source, target = (p["person_id"] for p in graph.people(limit=2).persons)
    graph.name_person(target, "Bea Arthur")
    face = graph.get_person(source)["face_ids"][0]
    page.goto(f"{server.url}/persons/{source}")
    page.check(f'input[name="face_ids"][value="{face}"]')
    page.fill('input[name="target"]', "bea arthur")
    page.click('button:text-is("Move")')
    expect(page.locator(".note")).to_contain_text("Moved 1 face to Bea Arthur.")
    page.click(".note a:text-is(\"Bea Arthur\")")
    expect(page.locator("h1")).to_have_text("Bea Arthur")
    expect(page.locator(f'[data-face-id="{face}"]')).to_have_count(1)
    assert person_of(graph)[face] == target


def test_a_name_another_person_holds_offers_the_merge(graph, server, page):
    first, second = (p["person_id"] for p in graph.people(limit=2).persons)
    graph.name_person(first, "Ann")
    faces = set(graph.get_person(first)["face_ids"]) | set(graph.get_person(second)["face_ids"])
    page.goto(f"{server.url}/persons/{second}")
    page.fill('input[aria-label="name of this person"]', "ann")
    page.click("text=Save name")
    expect(page.locator("h1")).to_contain_text("“ann” is already the name of 1 other person")
    assert graph.get_person(second)["name"] is None  # nothing changed before the choice
    page.click("text=Merge them into one")
    expect(page.locator(".note")).to_contain_text("Merged 2 persons into ann")
    [merged] = [p for p in graph.people().persons if p["name"] and p["name"].casefold() == "ann"]
    assert set(graph.get_person(merged["person_id"])["face_ids"]) == faces


def test_undo_takes_back_a_merge(graph, server, page):
    before = person_of(graph)
    first, second = (p["person_id"] for p in graph.people(limit=2).persons)
    count = page.locator("article.card").count()
    for person in (first, second):
        page.check(f'input[name="person_ids"][value="{person}"]')
    page.click("text=Merge selected")
    expect(page.locator("article.card")).to_have_count(count - 1)
    page.click('.note >> button:text-is("Undo")')
    expect(page.locator(".note")).to_contain_text("Undone: merged 2 persons.")
    expect(page.locator("article.card")).to_have_count(count)
    assert person_of(graph) == before


def test_a_bad_action_shows_an_error_in_words_and_changes_nothing(graph, server, page):
    before = everything(graph)
    page.check(f'input[name="person_ids"][value="{graph.people(limit=1).persons[0]["person_id"]}"]')
    page.click("text=Merge selected")
    expect(page.locator(".note.error")).to_contain_text("merging needs at least two different persons")
    expect(page).to_have_url(f"{server.url}/?" + page.url.split("?", 1)[1])  # back on the grid
    assert "Traceback" not in page.content()
    assert everything(graph) == before


def test_a_post_without_its_csrf_token_is_refused(graph, server, page):
    before = everything(graph)
    first, second = (p["person_id"] for p in graph.people(limit=2).persons)
    for person in (first, second):
        page.check(f'input[name="person_ids"][value="{person}"]')
    page.evaluate("document.querySelector('#selection input[name=csrf_token]').remove()")  # a forged form
    page.click("text=Merge selected")
    expect(page.locator("p.error")).to_contain_text("this form is out of date or came from another site")
    forged = page.request.post(server.url + "/merge", form={"person_ids": first, "back": "/"})
    assert forged.status == 403
    assert everything(graph) == before


def test_a_foreign_host_name_is_refused(graph, server, browser):
    """DNS rebinding: a site's own name made to point at this machine reaches the port, but not the app."""
    port = server.url.rsplit(":", 1)[1]
    rebinding = browser.browser_type.launch(executable_path=shutil.which("chromium") or shutil.which("chromium-browser"),
                                            headless=True, args=["--host-resolver-rules=MAP evil.example 127.0.0.1"])
    try:
        response = rebinding.new_page().goto(f"http://evil.example:{port}/")
        assert response.status == 400 and "Invalid host header" in response.text()
    finally:
        rebinding.close()


def test_screenshots_of_the_grid_a_person_the_photo_view_and_a_phone(graph, browser, tmp_path):
    """The README's screenshots, from the real page. The labeled photos may not be copied into the repository, so
    the faces are blurred in them."""
    persons = graph.people().persons
    for person in persons[:3]:  # named after the folder most of its photos are in
        faces = graph.get_person(person["person_id"])["face_ids"]
        folders = [Path(photo_path(p)).parent.name for p in graph.collection.photos(f.rsplit("_face", 1)[0] for f in faces).values()]
        graph.name_person(person["person_id"], max(set(folders), key=folders.count).replace("_", " "))
    face = graph.get_person(persons[0]["person_id"])["face_ids"][0]
    shots = tmp_path / "screenshots"
    with Server(graph, tmp_path / "thumbnails", min_faces=1) as server:
        for name, url, width in [("people-grid", "/", 1200), ("people-person", f"/persons/{persons[0]['person_id']}", 1200),
                                 ("people-photo", f"/photos/{face.rsplit('_face', 1)[0]}?face={face}", 1200),
                                 ("people-phone", "/", 390)]:
            page = browser.new_page(viewport={"width": width, "height": 844 if width == 390 else 900})
            page.goto(server.url + url)
            page.wait_for_load_state("networkidle")
            page.add_style_tag(content="img { filter: blur(12px); }")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name}: {overflow} px wider than the window"
            page.screenshot(path=shots / f"{name}.png")
            page.close()
    for shot in sorted(shots.iterdir()):
        keep(shot)
