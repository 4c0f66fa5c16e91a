"""The citizens' page (GET /) in a real browser: Debian's chromium, headless, driven by Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium (apt-get install chromium).
Without it the tests are skipped, unless the CI variable is set, where a missing browser is a failure.
Screenshots go to tests/artifacts/. Every test also checks that the page asked nothing of any other
origin (no CDN, no fonts, no analytics).
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
STATIC = Path(__file__).resolve().parents[1] / "api" / "static"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 60_000  # a first question loads the embedder; CI machines are slow

ANSWERABLE = "防止返贫动态监测由哪个部门牵头？"
UNANSWERABLE = "义务教育学校课后服务怎么收费？"


def _need(what: str) -> None:
    """Skip for want of a browser on a developer's machine; fail on CI, where it must be installed."""
    reason = f"{what} (install: apt-get install -y chromium; pip install playwright)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _need(f"{CHROMIUM} is absent")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("the playwright package is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        yield b
        b.close()


@dataclass
class Tab:
    """A page in its own browser context, with every URL it requested."""

    page: object
    origin: str
    requests: list[str] = field(default_factory=list)

    def ask(self, question: str) -> None:
        self.page.fill("#question", question)
        self.page.click("#ask-button")

    def assert_same_origin(self) -> None:
        assert self.requests, "the page made no requests at all"
        foreign = [u for u in self.requests if not u.startswith(self.origin + "/")]
        assert not foreign, f"requests left the service's origin: {foreign}"


def open_tab(browser, server_url: str, path: str = "/", **context_args) -> Iterator[Tab]:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(locale="zh-CN", **context_args)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    tab = Tab(page=page, origin=server_url)
    page.on("request", lambda request: tab.requests.append(request.url))
    page.goto(server_url + path)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def tab(browser, server_url) -> Iterator[Tab]:
    yield from open_tab(browser, server_url, viewport={"width": 1200, "height": 900})


@pytest.fixture(scope="module", autouse=True)
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def test_page_is_plain_and_escapes_text(server_url):
    """The page's script never parses API text as HTML, and the browser is told to load only from here."""
    import httpx

    script = (STATIC / "app.js").read_text(encoding="utf-8")
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", script)
    r = httpx.get(server_url + "/", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert '<meta name="viewport"' in r.text
    assert httpx.get(server_url + "/static/app.js", timeout=30).status_code == 200
    assert httpx.get(server_url + "/static/../app.py", timeout=30).status_code == 404
    assert httpx.get(server_url + "/static/nope.js", timeout=30).json()["error"]["code"] == "not_found"


def test_answer_with_lead_unit_and_citations(tab):
    from playwright.sync_api import expect

    page = tab.page
    tab.ask(ANSWERABLE)
    lead = page.locator("#answer-text mark.lead")
    expect(lead).to_have_text("市乡村振兴局")
    expect(page.locator("#answer-heading")).to_contain_text("牵头单位")
    citations = page.locator("#citations > li")
    expect(citations.first).to_be_visible()
    assert citations.count() >= 1
    expect(citations.first.locator(".meta")).to_contain_text("青党发〔2021〕16号")
    expect(citations.first.locator(".meta")).to_contain_text("2021年6月11日")
    expect(citations.first.locator(".section")).to_contain_text("二、主要任务")
    # the question's words are highlighted in the passage; question words (哪个, 部门) are not
    terms = citations.first.locator("mark.term").all_text_contents()
    assert any("防止返贫动态监测" in t for t in terms), terms
    assert not any(w in t for t in terms for w in ("哪个", "部门")), terms
    assert "#q=" in page.url
    page.screenshot(path=str(ARTIFACTS / "web-answer.png"), full_page=True)
    tab.assert_same_origin()


def test_filter_row_keeps_citations_within_one_document_and_a_date_range(tab, server_url):
    """The filter row (one document, a date range) sends "filters" and every citation holds them."""
    import httpx
    from playwright.sync_api import expect

    page = tab.page
    docs = httpx.get(server_url + "/v1/documents").json()["documents"]
    small = next(d for d in docs if "政务公开" in d["title"])  # not where the question's answer is
    page.wait_for_selector(f'#filter-doc option[value="{small["doc_id"]}"]', state="attached")
    page.select_option("#filter-doc", small["doc_id"])
    tab.ask(ANSWERABLE)
    citations = page.locator("#citations > li")
    expect(citations.first).to_be_visible()
    titles = citations.locator(".doc-title").all_text_contents()
    assert titles and set(titles) == {small["title"]}, titles
    assert "in=" + small["doc_id"] in page.url
    page.screenshot(path=str(ARTIFACTS / "web-filters.png"), full_page=True)
    # another filter asks again: all documents, dated from June 2021 on
    page.select_option("#filter-doc", "")
    page.fill("#filter-from", "2021-06-01")
    page.dispatch_event("#filter-from", "change")
    expect(page).to_have_url(re.compile(r"from=2021-06-01"))
    expect(citations.first.locator(".meta")).to_contain_text("2021年6月")
    # clearing the document asked once without a filter: wait for the dated answer to replace that one
    expect(citations.locator(".meta").filter(has_not_text="2021年6月")).to_have_count(0)
    metas = citations.locator(".meta").all_text_contents()
    assert metas and all(re.search(r"2021年6月", m) for m in metas), metas
    tab.assert_same_origin()


def test_unanswerable_question_says_so_and_shows_closest(tab):
    from playwright.sync_api import expect

    page = tab.page
    tab.ask(UNANSWERABLE)
    expect(page.locator("#answer.not-found")).to_be_visible()
    expect(page.locator("#answer-text")).to_contain_text("文件中没有找到这个问题的答案")
    expect(page.locator("#citations-heading")).to_contain_text("最接近的段落")
    assert page.locator("#citations > li").count() >= 1
    assert page.locator("#answer-text mark").count() == 0
    page.screenshot(path=str(ARTIFACTS / "web-none.png"), full_page=True)
    tab.assert_same_origin()


def test_passage_opens_marked_in_its_document(tab):
    from playwright.sync_api import expect

    page = tab.page
    tab.ask(ANSWERABLE)
    first = page.locator("#citations > li").first
    expect(first).to_be_visible()
    first.locator("a.open-doc").click()
    reader = page.locator("#reader")
    expect(reader).to_be_visible()
    expect(page.locator("#reader-title")).to_have_text("关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接实施方案")
    expect(page.locator("#reader-meta")).to_contain_text("青党发〔2021〕16号")
    passage = page.locator("#reader-text mark.passage")
    expect(passage).to_have_count(1)
    expect(passage).to_be_in_viewport()
    marked = passage.text_content()
    assert "防止返贫动态监测" in marked and "市乡村振兴局牵头" in marked, marked
    # the whole document is there, not only the passage
    assert len(page.locator("#reader-text").text_content()) > 5 * len(marked)
    assert re.search(r"#doc=[^&]+&chunk=\d+", page.url)
    page.screenshot(path=str(ARTIFACTS / "web-document.png"))
    page.click("#reader-close")
    expect(reader).to_be_hidden()
    expect(page.locator("#answer-text mark.lead")).to_have_text("市乡村振兴局")
    tab.assert_same_origin()


def test_phone_screen(browser, server_url):
    """A shared address (#q=…) answers on load; the page fits a phone's width."""
    from playwright.sync_api import expect

    phone = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
             "has_touch": True}
    for tab in open_tab(browser, server_url, "/#q=" + quote(ANSWERABLE), **phone):
        page = tab.page
        expect(page.locator("#answer-text mark.lead")).to_have_text("市乡村振兴局")
        expect(page.locator("#question")).to_have_value(ANSWERABLE)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(ARTIFACTS / "web-answer-phone.png"), full_page=True)
        tab.assert_same_origin()


def test_api_errors_are_shown_in_chinese(tab):
    from playwright.sync_api import expect

    page = tab.page
    tab.ask("问" * 600)  # the API refuses questions over 512 characters (422 query_too_long)
    status = page.locator("#status.error")
    expect(status).to_contain_text("问题太长")
    expect(page.locator("#result")).to_be_hidden()
    page.evaluate("document.getElementById('question').value = '  '")
    page.click("#ask-button")
    expect(status).to_have_text("请输入问题。")
    tab.assert_same_origin()


SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def test_unit_view_lists_a_units_tasks_with_csv_and_passages(tab):
    """The unit view (#unit=…): choose a unit and a role, see its tasks as a table, download them as
    CSV, open a task's passage in its document."""
    import httpx
    from playwright.sync_api import expect

    page = tab.page
    page.click("#nav-units")
    expect(page.locator("#units-view")).to_be_visible()
    expect(page.locator("#ask-view")).to_be_hidden()
    # the units the documents assign work to are offered while typing
    expect(page.locator("#unit-list option[value='住建局']")).to_have_count(1)
    page.fill("#unit-input", "住建局")
    page.select_option("#unit-role", "lead")
    page.click("#unit-button")
    rows = page.locator("#unit-tasks tr.task-row")
    expect(rows.first).to_be_visible()
    expect(page.locator("#unit-summary")).to_contain_text("市住房和城乡建设局牵头的任务共")
    expect(page.locator("#unit-aliases")).to_contain_text("住建局")
    listed = httpx.get(tab.origin + "/v1/tasks", params={"unit": "住建局", "role": "lead"}, timeout=60).json()
    assert rows.count() == listed["total"] > 0
    first = rows.first
    expect(first.locator(".task-title")).to_have_text(listed["tasks"][0]["title"])
    assert first.locator("td").nth(4).text_content() == listed["tasks"][0]["doc_number"]
    assert "unit=" in page.url and "role=lead" in page.url
    # the CSV link downloads the same tasks
    href = page.locator("#unit-csv").get_attribute("href")
    assert "format=csv" in href
    csv_text = httpx.get(tab.origin + href, timeout=60).text
    assert csv_text.count("\r\n") == listed["total"] + 1
    with page.expect_download() as download:
        page.click("#unit-csv")
    assert download.value.suggested_filename.endswith(".csv")
    page.screenshot(path=str(ARTIFACTS / "web-unit.png"), full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "web-unit.png"))
    # a task opens its passage in context
    first.locator("a.open-doc").click()
    expect(page.locator("#reader")).to_be_visible()
    expect(page.locator("#reader-text mark.passage")).to_have_count(1)
    page.click("#reader-close")
    expect(page.locator("#units-view")).to_be_visible()
    # another role of the same unit; an unknown unit names the closest spellings
    page.select_option("#unit-role", "support")
    expect(page.locator("#unit-summary")).to_contain_text("作为责任或配合单位参与")
    expect(page.locator("#unit-tasks .role-badge")).to_have_count(0)
    page.fill("#unit-input", "水利局")
    page.click("#unit-button")
    expect(page.locator("#unit-status.error")).to_contain_text("没有找到这个单位")
    expect(page.locator("#unit-suggestions a").first).to_contain_text("水务局")
    tab.assert_same_origin()


def test_lead_unit_in_an_answer_opens_its_view_and_task_lists_show_a_table(tab):
    from playwright.sync_api import expect

    page = tab.page
    tab.ask(ANSWERABLE)
    link = page.locator("#answer-units a.unit-link").first
    expect(link).to_have_text("市乡村振兴局")
    link.click()
    expect(page.locator("#units-view")).to_be_visible()
    expect(page.locator("#unit-summary")).to_contain_text("市乡村振兴局牵头的任务共")
    assert page.locator("#unit-tasks tr.task-row").count() >= 6
    page.click("#nav-ask")
    tab.ask("小坝镇要配合做哪些事？")
    expect(page.locator("#answer-heading")).to_contain_text("任务清单")
    expect(page.locator("#answer-text")).to_contain_text("小坝镇作为责任或配合单位参与")
    expect(page.locator("#answer-tasks tr.task-row").first).to_be_visible()
    assert page.locator("#answer-tasks .role-badge.support").count() == page.locator("#answer-tasks tr.task-row").count()
    tab.assert_same_origin()
