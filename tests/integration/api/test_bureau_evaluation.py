"""Spot checks, CSV imports, the yearly evaluation and its report, interviews and exit
(第九条, 第十条), through the API."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import httpx
from pypdf import PdfReader

from issuance.api.bureau_schemas import EvaluationOut
from issuance.services import admin
from tests.integration.api.world import PHOTO_B64, World

SURVEY = "year,bank,outlet,surveyed,satisfied\n"
COMPLAINTS = "ticket,received_on,bank,outlet,summary\n"


async def _csv(world: World, kind: str, text: str, who: str = "bureau_admin") -> httpx.Response:
    headers = {**world.auth(who), "Content-Type": "text/csv"}
    return await world.client.post(
        f"/v1/bureau/imports/{kind}", content=text.encode(), headers=headers
    )


async def _evaluate(world: World, year: int, score: int, on: str | None = None) -> httpx.Response:
    body = {"bank": "BKA", "year": year, "publicity": score, "security_rules": score,
            "technical_support": score, "evaluated_on": on or f"{year + 1}-02-10"}  # fmt: skip
    return await world.post("bureau_admin", "/v1/bureau/evaluations", body)


async def test_a_file_with_bad_rows_is_refused_whole_with_each_line_and_field(
    world: World,
) -> None:
    survey = SURVEY + "2025,BKA,A1,100,90\n2025,NOPE,,10,5\nx,BKA,,10,50\n2025,BKA,B1,10,5\n"
    r = await _csv(world, "survey", survey)
    assert r.status_code == 422, r.text
    errors = {(e["line"], e["field"]) for e in r.json()["errors"]}
    assert errors == {(3, "bank"), (4, "year"), (4, "satisfied"), (5, "outlet")}
    complaints = (
        COMPLAINTS + "T1,2025-03-01,BKA,A1,排队久\nT1,2025-03-02,BKA,,重复\nT2,03/01,BKA,,x\n"
    )
    r = await _csv(world, "complaints", complaints)
    assert r.status_code == 422
    assert {(e["line"], e["field"]) for e in r.json()["errors"]} == {
        (3, "ticket"),
        (4, "received_on"),
    }
    bad_header = await _csv(world, "complaints", "a,b\n1,2\n")
    assert bad_header.status_code == 422 and bad_header.json()["errors"][0]["line"] == 1
    evaluations = await world.client.get("/v1/bureau/evaluations", headers=world.auth("auditor"))
    assert evaluations.json()["evaluations"] == []
    assert (
        await _csv(world, "survey", SURVEY + "2025,BKA,,10,9\n", who="auditor")
    ).status_code == 403


async def test_an_oversized_file_is_refused_before_it_is_read(world: World) -> None:
    r = await _csv(world, "complaints", COMPLAINTS + "x" * (5 * 1024 * 1024))
    assert r.status_code == 413


async def _inputs(world: World, year: int, satisfied: int, complaints: int) -> None:
    assert (
        await _csv(world, "survey", SURVEY + f"{year},BKA,,100,{satisfied}\n")
    ).status_code == 200
    rows = "".join(
        f"{year}-{i}-{year},{year}-06-0{i},BKA,A1,投诉\n" for i in range(1, complaints + 1)
    )
    assert (await _csv(world, "complaints", COMPLAINTS + rows)).status_code == 200


async def test_the_yearly_evaluation_counts_cards_from_the_database(world: World) -> None:
    await world.issued("clerk_a")
    await world.issued("clerk_a")
    year = admin.today().year  # the cards were handed over today
    await _inputs(world, year, satisfied=95, complaints=3)
    early = await _evaluate(world, year, 90, on=f"{year}-12-31")
    assert (early.status_code, early.json()["code"]) == (409, "outside_evaluation_window")
    late = await _evaluate(world, year, 90, on=f"{year + 1}-04-01")
    assert late.status_code == 409
    r = await _evaluate(world, year, 90)
    assert r.status_code == 201, r.text
    e = r.json()
    EvaluationOut.model_validate(e)
    assert (e["cards_issued"], e["satisfaction_percent"], e["complaints"]) == (2, 95, 3)
    # default rubric: cards 2*100//10000 = 0 (x20), satisfaction 95 (x25), complaints
    # 100 - 3*2 = 94 (x20), publicity 90 (x10), security 90 (x15), support 90 (x10)
    assert e["total"] == (0 * 20 + 95 * 25 + 94 * 20 + 90 * 10 + 90 * 15 + 90 * 10) / 100
    assert e["passed"] is True and e["interview_required"] is False
    again = await _evaluate(world, year, 90)
    assert (again.status_code, again.json()["code"]) == (409, "evaluation_exists")
    talk = await world.post("bureau_admin", "/v1/bureau/interviews", {
        "bank": "BKA", "year": year, "held_on": f"{year + 1}-03-01", "attendees": "张三",
        "summary": "无需约谈"})  # fmt: skip
    assert (talk.status_code, talk.json()["code"]) == (409, "interview_not_required")
    report = await world.client.get(f"/v1/bureau/evaluations/BKA/{year}/report.pdf",
                                    headers=world.auth("admin_a"))  # fmt: skip
    assert report.status_code == 200
    assert report.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(report.content)).pages[0].extract_text()
    assert "BKA" in text and str(year) in text and "服务质量评价报告" in text
    other = await world.client.get(f"/v1/bureau/evaluations/BKA/{year}/report.pdf",
                                   headers=world.auth("admin_bkb"))  # fmt: skip
    assert other.status_code == 403


async def test_a_survey_is_needed_before_evaluating(world: World) -> None:
    r = await _evaluate(world, 2025, 90)
    assert (r.status_code, r.json()["code"]) == (409, "survey_missing")


async def _unqualified(world: World, year: int) -> dict[str, Any]:
    await _inputs(world, year, satisfied=10, complaints=2)
    r = await _evaluate(world, year, 10)
    assert r.status_code == 201, r.text
    assert r.json()["passed"] is False and r.json()["interview_required"] is True
    assert r.json()["interview_recorded"] is False
    talk = await world.post("bureau_admin", "/v1/bureau/interviews", {
        "bank": "BKA", "year": year, "held_on": f"{year + 1}-03-01",
        "attendees": "市人社局; BKA 行长", "summary": "整改服务质量"})  # fmt: skip
    assert talk.status_code == 201, talk.text
    listed = await world.client.get(f"/v1/bureau/evaluations?bank=BKA&year={year}",
                                    headers=world.auth("auditor"))  # fmt: skip
    evaluation: dict[str, Any] = listed.json()["evaluations"][0]
    assert evaluation["interview_recorded"] is True
    return evaluation


async def test_two_unqualified_years_in_a_row_allow_termination(world: World) -> None:
    on = (admin.today() + timedelta(days=1)).isoformat()
    exit_body = {"ground": "two_failed_years", "decided_on": on, "documents": ["评价结果通报"]}
    await _unqualified(world, 2023)
    r = await world.post("bureau_admin", "/v1/bureau/banks/BKA/exit", exit_body)
    assert (r.status_code, r.json()["code"]) == (409, "exit_ground_not_met")
    await _unqualified(world, 2024)
    assert (await world.post("auditor", "/v1/bureau/banks/BKA/exit", exit_body)).status_code == 403
    r = await world.post("bureau_admin", "/v1/bureau/banks/BKA/exit", exit_body)
    assert r.status_code == 200, r.text
    assert (r.json()["stage"], r.json()["exit_ground"]) == ("exited", "two_failed_years")
    assert "第十条第一款(二)" in r.json()["decisions"][-1]["note"]
    order = await world.post("clerk_a", "/v1/applications",
                             {"holder": world.holder(), "photo": PHOTO_B64})  # fmt: skip
    assert (order.status_code, order.json()["code"]) == (409, "bank_not_active")


async def test_spot_checks_are_recorded_with_their_findings(world: World) -> None:
    body = {"bank": "BKA", "outlet": "A1", "checked_on": "2025-05-06",
            "findings": "服务窗口未公示免费项目", "satisfactory": False}  # fmt: skip
    r = await world.post("bureau_admin", "/v1/bureau/spot-checks", body)
    assert r.status_code == 201, r.text
    wrong_outlet = await world.post("bureau_admin", "/v1/bureau/spot-checks",
                                    {**body, "outlet": "B1"})  # fmt: skip
    assert wrong_outlet.status_code == 422
    assert (await world.post("auditor", "/v1/bureau/spot-checks", body)).status_code == 403
    seen = await world.client.get("/v1/bureau/spot-checks", headers=world.auth("admin_a"))
    assert [c["findings"] for c in seen.json()["spot_checks"]] == ["服务窗口未公示免费项目"]
    theirs = await world.client.get("/v1/bureau/spot-checks", headers=world.auth("admin_bkb"))
    assert theirs.json()["spot_checks"] == []
