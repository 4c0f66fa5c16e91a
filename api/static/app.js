/*
 * The citizens' page: ask a question (POST /v1/ask), show the short answer and the cited passages with
 * the question's words highlighted, and open a passage in its document (GET /v1/documents/{doc_id}).
 *
 * Addresses (the part after #) keep the page's state, so Back works and a result can be shared:
 *   #q=<question>                 the answer to a question
 *   &in=<doc_id>&from=&to=        ...within one document and/or a date range (the filter row; "filters")
 *   #doc=<doc_id>&chunk=<id>      the reading view of a document with that passage marked
 *   #unit=<name>&role=<role>      the unit view: the tasks a unit leads or takes part in (GET /v1/tasks),
 *                                 with a CSV download; a lead unit named in an answer links here
 *
 * All text reaches the page through textContent / text nodes: nothing from the API is parsed as HTML.
 */
"use strict";

(function () {
  const NOT_FOUND_SENTENCE = "文件中没有找到这个问题的答案";

  // question words that say what is asked, not what about: never highlighted in passages
  const QUESTION_WORDS = [
    "什么时候", "什么时间", "哪些", "哪个", "哪里", "哪儿", "哪", "部门", "单位", "谁", "多少", "什么",
    "怎么", "怎样", "如何", "几", "吗", "呢", "是否", "请问", "由", "的", "了", "是",
  ];

  const ERROR_MESSAGES = {
    empty_query: "请输入问题。",
    query_too_long: "问题太长了，请控制在 512 个字以内。",
    bad_top_k: "请求的出处数量超出了允许的范围。",
    bad_json: "请求格式有误，请刷新页面后重试。",
    invalid_request: "请求格式有误，请刷新页面后重试。",
    missing_field: "请求缺少必要的内容，请刷新页面后重试。",
    not_found: "没有找到这份文件，它可能已被移除。",
    unknown_document: "没有找到这份文件，它可能已被移除。",
    payload_too_large: "提交的内容太长了。",
    too_many_requests: "提问太频繁了，请稍后再试。",
    bad_filter: "筛选条件有误：请检查日期（起始日期不能晚于截止日期）。",
    unknown_filter: "筛选条件有误，请刷新页面后重试。",
    index_unavailable: "服务暂时不可用（文件索引未就绪），请稍后再试。",
    unavailable: "服务暂时不可用，请稍后再试。",
    internal_error: "服务出错了，请稍后再试。",
    unknown_unit: "文件中没有找到这个单位。",
    bad_role: "角色只能是牵头、责任/配合或全部。",
  };

  const ANSWER_LABELS = {
    lead_unit: "牵头单位", number: "数字", date: "日期", document: "相关文件", passage: "相关原文",
    task_list: "任务清单",
  };
  const ROLE_NAMES = { lead: "牵头", support: "责任/配合" };
  const ROLE_CHOICES = { any: "牵头或参与", lead: "牵头", support: "作为责任或配合单位参与" };

  const $ = (id) => document.getElementById(id);
  const state = { question: null, asked: null, terms: [], seq: 0, readerFromPage: false, docs: new Map(), units: null };

  // -- API -------------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(message, body) {
      super(message);
      this.code = body && body.error && body.error.code;
      this.suggestions = (body && body.error && body.error.suggestions) || [];
    }
  }

  function chineseError(status, body) {
    const code = body && body.error && body.error.code;
    if (code && ERROR_MESSAGES[code]) return ERROR_MESSAGES[code];
    if (status >= 500) return "服务出错了，请稍后再试。";
    return "请求未成功（错误代码：" + (code || status) + "）。";
  }

  async function api(path, options) {
    let response;
    try {
      response = await fetch(path, options);
    } catch (e) {
      throw new ApiError("无法连接到服务，请检查网络后重试。");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      body = null;
    }
    if (!response.ok) throw new ApiError(chineseError(response.status, body), body);
    if (body === null) throw new ApiError("服务返回的内容无法读取，请稍后再试。");
    return body;
  }

  const askApi = (question, filters) => api("/v1/ask", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(Object.keys(filters).length
      ? { question: question, top_k: 5, filters: filters } : { question: question, top_k: 5 }),
  });

  const tasksApi = (unit, role) => api("/v1/tasks?" + new URLSearchParams({ unit: unit, role: role, limit: "500" }));

  async function unitsApi() {
    if (!state.units) state.units = await api("/v1/units");
    return state.units;
  }

  // -- the filter row: one document and/or a date range ---------------------------------------------

  /** The filter row as the API's "filters" object (only the keys given). */
  function currentFilters() {
    const filters = {};
    if ($("filter-doc").value) filters.doc_ids = [$("filter-doc").value];
    if ($("filter-from").value) filters.date_from = $("filter-from").value;
    if ($("filter-to").value) filters.date_to = $("filter-to").value;
    return filters;
  }

  /** The address of a question with the current filters: #q=…&in=…&from=…&to=… */
  function questionHash(question) {
    const params = new URLSearchParams({ q: question });
    if ($("filter-doc").value) params.set("in", $("filter-doc").value);
    if ($("filter-from").value) params.set("from", $("filter-from").value);
    if ($("filter-to").value) params.set("to", $("filter-to").value);
    return "#" + params.toString();
  }

  function ensureDocOption(docId, title) {
    const select = $("filter-doc");
    if (!docId || Array.from(select.options).some((o) => o.value === docId)) return;
    select.appendChild(el("option", { value: docId }, title || docId));
  }

  async function loadDocumentChoices() {
    try {
      const data = await api("/v1/documents");
      const docs = data.documents.slice().sort((a, b) => (b.date || "").localeCompare(a.date || ""));
      for (const d of docs) {
        ensureDocOption(d.doc_id, [d.date, d.title].filter(Boolean).join(" ") || d.doc_id);
      }
    } catch (e) {
      // the row still offers the date range; asking works without the list
    }
  }

  async function documentApi(docId) {
    if (!state.docs.has(docId)) state.docs.set(docId, await api("/v1/documents/" + encodeURIComponent(docId)));
    return state.docs.get(docId);
  }

  // -- highlighting ----------------------------------------------------------------------------------

  /** The question's searchable pieces: CJK character bigrams and Latin/number words. */
  function questionTerms(question) {
    let rest = question.toLowerCase();
    for (const word of QUESTION_WORDS) rest = rest.split(word).join(" ");
    const terms = new Set();
    for (const run of rest.match(/\p{Script=Han}+|[a-z0-9]+/gu) || []) {
      if (/^[a-z0-9]+$/.test(run)) {
        if (run.length >= 2 || /\d/.test(run)) terms.add(run);
      } else {
        for (let i = 0; i + 2 <= run.length; i++) terms.add(run.slice(i, i + 2));
      }
    }
    return Array.from(terms);
  }

  /**
   * Append `text` to `parent`, wrapping occurrences of each group's terms in <mark class=...>.
   * groups: [{terms, className}], earlier groups win where they overlap.
   */
  function appendHighlighted(parent, text, groups) {
    const lower = text.toLowerCase();
    const owner = new Int16Array(text.length).fill(-1);
    groups.forEach((group, g) => {
      for (const term of group.terms) {
        if (!term) continue;
        const needle = term.toLowerCase();
        for (let i = lower.indexOf(needle); i !== -1; i = lower.indexOf(needle, i + 1)) {
          for (let j = i; j < i + needle.length; j++) if (owner[j] === -1) owner[j] = g;
        }
      }
    });
    let start = 0;
    for (let i = 1; i <= text.length; i++) {
      if (i < text.length && owner[i] === owner[start]) continue;
      const piece = text.slice(start, i);
      if (owner[start] === -1) {
        parent.appendChild(document.createTextNode(piece));
      } else {
        parent.appendChild(el("mark", { className: groups[owner[start]].className }, piece));
      }
      start = i;
    }
  }

  // -- small DOM helpers -----------------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children) {
      if (child === null || child === undefined || child === "") continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function formatDate(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    return m ? m[1] + "年" + Number(m[2]) + "月" + Number(m[3]) + "日" : iso;
  }

  function metaLine(info) {
    return [info.doc_number, info.issuer, info.date && formatDate(info.date)].filter(Boolean).join(" · ");
  }

  function setStatus(message, isError) {
    const status = $("status");
    status.textContent = message || "";
    status.classList.toggle("error", Boolean(isError));
  }

  // -- the answer and its citations ------------------------------------------------------------------

  function renderAnswer(data) {
    const text = $("answer-text");
    const units = $("answer-units");
    text.replaceChildren();
    units.replaceChildren();
    $("answer-tasks").replaceChildren();
    $("answer-tasks").hidden = true;
    const found = data.answer_type !== "none" && data.answer;
    $("answer").classList.toggle("not-found", !found);
    $("answer-heading").textContent = found ? "答案" + (ANSWER_LABELS[data.answer_type]
      ? "（" + ANSWER_LABELS[data.answer_type] + "）" : "") : "没有找到答案";
    $("citations-heading").textContent = found ? "出处" : "最接近的段落（仅供参考）";
    if (!found) {
      text.appendChild(el("strong", {}, NOT_FOUND_SENTENCE + "。"));
      text.appendChild(el("span", { className: "hint" }, data.citations.length
        ? "下面是与问题最接近的段落，供您参考。" : ""));
      return;
    }
    const leads = data.answer_type === "lead_unit" ? data.lead_units : [];
    appendHighlighted(text, data.answer, [{ terms: leads, className: "lead" }]);
    text.classList.toggle("summary", data.answer_type === "task_list");
    if (data.answer_type === "task_list") {
      const box = $("answer-tasks");
      box.replaceChildren(taskTable(data.tasks || [], true));
      box.hidden = !(data.tasks && data.tasks.length);
      return;
    }
    addUnits(units, "牵头单位", data.lead_units, "lead");
    addUnits(units, "责任/配合单位", data.supporting_units, "support");
  }

  /** A unit's address in the unit view. */
  const unitHref = (name, role) => "#" + new URLSearchParams({ unit: name, role: role || "any" }).toString();

  function unitLink(name, className, role) {
    return el("a", { className: "unit-link", href: unitHref(name, role), title: "查看" + name + "的全部任务" },
      el("mark", { className: className + " chip" }, name));
  }

  function addUnits(list, label, names, className) {
    if (!names || !names.length) return;
    const dd = el("dd");
    // each unit opens its own view: the tasks it leads (or takes part in)
    names.forEach((name) => dd.appendChild(unitLink(name, className, className === "lead" ? "lead" : "any")));
    list.append(el("dt", {}, label), dd);
  }

  /** The tasks as a table: role, task, lead and supporting units, deadline, document, passage link. */
  function taskTable(tasks, showRole) {
    const head = el("tr", {}, ...(showRole ? ["角色"] : []).concat(
      ["任务", "牵头单位", "责任/配合单位", "完成时限", "文件", "出处"]).map((h) => el("th", { scope: "col" }, h)));
    const rows = tasks.map((t) => {
      const first = t.citations && t.citations[0];
      const link = first ? el("a", {
        className: "open-doc",
        href: "#" + new URLSearchParams({ doc: first.citation.doc_id, chunk: String(first.chunk_id) }).toString(),
      }, "在原文中查看") : null;
      if (link) link.addEventListener("click", () => { state.readerFromPage = true; });
      const cells = [];
      if (showRole) {
        cells.push(el("td", {}, t.role ? el("span", { className: "role-badge " + t.role }, ROLE_NAMES[t.role]) : ""));
      }
      const text = t.text.length > 60 ? t.text.slice(0, 60) + "…" : t.text;
      cells.push(
        el("td", { className: "task-cell" }, el("span", { className: "task-title" }, t.title),
          el("span", { className: "task-text" }, text)),
        el("td", {}, t.lead_units.join("、") || "—"),
        el("td", {}, t.supporting_units.join("、") || "—"),
        el("td", { className: "nowrap" }, t.deadline || "—"),
        el("td", { className: "nowrap" }, t.doc_number || t.doc_title || ""),
        el("td", { className: "nowrap" }, link));
      return el("tr", { className: "task-row" }, ...cells);
    });
    return el("table", { className: "task-table" }, el("thead", {}, head), el("tbody", {}, ...rows));
  }

  function renderCitation(hit, leads) {
    const c = hit.citation;
    const passage = el("blockquote", { className: "passage-text" });
    appendHighlighted(passage, hit.text, [
      { terms: leads, className: "lead" },
      { terms: state.terms, className: "term" },
    ]);
    const link = el("a", {
      className: "open-doc",
      href: "#" + new URLSearchParams({ doc: c.doc_id, chunk: String(hit.chunk_id) }).toString(),
    }, "在原文中查看 →");
    link.addEventListener("click", () => { state.readerFromPage = true; });
    return el("li", { className: "citation" },
      el("h3", { className: "doc-title" }, c.doc_title || "（无标题文件）"),
      el("p", { className: "meta" }, metaLine(c)),
      c.section ? el("p", { className: "section" }, c.section) : null,
      passage,
      link);
  }

  function renderResult(data) {
    renderAnswer(data);
    const leads = data.answer_type === "lead_unit" ? data.lead_units : [];
    $("citations").replaceChildren(...data.citations.map((hit) => renderCitation(hit, leads)));
    $("citations-heading").hidden = data.citations.length === 0;
    $("result").hidden = false;
  }

  async function ask(question) {
    const seq = ++state.seq;
    state.question = question;
    state.asked = questionHash(question);
    state.terms = questionTerms(question);
    $("question").value = question;
    $("ask-button").disabled = true;
    setStatus("正在查找答案…");
    try {
      const data = await askApi(question, currentFilters());
      if (seq !== state.seq) return;
      renderResult(data);
      setStatus("");
    } catch (e) {
      if (seq !== state.seq) return;
      state.question = null;
      state.asked = null;
      $("result").hidden = true;
      setStatus(e instanceof ApiError ? e.message : "页面出错了，请刷新后重试。", true);
    } finally {
      if (seq === state.seq) $("ask-button").disabled = false;
    }
  }

  // -- the reading view ------------------------------------------------------------------------------

  async function openReader(docId, chunkId) {
    const reader = $("reader");
    reader.hidden = false;
    document.body.classList.add("reader-open");
    $("reader-title").textContent = "";
    $("reader-meta").textContent = "";
    $("reader-section").textContent = "";
    $("reader-text").replaceChildren();
    $("reader-status").textContent = "正在打开文件…";
    $("reader-close").focus();
    try {
      const doc = await documentApi(docId);
      renderDocument(doc, chunkId);
    } catch (e) {
      $("reader-status").textContent = e instanceof ApiError ? e.message : "无法打开这份文件。";
    }
  }

  function renderDocument(doc, chunkId) {
    $("reader-title").textContent = doc.title;
    $("reader-meta").textContent = metaLine(doc);
    const chunk = doc.chunks.find((c) => String(c.chunk_id) === String(chunkId));
    const body = $("reader-text");
    const start = chunk ? chunk.char_start - doc.text_start : -1;
    const end = chunk ? chunk.char_end - doc.text_start : -1;
    if (!chunk || start < 0 || end > doc.text.length || start >= end) {
      body.textContent = doc.text;
      $("reader-status").textContent = chunk ? "未能在原文中定位这段文字。" : "";
      return;
    }
    $("reader-section").textContent = chunk.section || "";
    $("reader-status").textContent = "";
    const mark = el("mark", { className: "passage", id: "reader-passage" });
    appendHighlighted(mark, doc.text.slice(start, end), [{ terms: state.terms, className: "term" }]);
    body.append(doc.text.slice(0, start), mark, doc.text.slice(end));
    mark.scrollIntoView({ block: "center" });
  }

  function closeReader() {
    $("reader").hidden = true;
    document.body.classList.remove("reader-open");
  }

  function leaveReader() {
    if (state.readerFromPage) {
      history.back(); // back to the answer the passage was opened from
    } else {
      location.hash = state.question ? questionHash(state.question).slice(1) : "";
    }
  }

  // -- addresses -------------------------------------------------------------------------------------

  function route() {
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.has("doc")) {
      openReader(params.get("doc"), params.get("chunk"));
      return;
    }
    closeReader();
    state.readerFromPage = false;
    if (params.has("unit")) {
      showView("units");
      openUnit((params.get("unit") || "").trim(), params.get("role") || "any");
      return;
    }
    showView("ask");
    const inDoc = params.get("in") || "";
    ensureDocOption(inDoc, inDoc);
    $("filter-doc").value = inDoc;
    $("filter-from").value = params.get("from") || "";
    $("filter-to").value = params.get("to") || "";
    const q = (params.get("q") || "").trim();
    if (q && questionHash(q) !== state.asked) ask(q);
  }

  // -- the unit view ---------------------------------------------------------------------------------

  function showView(name) {
    $("ask-view").hidden = name !== "ask";
    $("units-view").hidden = name !== "units";
    document.body.classList.toggle("wide", name === "units");
    for (const [id, view] of [["nav-ask", "ask"], ["nav-units", "units"]]) {
      if (view === name) $(id).setAttribute("aria-current", "page");
      else $(id).removeAttribute("aria-current");
    }
    if (name === "units") fillUnitList();
  }

  async function fillUnitList() {
    if ($("unit-list").children.length) return;
    try {
      const data = await unitsApi();
      const options = [];
      data.units.forEach((u) => {
        options.push(el("option", { value: u.name, label: "牵头 " + u.lead + " 项，参与 " + u.support + " 项" }));
        u.aliases.forEach((a) => options.push(el("option", { value: a, label: u.name })));
      });
      $("unit-list").replaceChildren(...options);
    } catch (e) {
      // the list only helps typing; the view works without it
    }
  }

  function unitStatus(message, isError) {
    const status = $("unit-status");
    status.textContent = message || "";
    status.classList.toggle("error", Boolean(isError));
  }

  async function openUnit(unit, role) {
    if (!(role in ROLE_CHOICES)) role = "any";
    $("unit-input").value = unit;
    $("unit-role").value = role;
    $("unit-suggestions").hidden = true;
    if (!unit) {
      $("unit-result").hidden = true;
      unitStatus("");
      return;
    }
    const seq = ++state.seq;
    $("unit-button").disabled = true;
    unitStatus("正在查找任务…");
    try {
      const data = await tasksApi(unit, role);
      if (seq !== state.seq) return;
      const name = data.unit ? data.unit.name : unit;
      $("unit-summary").textContent = data.total
        ? name + ROLE_CHOICES[role] + "的任务共 " + data.total + " 项"
        : "文件中没有写明" + name + ROLE_CHOICES[role] + "的任务";
      $("unit-aliases").textContent = data.unit && data.unit.aliases.length
        ? "文件中的其他写法：" + data.unit.aliases.join("、") : "";
      $("unit-csv").href = "/v1/tasks?" + new URLSearchParams({ unit: name, role: role, limit: "500", format: "csv" });
      $("unit-csv").setAttribute("download", name + "-" + role + ".csv");
      $("unit-tasks").replaceChildren(taskTable(data.tasks, role === "any"));
      $("unit-tasks").hidden = data.tasks.length === 0;
      $("unit-result").hidden = false;
      unitStatus("");
    } catch (e) {
      if (seq !== state.seq) return;
      $("unit-result").hidden = true;
      unitStatus(e instanceof ApiError ? e.message : "页面出错了，请刷新后重试。", true);
      if (e instanceof ApiError && e.suggestions.length) {
        const box = $("unit-suggestions");
        box.replaceChildren("您要找的是不是：",
          ...e.suggestions.map((name) => el("a", { className: "example", href: unitHref(name, role) }, name)));
        box.hidden = false;
      }
    } finally {
      if (seq === state.seq) $("unit-button").disabled = false;
    }
  }

  function submitUnit(event) {
    event.preventDefault();
    const unit = $("unit-input").value.trim();
    if (!unit) {
      unitStatus("请输入单位名称。", true);
      return;
    }
    const hash = unitHref(unit, $("unit-role").value);
    if (location.hash !== hash) {
      history.pushState(null, "", hash);
    }
    openUnit(unit, $("unit-role").value);
  }

  function submit(event) {
    event.preventDefault();
    const question = $("question").value.trim();
    if (!question) {
      setStatus(ERROR_MESSAGES.empty_query, true);
      return;
    }
    const from = $("filter-from").value, to = $("filter-to").value;
    if (from && to && from > to) {
      setStatus(ERROR_MESSAGES.bad_filter, true);
      return;
    }
    const hash = questionHash(question);
    if (location.hash !== hash) history.pushState(null, "", hash);
    ask(question);
  }

  /** A changed filter asks the current question again, within the new filter. */
  function refilter() {
    if (state.question && $("reader").hidden) $("ask-form").requestSubmit();
  }

  function start() {
    $("ask-form").addEventListener("submit", submit);
    document.querySelectorAll(".example").forEach((button) => {
      button.addEventListener("click", () => {
        $("question").value = button.textContent;
        $("ask-form").requestSubmit();
      });
    });
    ["filter-doc", "filter-from", "filter-to"].forEach((id) => $(id).addEventListener("change", refilter));
    $("filter-clear").addEventListener("click", () => {
      $("filter-doc").value = "";
      $("filter-from").value = "";
      $("filter-to").value = "";
      refilter();
    });
    loadDocumentChoices();
    $("reader-close").addEventListener("click", leaveReader);
    $("unit-form").addEventListener("submit", submitUnit);
    $("unit-role").addEventListener("change", () => {
      if ($("unit-input").value.trim()) $("unit-form").requestSubmit();
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !$("reader").hidden) leaveReader();
    });
    window.addEventListener("hashchange", route);
    route();
  }

  start();
})();
