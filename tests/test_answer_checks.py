"""The typed answer pipeline on real snippets: question analysis, person answers, verification checks.

Snippets are copied from the shipped gazette (青铜峡市人民政府公报 2021 第2期) and the laws sample;
questions are written for these tests. Each test states one rule and could fail if that rule broke.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.answer import Passage, analyse, answer_question  # noqa: E402
from qa.answer.person import find_person, holds_role, member_entries  # noqa: E402
from qa.answer.patterns import years_in  # noqa: E402
from qa.answer.verify import verify  # noqa: E402

# 青党办〔2021〕30号 附件: the 指挥部 member list, as chunked (spaced labels and names as printed)
COMMAND = ("一、2021年国家卫生城市复审工作指挥部\n总指挥：文学智 市委副书记、政府代市长\n"
           "副总指挥：王照陆 市委副书记、政法委书记\n张克宁 市委常委、政府副市长\n代兴科 市政府副市长\n"
           "成 员：张立军 市委办公室主任\n于建华 市政府办公室主任\n王 浩 市住房和城乡建设局局长")
GROUP = ("(五)宣传报道工作组\n责任领导：徐怀俊 市委常委、宣传部部长\n组 长：马新斌 市委宣传部副部长\n"
         "牵头单位：市委宣传部\n配合单位：市融媒体中心、文化旅游体育广电局\n主要职责：负责国家卫生城市复审宣传工作")
SUPERVISION = ("(六)综合督查工作组\n组 长：张立军 市委办公室主任\n副 组 长：高志成 市委办公室副主任、政研室主任\n"
               "张 雪 市政府办公室副主任\n牵头单位：市委政府督查室")
OFFICE = "指挥部办公室设在市爱卫会办公室，贺怡同志兼任办公室主任，王紫玉同志兼任办公室副主任，负责统筹协调。"
DOC30 = dict(doc_title="关于印发青铜峡市2021年国家卫生城市复审工作方案的通知", doc_number="青党办〔2021〕30号",
             issuer="中共青铜峡市委办公室 青铜峡市人民政府办公室", date="2021-04-26")
# 青党发〔2021〕16号 附件4, a table row with a figure for 2021
ROW62 = ("名称：着力提升整体发展水平；序号：62；重点任务：加强农村基层社会治理；主要内容：安排村级组织运转经费4659万元。"
         "村干部报酬3000万元（450人）；责任单位：财政局")
DOC16 = dict(doc_title="青铜峡市关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接2021年度重点工作清单",
             doc_number="青党发〔2021〕16号", issuer="中共青铜峡市委员会 青铜峡市人民政府", date="2021-06-11")


def _p(text: str, doc: dict, section=(), kind="paragraph", score=1.0) -> Passage:
    return Passage(text=text, score=score, section=list(section), kind=kind, **doc)


# --- question analysis -----------------------------------------------------------------------------

def test_analysis_tells_a_person_question_from_a_unit_question():
    assert analyse("复审指挥部的总指挥是谁？").expected == "person"
    assert analyse("青铜峡市的市长是谁？").person_role == "市长"
    assert analyse("谁担任综合督查工作组的副组长？").person_role == "副组长"
    # who leads a task is a unit, even with 谁
    assert analyse("垃圾分类工作谁牵头？").expected == "lead_unit"
    assert analyse("这项工作谁是牵头单位？").expected == "lead_unit"


def test_analysis_pins_down_years_places_bodies_and_measures():
    a = analyse("2023年小坝镇要新建多少公里道路？")
    assert a.expected == "number" and a.years == {2023}
    assert "小坝镇" in a.places and "公里" in a.measures
    b = analyse("民政局负责的养老服务补贴每月发多少钱？")
    assert b.money and any("民政局" in x for x in b.bodies)
    assert analyse("复审工作什么时候开展检查？").asks_event_date
    assert not analyse("这份通知是哪天印发的？").asks_event_date  # a document's date, not an event's


def test_years_are_read_from_spans_and_chinese_numerals_but_not_from_amounts():
    assert years_in("2021—2025年") == {2021, 2025}
    assert years_in("二〇二一年四月") == {2021}
    assert years_in("每月补助2100元") == set()


# --- person answers --------------------------------------------------------------------------------

def test_member_list_entries_keep_the_role_of_the_label_above_them():
    entries = member_entries(COMMAND)
    by_name = {e.name: e for e in entries}
    assert by_name["文学智"].role == "总指挥"
    assert by_name["张克宁"].role == "副总指挥"  # a continuation line of the 副总指挥 list
    assert by_name["王 浩"].role == "成员" and "住房和城乡建设局" in by_name["王 浩"].title


def test_a_role_matches_only_itself():
    entries = {e.name: e for e in member_entries(COMMAND + "\n" + SUPERVISION)}
    assert holds_role(entries["文学智"], "市长")  # 政府代市长 holds the office of 市长
    assert not holds_role(entries["张克宁"], "市长")  # 副市长 is another office
    assert holds_role(entries["张立军"], "组长")
    assert not holds_role(entries["高志成"], "组长") and holds_role(entries["高志成"], "副组长")


def test_person_answer_from_the_matching_list():
    passages = [_p(GROUP, DOC30, ["二、工作组及职责", "(五)宣传报道工作组"]),
                _p(SUPERVISION, DOC30, ["二、工作组及职责", "(六)综合督查工作组"], score=0.9)]
    a = answer_question("宣传报道工作组的组长是谁？", passages)
    assert a.answer_type == "person" and a.answer == "马新斌"


def test_person_in_an_appointment_sentence():
    a = answer_question("指挥部办公室主任由谁担任？", [_p(OFFICE, DOC30)])
    assert a.answer_type == "person" and a.answer == "贺怡"


def test_no_one_holds_the_role_no_person_answer():
    # the 宣传报道工作组 has no 副组长; the passage names units, and a unit is not a person
    a = answer_question("宣传报道工作组的副组长是谁？", [_p(GROUP, DOC30, ["(五)宣传报道工作组"])])
    assert a.answer is None and a.answer_type == "none"
    assert find_person("宣传报道工作组的副组长是谁？", "副组长", [_p(GROUP, DOC30)], [0]) is None


# --- verification ----------------------------------------------------------------------------------

def _checked(question: str, passages: list[Passage]):
    a = answer_question(question, passages)
    return a, verify(analyse(question), a, passages)


def test_year_conflict_when_the_passage_gives_another_year():
    _, v = _checked("2024年村干部报酬安排多少万元？", [_p(ROW62, DOC16, kind="table_row")])
    assert v.year_conflict
    _, ok = _checked("2021年村干部报酬安排多少万元？", [_p(ROW62, DOC16, kind="table_row")])
    assert not ok.year_conflict and not ok.year_unstated


def test_place_named_in_question_must_be_in_the_passage():
    _, v = _checked("大坝镇的村干部报酬安排多少万元？", [_p(ROW62, DOC16, kind="table_row")])
    assert v.place_missing


def test_figure_must_measure_the_asked_quantity():
    law = "第十二条 登记管理机关应当自收到全部有效文件之日起60日内，作出准予或者不予登记的决定。"
    doc = dict(doc_title="社会团体登记管理条例", doc_number=None, issuer=None, date=None)
    _, v = _checked("登记管理机关作出决定最多要多少公里？", [_p(law, doc)])
    assert v.measure_missing
    _, ok = _checked("登记管理机关要在多少天内作出登记决定？", [_p(law, doc)])
    assert not ok.measure_missing
    _, m = _checked("社会团体登记要交多少钱？", [_p(law, doc)])
    assert m.money_missing or m.type_mismatch


def test_role_asked_must_be_the_role_answered():
    item = "实施农村人居环境整治提升五年行动，开展村庄清洁行动（市农业农村局牵头）"
    doc = dict(doc_title="方案", doc_number=None, issuer=None, date="2021-06-11")
    a, v = _checked("村庄清洁行动的配合单位有哪些？", [_p(item, doc)])
    assert a.answer_type == "lead_unit" and v.role_mismatch  # only the lead is named


def test_event_date_is_not_the_documents_issue_date():
    front = "青党办〔2021〕30号\n中共青铜峡市委办公室 青铜峡市人民政府办公室\n2021年4月26日"
    a, v = _checked("复审迎检工作哪天开始检查？", [_p(front, DOC30, kind="front_matter")])
    assert a.answer_type == "date" and v.event_doc_date


def test_body_named_in_the_question_must_be_in_the_passage():
    _, v = _checked("教育局负责的村干部报酬安排多少万元？", [_p(ROW62, DOC16, kind="table_row")])
    assert v.body_missing
    _, ok = _checked("财政局负责的村干部报酬安排多少万元？", [_p(ROW62, DOC16, kind="table_row")])
    assert not ok.body_missing


# --- rules added for questions in a user's own words (bench/data/questions-own.jsonl) ------------------

# 青政发〔2021〕23号, the paragraph on village water staff (as chunked), and its contact line
WATER_STAFF = ("3. 配齐田间水管人员。各村用水协会按照灌溉面积配备田间水管人员，原则上每三千亩地配备1人，"
               "用水协会会长、副会长2021年每月补助2100元（含通讯、交通等补助）。")
DOC23 = dict(doc_title="青铜峡市基层水利服务体系改革实施方案", doc_number="青政发〔2021〕23号",
             issuer="青铜峡市人民政府", date="2021-05-20")


def test_a_quantity_question_names_what_it_measures():
    from qa.answer.analysis import quantity_phrases

    assert quantity_phrases("卫生城市复审的举报电话是多少？")[0].endswith("举报电话")
    assert "保洁时间" in quantity_phrases("主要街道每天保洁时间不能少于多少？")[0]
    assert "学生" in quantity_phrases("小学一个班最多能有多少学生？")  # the noun after 多少
    assert quantity_phrases("谁牵头？") == ()


def test_item_numbers_and_dates_are_not_the_figure_asked_for():
    from qa.answer.extract import _quantities_only

    assert "3" not in _quantities_only("3. 配齐田间水管人员")
    assert "9" not in _quantities_only("2021年9月29日 广东省第十三届人民代表大会常务委员会")
    assert "二十八" not in _quantities_only("第二十八条 禁止在中小学校内吸烟")
    assert "三个月" in _quantities_only("押金不得超过三个月租金") and "2.5万元" in _quantities_only("补助2.5万元")


def test_a_figure_of_something_else_fails_the_quantity_check():
    passages = [_p(WATER_STAFF, DOC23, ("三、主要任务", "3."))]
    asked = analyse("田间淌水员一天的工钱是多少？")
    wrong = answer_question(asked.question, passages)
    assert verify(asked, wrong, passages).quantity_missing >= 0.5  # no 工钱 next to the figure
    right = answer_question("用水协会会长每月补助多少钱？", passages)
    assert "2100元" in right.answer
    assert verify(analyse("用水协会会长每月补助多少钱？"), right, passages).quantity_missing < 0.5


def test_a_phone_number_is_asked_and_a_count_does_not_answer_it():
    passages = [_p(WATER_STAFF, DOC23, ("三、主要任务", "3."))]
    a = analyse("用水协会的联系电话是多少？")
    assert a.phone
    answer = answer_question(a.question, passages)
    assert "measure_missing" in verify(a, answer, passages).failures()
    contact = [_p("编辑部地址：青铜峡市政府办公室 电话：（0953）3050582", DOC23)]
    found = answer_question("政府公报编辑部电话是多少？", contact)
    assert "3050582" in found.answer
    assert not verify(analyse("政府公报编辑部电话是多少？"), found, contact).measure_missing


def test_a_unit_named_in_prose_is_answered_as_a_unit():
    # 国办发 text (govcn sample) and a law article: no marking, the body is the sentence's subject/object
    text = "湖北省地震局已在马鬃山村设立了地震监测站，国土资源部派专家组进行了调查。"
    a = answer_question("马鬃山村的地震监测站是哪个单位设的？", [_p(text, DOC23)])
    assert a.answer_type == "lead_unit" and a.answer == "湖北省地震局"
    law = "第七条 国务院设立全国绿化委员会，统一组织领导全国城乡绿化工作，其办公室设在国务院林业行政主管部门。"
    b = answer_question("全国绿化委员会的办公室设在哪个部门？", [_p(law, DOC23)])
    assert b.answer == "国务院林业行政主管部门"  # the body next to the question's own verb (设在)


def test_an_expert_named_as_leader_in_prose_is_a_person_answer():
    from qa.answer.person import appointed_entries

    text = "国土资源部迅速组织调查，成立了以华中科技大学刘广润院士为组长，由有关单位专家组成的专家组。"
    entries = appointed_entries(text)
    assert [(e.name, e.role) for e in entries] == [("刘广润", "组长")]
    a = answer_question("专家组的组长是谁？", [_p(text, DOC23)])
    assert a.answer_type == "person" and a.answer == "刘广润"


def test_a_document_declaring_that_the_first_listed_unit_leads_is_read_by_its_convention():
    from qa.units import declares_first_listed_lead

    # State Council style (国办发 pages): the convention is declared once, in the first marking
    text = ("（一）拓宽贫困地区农产品销售渠道。加快建设贫困地区农村电商物流体系（商务部、发展改革委、交通运输部、邮政局负责，"
            "排在第一位的部门为牵头部门，下同）。组织开展定向直供直销活动（农业农村部、教育部负责）。")
    doc = dict(doc_title="关于深入开展消费扶贫助力打赢脱贫攻坚战的指导意见", doc_number="国办发〔2018〕129号",
               issuer="国务院办公厅", date="2018-12-30")
    assert declares_first_listed_lead(text) and not declares_first_listed_lead("（商务部、邮政局负责）")
    declared = Passage(text=text, score=1.0, section=[], first_listed_leads=True, **doc)
    a = answer_question("农村电商物流体系建设由哪个部门牵头？", [declared])
    assert a.answer == "商务部" and a.supporting_units == ["发展改革委", "交通运输部", "邮政局"]
    b = answer_question("定向直供直销活动的配合部门有哪些？", [declared])
    assert b.lead_units == ["农业农村部"] and b.answer == "教育部"
    # without the declaration every unit named for the task leads
    plain = Passage(text=text.replace("，排在第一位的部门为牵头部门，下同", ""), score=1.0, section=[], **doc)
    assert answer_question("定向直供直销活动由哪个部门牵头？", [plain]).lead_units == ["农业农村部", "教育部"]


def test_member_lists_of_state_council_pages_and_a_bare_name_under_a_label():
    # 国务院 pages: name and title separated by an ideographic space, titles such as 国务院副总理
    council = "二、组成人员\n主\u3000任：孙春兰\u3000国务院副总理\n副主任：陈宝生\u3000教育部部长"
    assert [(e.name, e.role) for e in member_entries(council)] == [("孙春兰", "主任"), ("陈宝生", "副主任")]
    convener = "召 集 人：孙春兰\u3000国务院副总理\n副召集人：陈宝生\u3000教育部部长"
    assert member_entries(convener)[0].role == "召集人"
    # the gazette's 编辑委员会: a name printed alone under its label
    masthead = "编辑委员会\n主任：吴文彪\n副主任：于建华 杨军峡"
    assert [(e.name, e.role) for e in member_entries(masthead)] == [("吴文彪", "主任")]
    assert [e.name for e in member_entries("组长：待定\n主任：市教育局")] == []


def test_a_question_in_other_words_is_answered_by_the_sentence_the_embedder_finds_closest():
    # two sentences that share no characters with the question; the sentence windows' cosines decide
    text = "严格执行义务教育就近、划片、免试招生政策。加快推进学校标准化建设，改善办学条件。"
    first, second = "严格执行义务教育就近、划片、免试招生政策。", "加快推进学校标准化建设，改善办学条件。"
    question = "娃读书在哪儿念？"
    near_first = _p(text, DOC23)
    near_first.windows, near_first.dense = [(first, 0.91), (second, 0.80)], 0.85
    assert "就近" in answer_question(question, [near_first]).answer
    near_second = _p(text, DOC23)
    near_second.windows, near_second.dense = [(first, 0.80), (second, 0.91)], 0.85
    assert "标准化" in answer_question(question, [near_second]).answer


def test_window_cosines_follow_the_stored_sentence_windows(service):
    from qa.chunking import sentence_windows

    index, retriever = service.state
    chunk = next(c for c in index.chunks if len(sentence_windows(c)) >= 3)
    q = retriever.embedder.embed_query(sentence_windows(chunk)[1]).astype("float32")
    got = retriever.window_cosines(chunk, q)
    assert [t for t, _ in got] == sentence_windows(chunk)
    assert max(range(len(got)), key=lambda j: got[j][1]) == 1  # its own text is the closest window
