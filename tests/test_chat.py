"""The OpenAI-compatible endpoints (/v1/chat/completions, /v1/models), driven by the official `openai`
client against a real uvicorn server on the shipped corpus, streamed and not, plus their errors."""
from __future__ import annotations

import json

import httpx
import pytest

openai = pytest.importorskip("openai", reason="pip install openai")

MODEL = "gazette-qa"
ANSWERABLE = "防止返贫动态监测由哪个部门牵头？"
UNANSWERABLE = "义务教育学校课后服务怎么收费？"
NOT_FOUND = "文件中没有找到这个问题的答案"


@pytest.fixture(scope="module")
def client(server_url):
    with openai.OpenAI(base_url=server_url + "/v1", api_key="unused", max_retries=0, timeout=60) as c:
        yield c


def user(content) -> list[dict]:
    return [{"role": "user", "content": content}]


def ask(client, question: str):
    """A non-streamed completion and the raw JSON body it was parsed from."""
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=user(question))
    return raw.parse(), json.loads(raw.text)


def stream(client, question: str, **kwargs) -> list:
    return list(client.chat.completions.create(model=MODEL, messages=user(question), stream=True, **kwargs))


def test_models_lists_the_model(client):
    models = client.models.list()
    assert [m.id for m in models.data] == [MODEL]
    assert models.data[0].object == "model" and models.data[0].owned_by
    assert client.models.retrieve(MODEL).id == MODEL
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_answer_with_sources(client):
    completion, body = ask(client, ANSWERABLE)
    assert completion.object == "chat.completion" and completion.model == MODEL
    assert completion.id.startswith("chatcmpl-")
    choice = completion.choices[0]
    assert choice.index == 0 and choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content
    answer, sources = content.split("\n\n", 1)
    assert "市乡村振兴局" in answer
    lines = sources.splitlines()
    assert lines[0] == "来源："
    assert lines[1].startswith("[1] 关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接实施方案（青党发〔2021〕16号）二、主要任务")
    assert [line.split("]")[0] for line in lines[1:]] == [f"[{i}" for i in range(1, len(lines))]
    # the structured citations: same objects as /v1/ask, in the raw body and on the parsed object
    citations = body["citations"]
    assert citations == completion.model_extra["citations"]
    assert len(citations) == len(lines) - 1
    assert citations[0]["citation"]["doc_number"] == "青党发〔2021〕16号"
    assert "市乡村振兴局" in citations[0]["text"] and citations[0]["rank"] == 1
    usage = completion.usage
    assert usage.prompt_tokens == len(ANSWERABLE) and usage.completion_tokens == len(content)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_citations_match_ask(client, server_url):
    _, body = ask(client, ANSWERABLE)
    ask_body = httpx.post(server_url + "/v1/ask", json={"question": ANSWERABLE}, timeout=60).json()
    assert [c["citation"] for c in body["citations"]] == [c["citation"] for c in ask_body["citations"]]


def test_streamed_matches_not_streamed(client):
    completion, _ = ask(client, ANSWERABLE)
    chunks = stream(client, ANSWERABLE)
    assert all(c.object == "chat.completion.chunk" and c.model == MODEL for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert content == completion.choices[0].message.content
    assert "市乡村振兴局" in content and "[1]" in content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert last.model_extra["citations"][0]["citation"]["doc_number"] == "青党发〔2021〕16号"


def test_stream_wire_format(server_url):
    """The raw event stream: data lines of JSON, ended by data: [DONE]; usage when asked for."""
    payload = {"model": MODEL, "messages": user(ANSWERABLE), "stream": True,
               "stream_options": {"include_usage": True}}
    with httpx.stream("POST", server_url + "/v1/chat/completions", json=payload, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("data: ") for line in r.iter_lines() if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop" and chunks[-2]["citations"]


def test_not_in_corpus(client):
    completion, body = ask(client, UNANSWERABLE)
    content = completion.choices[0].message.content
    assert content.startswith(NOT_FOUND)
    assert "最接近的段落" in content and "\n[1] " in content
    assert body["citations"]  # the closest passages, so a person can look
    streamed = "".join(c.choices[0].delta.content or "" for c in stream(client, UNANSWERABLE))
    assert streamed == content


def test_last_user_message_is_the_question(client):
    messages = [{"role": "system", "content": "你是政府文件助手。"},
                {"role": "user", "content": "义务教育学校课后服务怎么收费？"},
                {"role": "assistant", "content": NOT_FOUND},
                {"role": "user", "content": [{"type": "text", "text": ANSWERABLE}]}]
    completion = client.chat.completions.create(model="any-name", messages=messages, temperature=0.2,
                                                max_tokens=200, user="test", extra_body={"unknown": 1})
    assert completion.choices[0].message.content.startswith("市乡村振兴局")
    assert completion.model == MODEL


@pytest.mark.parametrize("messages, code", [
    ([{"role": "system", "content": "你好"}], "no_user_message"),
    (user("   "), "empty_query"),
    (user("问" * 513), "query_too_long"),
    ([], "invalid_request"),
])
def test_invalid_requests(client, messages, code):
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=MODEL, messages=messages)
    error = raised.value.response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == code and error["message"]
    assert raised.value.code == code


def test_invalid_requests_raw(server_url, client):
    url = server_url + "/v1/chat/completions"
    bad_json = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"}, timeout=30)
    assert bad_json.status_code == 400
    assert bad_json.json()["error"] == {"message": "the request body is not valid JSON",
                                        "type": "invalid_request_error", "code": "bad_json", "param": None}
    for body in ([1, 2], {"messages": "hi"}, {"messages": [{"content": "no role"}]}):
        r = httpx.post(url, json=body, timeout=30)
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error", body
    # the streaming mode refuses before it starts: a JSON error, not an event stream
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=user(""), stream=True)


# -- follow-ups: the conversation is read (conversations written for these tests) ---------------------

LEAD_Q = "黄河滩区治理工程由哪个单位牵头？"
SUPPORTING = ["库区管理局", "自然资源局", "生态环境分局"]


def conversation(*turns: str) -> list[dict]:
    """user, assistant, user, …: the assistant turns as a chatbot would send them back."""
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]


def test_a_follow_up_is_answered_about_the_previous_task(client):
    first = client.chat.completions.create(model=MODEL, messages=user(LEAD_Q))
    first_answer = first.choices[0].message.content.split("\n\n", 1)[0]
    assert first_answer == "水务局"
    follow = client.chat.completions.create(model=MODEL, messages=conversation(
        LEAD_Q, first.choices[0].message.content, "那配合的单位有哪些？"))
    answer = follow.choices[0].message.content.split("\n\n", 1)[0]
    assert [u for u in SUPPORTING if u in answer] == SUPPORTING and "水务局" not in answer
    assert follow.model_extra["question"] == "黄河滩区治理工程，配合的单位有哪些？"
    assert "滩区" in follow.model_extra["citations"][0]["text"]
    # the same follow-up without the conversation has no task to go by
    alone = client.chat.completions.create(model=MODEL, messages=user("那配合的单位有哪些？"))
    assert alone.model_extra["question"] == "那配合的单位有哪些？"
    assert alone.choices[0].message.content.split("\n\n", 1)[0] != answer


def test_a_follow_up_streamed_names_the_question_answered(client):
    chunks = list(client.chat.completions.create(model=MODEL, stream=True, messages=conversation(
        LEAD_Q, "水务局", "那配合的单位有哪些？")))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert all(u in content.split("\n\n", 1)[0] for u in SUPPORTING)
    assert chunks[-1].model_extra["question"] == "黄河滩区治理工程，配合的单位有哪些？"


def test_a_new_topic_is_not_mixed_with_the_previous_one(client):
    completion = client.chat.completions.create(model=MODEL, messages=conversation(
        LEAD_Q, "水务局", "河岸堤防工程谁牵头？"))
    assert completion.model_extra["question"] == "河岸堤防工程谁牵头？"
    assert completion.choices[0].message.content.startswith("水务局")
    assert "堤防" in completion.model_extra["citations"][0]["text"]
