"""The web viewer in a real browser: Playwright driving the Debian chromium against a live
server. Sign in, the datasets list, a dataset's grade card and histograms, the rows paged
and filtered by a flag, a chat row, a preference row, a diff made by a run, a run's page,
the logs and a dataset made from their filter, a job followed live to its end, sign out;
another account's pages are 404s, a hostile row never runs, CSRF and revocation hold.

Screenshots of the main pages go to `GRISTMILL_SCREENSHOTS` (default: the test's temp dir)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

import gristmill
from tests.quality.corpus import documented
from tests.stub_model_server import ModelServer, run_env
from tests.support import LiveServer, native_client, start_server

if os.environ.get("CI"):  # the dev extras install Playwright: a missing one is a failure
    import playwright.sync_api as playwright_sync
else:
    playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MARKER = "__gristmill_pwned"
HOSTILE = (
    f'<script>window.{MARKER}=1</script><img src=x onerror="window.{MARKER}=2">'
    f'<a href="javascript:window.{MARKER}=3">click me</a> \u202eevil\u202c zero\u200bwidth'
)
LONG = "very long answer " * 70_000  # ~1.2 MB
SEARCH_WINDOW = 25  # rows a search reads per page: the 60-row dataset takes three


def chat(user: str, assistant: str) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": user},
            {"role": "assistant", "content": assistant},
        ]
    }


def chat_rows() -> list[dict[str, Any]]:
    """Varied real text, with planted defects at known lines."""
    rows = [chat(f"What does {name} do?", doc) for name, doc in documented()[:60]]
    rows[10] = chat("Who do I write to?", "Write to jane.doe@example.com for access.")  # pii
    rows[20] = dict(rows[3])  # exact duplicate of line 4
    rows[30] = chat("Tell me a secret.", "I'm sorry, but I can't help with that.")  # refusal
    rows[40] = chat("Render this please", HOSTILE)
    rows[50] = chat("Write a long answer", LONG)
    talk = documented()[100:115]
    rows[45] = {  # a 30-message conversation
        "messages": [
            m
            for name, doc in talk
            for m in (
                {"role": "user", "content": f"And {name}, in this long talk?"},
                {"role": "assistant", "content": doc},
            )
        ]
    }
    rows[55] = {
        "messages": [
            {"role": "user", "content": "What is the weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C and sunny"},
            {"role": "assistant", "content": "It is 18C and sunny in Paris."},
        ]
    }
    return rows


@pytest.fixture(scope="module")
def model() -> Iterator[ModelServer]:
    with ModelServer(delay=3.0) as m:
        yield m


@pytest.fixture(scope="module")
def server(model: ModelServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {**run_env(model, timeout=2.0), "GRISTMILL_VIEWER_SEARCH_WINDOW": str(SEARCH_WINDOW)}
    live = start_server(tmp_path_factory.mktemp("viewer"), {}, env)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def key(server: LiveServer) -> dict[str, str]:
    return server.new_key("viewer-team")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("GRISTMILL_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def data(
    server: LiveServer, key: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("viewer-data")
    with gristmill.Client(server.base_url, key["api_key"], poll_seconds=0.1) as gm:
        chats = folder / "support.jsonl"
        chats.write_text("".join(json.dumps(r) + "\n" for r in chat_rows()))
        support = gm.datasets.upload(chats, name="support-chats")
        gm.datasets.evaluation(support["id"], wait=True)
        prefs = folder / "prefs.jsonl"
        prefs.write_text(
            "".join(
                json.dumps(
                    {
                        "input": {"messages": [{"role": "user", "content": f"Summarise {n}."}]},
                        "preferred_output": [{"role": "assistant", "content": doc[:200]}],
                        "non_preferred_output": [{"role": "assistant", "content": "No."}],
                    }
                )
                + "\n"
                for n, doc in documented()[:8]
            )
        )
        pref = gm.datasets.upload(prefs, name="preferences", schema_type="preference")
        qa = folder / "qa.jsonl"
        qa.write_text(
            "".join(
                json.dumps({"prompt": f"What does {n} do?", "completion": doc}) + "\n"
                for n, doc in documented()[60:72]
            )
        )
        qa_ds = gm.datasets.upload(qa, name="qa-pairs")
        gm.datasets.evaluation(qa_ds["id"], wait=True)
        run = gm.runs.start(
            qa_ds["id"],
            {
                "column_mapping": {"prompt": "prompt", "completion": "completion"},
                "recipe_specification": {"recipes": {"prompt_rephrase": True}},
            },
        )
        gm.datasets.evaluation(qa_ds["id"], wait=True)
    return {"support": support["id"], "prefs": pref["id"], "qa": qa_ds["id"], "run": run["id"]}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have Debian's chromium at {CHROMIUM} (.ci/run installs it)")
        pytest.skip(f"no chromium at {CHROMIUM}")
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


def search(page: Any, server: LiveServer, dataset_id: str, words: str) -> tuple[Any, int]:
    """The rows holding `words` and the number of empty windows read before them, following
    "Search on" through the windows that hold none; each window read says so."""
    page.goto(f"{server.base_url}/ui/datasets/{dataset_id}/rows?q={quote(words)}")
    for empty in range(60 // SEARCH_WINDOW + 1):
        found = page.locator("article.row")
        if found.count():
            return found, empty
        assert "found none" in page.locator("#search-window").inner_text()
        assert page.locator("#next-page").inner_text() == "Search on →"
        page.click("#next-page")
    raise AssertionError(f"no row holds {words!r}")


def sign_in(page: Any, server: LiveServer, api_key: str, then: str = "/ui/datasets") -> None:
    page.goto(f"{server.base_url}{then}")
    assert "/ui/sign-in" in page.url  # a page of the viewer asks who you are first
    page.fill("#api-key", api_key)
    page.click("#sign-in")
    page.wait_for_url(re.compile(re.escape(then) + "$"))


def test_sign_in_grade_card_rows_and_sign_out(
    page: Any, server: LiveServer, key: dict[str, str], data: dict[str, str], shots: Path
) -> None:
    page.goto(f"{server.base_url}/")
    assert "/ui/sign-in" in page.url
    page.fill("#api-key", "gm-not-a-key")
    page.click("#sign-in")
    assert "Incorrect API key" in page.locator("[role=alert]").inner_text()

    sign_in(page, server, key["api_key"])
    names = page.locator("table.datasets tbody tr td:first-child a").all_inner_texts()
    assert set(names) == {"support-chats", "preferences", "qa-pairs"}
    page.fill("#dataset-search", "support")
    page.click("form.filters button")
    assert page.locator("table.datasets tbody tr").count() == 1
    page.screenshot(path=shots / "datasets.png", full_page=True)

    page.click("text=support-chats")
    page.wait_for_url(f"**/ui/datasets/{data['support']}")
    report = native_client(server, key).get(f"/datasets/{data['support']}/evaluation").json()
    card = page.locator("#grade-card")
    assert card.locator(".grade.big").inner_text() == report["grade"]
    assert str(report["score"]) in card.inner_text()
    for check in ("pii", "exact_duplicate", "refusal"):
        row = card.locator(f"tr[data-check={check}]")
        expected = next(c for c in report["checks"] if c["check"] == check)
        assert row.locator("td").nth(1).inner_text() == f"{expected['flagged']:,}"
        assert expected["reason"] in row.inner_text()
    tokens = page.locator("figure.histogram", has_text="Tokens per example")
    assert tokens.locator("rect").count() > 3
    turns = page.locator("figure.histogram", has_text="Turns per conversation")
    counts = [int(t.replace(",", "")) for t in turns.locator("text.n").all_text_contents()]
    assert sum(counts) == 60  # every row is a conversation
    page.screenshot(path=shots / "dataset.png", full_page=True)

    page.click("#grade-card tr[data-check=pii] a")
    page.wait_for_url("**/rows?flag=pii")
    flagged = page.locator("article.row")
    assert flagged.count() == 1 and "line 11" in flagged.locator("header a").inner_text()
    assert "email" in flagged.locator(".flag").inner_text()
    assert "jane.doe@example.com" in flagged.inner_text()  # the row itself, as text
    assert page.locator("#row-count").inner_text() == "1 rows match"

    page.goto(f"{server.base_url}/ui/datasets/{data['support']}/rows")
    assert page.locator("#row-count").inner_text() == "60 rows"
    first = page.locator("article.row").all()
    assert len(first) == 50
    page.screenshot(path=shots / "rows.png")
    page.click("#next-page")
    rest = page.locator("article.row")
    assert rest.count() == 10 and page.locator("#next-page").count() == 0
    assert "line 51" in rest.nth(0).inner_text()

    page.select_option("#flag-filter", "exact_duplicate")
    page.click("#row-filters button")
    dup = page.locator("article.row")
    assert dup.count() == 1 and "line 21" in dup.inner_text() and "line 4" in dup.inner_text()

    tool_row, empty = search(page, server, data["support"], "Paris")
    assert tool_row.count() == 1 and empty == 2  # line 56: rows 1-25 and 26-50 hold none
    page.click("article.row header a")
    page.wait_for_url(re.compile(r"/rows/[0-9a-f-]+$"))
    roles = page.locator(".conversation .role").all_inner_texts()
    assert [r.split(" ")[0].lower() for r in roles] == ["user", "assistant", "tool", "assistant"]
    assert "get_weather" in page.locator("pre.tool-calls").inner_text()
    assert page.locator("#source-line").inner_text() == "56"
    page.screenshot(path=shots / "row.png", full_page=True)

    page.click("#sign-out")
    page.wait_for_url("**/ui/sign-in")
    page.goto(f"{server.base_url}/ui/datasets/{data['support']}")
    assert "/ui/sign-in" in page.url


def test_hostile_row_renders_as_text(
    page: Any, server: LiveServer, key: dict[str, str], data: dict[str, str]
) -> None:
    sign_in(page, server, key["api_key"])
    row, _ = search(page, server, data["support"], "Render this")
    assert row.count() == 1
    assert "<script>" in row.inner_text() and "javascript:" in row.inner_text()
    assert (
        page.locator("article.row script, article.row img, article.row a[href^=javascript]").count()
        == 0
    )
    row.locator("header a").click()
    page.wait_for_load_state()
    assert page.evaluate(f"window.{MARKER}") is None
    long_row, _ = search(page, server, data["support"], "very long answer")
    assert "show more" in long_row.inner_text()
    assert "more characters: open the row" in long_row.inner_text()
    assert page.evaluate(f"window.{MARKER}") is None
    talk, _ = search(page, server, data["support"], "in this long talk")
    assert talk.locator(".msg").count() == 13  # twelve, then a note
    assert "18 more messages: open the row" in talk.inner_text()
    talk.locator("header a").click()
    page.wait_for_url(re.compile(r"/rows/[0-9a-f-]+$"))
    assert page.locator(".msg").count() == 30


def test_preference_diff_and_run_pages(
    page: Any, server: LiveServer, key: dict[str, str], data: dict[str, str], shots: Path
) -> None:
    sign_in(page, server, key["api_key"], f"/ui/datasets/{data['prefs']}/rows")
    first = page.locator("article.row").first
    assert "chosen" in first.locator(".chosen").inner_text()
    assert first.locator(".rejected").inner_text().strip().endswith("No.")

    page.goto(f"{server.base_url}/ui/datasets/{data['qa']}")
    page.click("text=diff with #1")
    page.wait_for_url("**/diff?**")
    counts = page.locator("#diff-counts").inner_text()
    assert "12 changed" in counts, counts
    change = page.locator("article.change-changed").first
    assert change.locator("ins").count() > 0 and change.locator("del").count() > 0
    page.screenshot(path=shots / "diff.png", full_page=True)

    page.goto(f"{server.base_url}/ui/datasets/{data['qa']}/runs")
    page.click(f"text={data['run']}")
    run = native_client(server, key).get(f"/datasets/{data['qa']}/runs/{data['run']}").json()
    assert run["status"] == "succeeded"
    assert page.locator("#actual-cost").inner_text() == f"${run['cost_usd']:,.4f}"
    assert '"prompt_rephrase": true' in page.locator("#params").inner_text()
    assert page.locator("table.grades .grade").count() == 2  # before and after
    recipe = page.locator("table.recipes tbody tr")
    changed = run["report"]["recipes"]["prompt_rephrase"]["rows_changed"]
    assert recipe.count() == 1 and recipe.locator("td").nth(1).inner_text() == f"{changed:,}"
    page.screenshot(path=shots / "run.png", full_page=True)


def test_logs_and_a_dataset_from_their_filter(
    page: Any, server: LiveServer, key: dict[str, str], shots: Path
) -> None:
    http = native_client(server, key)
    logs = [
        {
            "gateway_id": "support-gw",
            "provider": "openai",
            "model": "gpt-4o-mini" if i % 2 else "gpt-4o",
            "request": {"messages": [{"role": "user", "content": f"Question {i}?"}]},
            "response": {"choices": [{"message": {"role": "assistant", "content": f"A{i}."}}]},
            "success": i != 3,
            "tokens_in": 10 + i,
            "tokens_out": 5,
            "cost": 0.001 * i,
            "feedback": 1 if i % 3 == 0 else None,
        }
        for i in range(10)
    ]
    assert http.post("/logs", json={"logs": logs}).status_code in (200, 201)
    sign_in(page, server, key["api_key"], "/ui/logs")
    page.click("text=support-gw")
    assert page.locator("#log-count").inner_text() == "10 logs"
    page.fill("input[name=model]", "gpt-4o-mini")
    page.select_option("select[name=success]", "true")
    page.click("#log-filters button")
    assert page.locator("#log-count").inner_text() == "4 logs"  # 1, 5, 7, 9 (3 failed)
    page.screenshot(path=shots / "logs.png", full_page=True)
    page.fill("#new-dataset-name", "mini-successes")
    page.click("#make-dataset")
    page.wait_for_url(re.compile(r"/ui/datasets/ds_\w+$"))
    dataset_id = page.url.rsplit("/", 1)[1]
    made = http.get(f"/datasets/{dataset_id}").json()
    assert made["name"] == "mini-successes"
    with gristmill.Client(server.base_url, key["api_key"], poll_seconds=0.1) as gm:
        deadline = time.monotonic() + 30
        while gm.datasets.get(dataset_id)["status"] != "succeeded":  # a job fills it
            assert time.monotonic() < deadline
            time.sleep(0.1)
        rows = gm.datasets.rows(dataset_id)
        asked = sorted(r["record"]["messages"][0]["content"] for r in rows)
    assert asked == [f"Question {i}?" for i in (1, 5, 7, 9)]
    rows = f"{server.base_url}/ui/datasets/{dataset_id}/rows"
    page.goto(f"{rows}?tag=model%3Dgpt-4o-mini&function=support-gw&kind=chat")
    assert page.locator("#row-count").inner_text() == "4 rows match"
    assert page.locator("article.row .tag", has_text="model=gpt-4o-mini").count() == 4
    page.goto(f"{rows}?tag=model%3Dgpt-4o")
    assert page.locator("#row-count").inner_text() == "0 rows match"
    page.goto(f"{rows}?kind=preference")
    assert page.locator("#row-count").inner_text() == "0 rows match"


def test_a_running_job_followed_to_its_end(
    page: Any, server: LiveServer, key: dict[str, str], tmp_path: Path, shots: Path
) -> None:
    big = tmp_path / "big.jsonl"
    docs = documented()
    with big.open("w") as fh:
        for i in range(40_000):
            name, doc = docs[i % len(docs)]
            fh.write(json.dumps(chat(f"Question {i}: what does {name} do?", f"{doc} ({i})")) + "\n")
    with gristmill.Client(server.base_url, key["api_key"]) as gm:
        ds = gm.datasets.upload(big, name="big", wait=False)
    sign_in(page, server, key["api_key"], f"/ui/datasets/{ds['id']}")
    at_start = page.locator("[data-activity-id]").count()
    assert at_start >= 1, "the ingest or its evaluation should still be going"
    page.screenshot(path=shots / "progress.png")
    moved = set()  # the bars' "done / total" texts, as the page's script moves them
    deadline = time.monotonic() + 120
    while page.locator("#grade-card .grade.big").count() == 0:
        assert time.monotonic() < deadline, "the page never showed the grade"
        with contextlib.suppress(playwright_sync.Error):  # the page reloaded under us
            moved.update(page.locator(".activity .count").all_inner_texts())
        time.sleep(0.1)
    assert any(not text.startswith("0 /") for text in moved), moved
    assert page.locator("[data-activity-id]").count() == 0
    assert "40,000 rows" in page.locator(".meta").inner_text()


def test_other_accounts_pages_are_404(page: Any, server: LiveServer, data: dict[str, str]) -> None:
    other = server.new_key("someone-else")
    sign_in(page, server, other["api_key"])
    assert page.locator("table.datasets").count() == 0
    for path in (
        f"/ui/datasets/{data['support']}",
        f"/ui/datasets/{data['support']}/rows",
        f"/ui/datasets/{data['qa']}/runs/{data['run']}",
        "/ui/datasets/ds_missing",
    ):
        reply = page.goto(f"{server.base_url}{path}")
        assert reply.status == 404, path
        assert "Not found" in page.locator("h1").inner_text()


def test_forms_resist_csrf_and_revoked_keys_end_sessions(
    server: LiveServer, data: dict[str, str]
) -> None:
    key = server.new_key("viewer-team")
    with httpx.Client(base_url=server.base_url) as web:
        form = web.get("/ui/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        forged = web.post("/ui/sign-in", data={"api_key": key["api_key"], "csrf": "x" * 64})
        assert forged.status_code == 403 and "another site" in forged.text
        web.cookies.clear()  # a cross-site post carries no seed cookie of this site
        no_seed = web.post("/ui/sign-in", data={"api_key": key["api_key"], "csrf": token[1]})
        assert no_seed.status_code == 403
        token = re.search(r'name="csrf" value="([^"]+)"', web.get("/ui/sign-in").text)
        assert token
        signed = web.post("/ui/sign-in", data={"api_key": key["api_key"], "csrf": token[1]})
        assert signed.status_code == 303
        session = web.cookies.get("gm_session")
        assert session and key["api_key"] not in session
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert web.get(f"/ui/datasets/{data['support']}").status_code == 200
        server.cli("keys", "revoke", key["key_id"])
        after = web.get(f"/ui/datasets/{data['support']}")
        assert after.status_code == 303 and "/ui/sign-in" in after.headers["location"]


def test_bad_input_gets_a_page_not_a_500(
    server: LiveServer, key: dict[str, str], data: dict[str, str]
) -> None:
    rows = f"/ui/datasets/{data['support']}/rows"
    with httpx.Client(base_url=server.base_url) as web:
        token = re.search(r'name="csrf" value="([^"]+)"', web.get("/ui/sign-in").text)
        assert token
        assert web.post("/ui/sign-in", data={"api_key": "k", "csrf": "é"}).status_code == 403
        signed = web.post("/ui/sign-in", data={"api_key": key["api_key"], "csrf": token[1]})
        assert signed.status_code == 303
        for query, status, says in (
            ({"flag": "pii", "after": "²"}, 400, "Invalid cursor"),
            ({"flag": "pii", "after": "9" * 30}, 400, "Invalid cursor"),
            ({"flag": "nonsense"}, 400, "Unknown check"),
            ({"tag": 'a"b=c'}, 400, "tag name"),
            ({"q": "a\x00b"}, 400, "NUL"),
            ({"q": "x" * 400}, 400, "longer than"),
        ):
            reply = web.get(rows, params=query)
            assert reply.status_code == status and says in reply.text, (query, reply.text[:300])
            assert "text/html" in reply.headers["content-type"]
        one = {"gateway_id": "odd-pages", "provider": "openai", "model": "m"}
        assert native_client(server, key).post("/logs", json={"logs": [one]}).status_code == 201
        paged = web.get("/ui/logs/odd-pages", params={"page": "²"})
        assert paged.status_code == 200 and "1 logs" in paged.text
        assert web.get("/ui/datasets/ds_nope/diff").status_code == 404
        assert web.get(f"/ui/datasets/{data['support']}/rows/not-a-row").status_code == 404
        web.cookies.set("gm_session", f"x.{'9' * 5000}.{'0' * 64}", domain="127.0.0.1", path="/ui")
        forged = web.get(rows)
        assert forged.status_code == 303 and "/ui/sign-in" in forged.headers["location"]
    http = native_client(server, key)
    assert http.get(f"/datasets/{data['support']}/flags", params={"cursor": "²"}).status_code == 400
    assert (
        http.get(f"/datasets/{data['support']}/versions", params={"cursor": "²"}).status_code == 400
    )
    link = httpx.get(
        f"{server.base_url}/native/v1/signed/exports/x/y.jsonl",
        params={"expires": "²", "signature": "é"},
    )
    assert link.status_code == 403
