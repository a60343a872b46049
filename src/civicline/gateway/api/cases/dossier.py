"""A case's dossier (一案一档) as one document: a printable HTML page, Markdown, or JSON.

``GET /api/v1/cases/{number}/dossier?format=html|md|json``.

The HTML page (``templates/dossier.html``) is self-contained (its style inline, no script, no
image, no outside resource) so it prints or saves as it is, and every value in it is escaped.
The Markdown escapes HTML and Markdown's own marks, so a citizen's words never become markup
in a viewer. Labels are in Chinese, times in city time. What the reader's role may not see was
taken out before (``handlers.dossier``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from civicline.domain.cases import CaseEvent
from civicline.domain.governance import OUTCOME_NAMES
from civicline.domain.supervision import SupervisionOrder
from civicline.domain.taxonomy import Taxonomy
from civicline.gateway.console.texts import translator
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.handlers import dossier
from civicline.handlers.dossier import Dossier, DossierMessage

router = APIRouter(tags=["supervision"])
zh = translator("zh")

EVENT_NAMES = {
    "transition": "状态变更",
    "reply": "答复市民",
    "message": "市民追加",
    "classified": "分类",
    "rated": "评价",
    "alert": "预警",
    "paused": "暂停计时",
    "resumed": "恢复计时",
    "escalated": "超期升级",
    "visited": "回访",
    "supervised": "督办",
    "owned": "领导包案",
}
ORDER_STEPS = {
    "issued": "下发督办",
    "answered": "书面回复",
    "closed": "审核通过",
    "sent_back": "退回重办",
    "reminded": "催办",
}
ORDER_STATUS = {"open": "待回复", "answered": "待审核", "closed": "已办结"}
MESSAGE_STATUS = {
    "received": "已接收",
    "processed": "已处理",
    "queued": "排队中",
    "sending": "发送中",
    "sent": "已发送",
    "delivered": "已送达",
    "failed": "发送失败",
}
DIRECTION = {"inbound": "来信", "outbound": "回复"}
SATISFACTION = {"satisfied": "满意", "basic": "基本满意", "dissatisfied": "不满意"}
NONE = "—"


class Labels:
    """Values as the dossier shows them: city time, department names, Chinese labels."""

    def __init__(self, taxonomy: Taxonomy, city_timezone: tzinfo) -> None:
        self.taxonomy = taxonomy
        self.tz = city_timezone

    def time(self, moment: datetime | None) -> str:
        return NONE if moment is None else f"{moment.astimezone(self.tz):%Y-%m-%d %H:%M}"

    def department(self, code: str | None) -> str:
        if code is None:
            return "待分拨"
        found = self.taxonomy.departments.get(code)
        return f"{found.name_zh}（{code}）" if found else code

    def category(self, code: str | None) -> str:
        if code is None:
            return NONE
        found = self.taxonomy.categories.get(code)
        return f"{found.name_zh}（{code}）" if found else code

    def subcategory(self, category: str | None, code: str | None) -> str:
        found = [s for s in self.taxonomy.subcategories.get(category or "", ()) if s.code == code]
        return f"{found[0].name_zh}（{code}）" if found else (code or NONE)

    def case_rows(self, d: Dossier) -> list[tuple[str, str]]:
        c = d.case
        outcome = OUTCOME_NAMES[c.outcome][0] if c.outcome else NONE
        flags = [name for on, name in ((c.urgent, "紧急"), (c.collective, "群体性")) if on]
        return [
            ("案件编号", c.number),
            ("状态", zh(f"status_{c.status}")),
            ("是否超期", "是" if d.overdue else "否"),
            ("来源渠道", zh(f"channel_{c.channel}")),
            ("答复渠道", zh(f"channel_{c.answer_channel}")),
            ("联系地址", c.reply_to),
            ("分类", self.category(c.category)),
            ("子类", self.subcategory(c.category, c.subcategory)),
            ("承办部门", self.department(c.department)),
            ("标记", "、".join(flags) or NONE),
            ("地点", c.place or NONE),
            ("登记时间", self.time(c.created_at)),
            ("受理时间", self.time(c.accepted_at)),
            ("受理期限", self.time(c.accept_due_at)),
            ("首次答复期限", self.time(c.reply_due_at)),
            ("首次答复时间", self.time(c.first_reply_at)),
            ("办结期限", self.time(c.complete_due_at)),
            ("办结时间", self.time(c.closed_at)),
            ("办理结果", outcome),
            ("涉法涉诉", "是" if c.legal_matter else "否"),
            ("满意度", SATISFACTION.get(c.satisfaction or "", NONE)),
            ("评分", NONE if c.rating is None else str(c.rating)),
            ("升级层级", str(c.escalation_level)),
            ("合并至", c.merged_into or NONE),
        ]

    def owner_rows(self, d: Dossier) -> list[tuple[str, str]]:
        o = d.owner
        if o is None:
            return []
        return [
            ("包案领导", o.leader),
            ("督导领导", o.supervising_leader),
            ("工作专班", "、".join(o.working_group)),
            ("确定人", o.assigned_by),
            ("确定时间", self.time(o.assigned_at)),
            ("最近调整", self.time(o.updated_at)),
        ]

    def order_rows(self, o: SupervisionOrder, now: datetime) -> list[tuple[str, str]]:
        return [
            (
                "状态",
                ORDER_STATUS.get(o.status, o.status) + ("（已超期）" if o.overdue(now) else ""),
            ),
            ("督办人", o.issued_by),
            ("下发时间", self.time(o.issued_at)),
            ("回复期限", self.time(o.due_at)),
            ("回复人", o.responded_by or NONE),
            ("回复时间", self.time(o.responded_at)),
            ("催办次数", str(o.reminders)),
            ("最近催办", self.time(o.reminded_at)),
        ]

    def event_kind(self, e: CaseEvent) -> str:
        name = EVENT_NAMES.get(e.kind, str(e.kind))
        step = e.data.get("step") if e.kind == "supervised" else None
        if isinstance(step, str):
            order = e.data.get("order")
            name = f"{name}·{ORDER_STEPS.get(step, step)}（#{order}）"
        return name

    def status_change(self, e: CaseEvent) -> str:
        if e.from_status is None and e.to_status is None:
            return ""
        before = zh(f"status_{e.from_status}") if e.from_status else ""
        after = zh(f"status_{e.to_status}") if e.to_status else ""
        return f"{before} → {after}"

    def message_head(self, m: DossierMessage) -> list[str]:
        state = MESSAGE_STATUS.get(m.status, m.status)
        if m.direction == "outbound" and m.attempts:
            state += f"（尝试 {m.attempts} 次）"
        if m.last_error:
            state += f"：{m.last_error}"
        return [
            self.time(m.at),
            DIRECTION[m.direction],
            zh(f"channel_{m.channel}"),
            m.author,
            m.address,
            state,
        ]


def _data(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True) if data else ""


MESSAGE_HEAD = ("时间", "方向", "渠道", "发送人", "地址", "状态")
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parents[2] / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
)
_templates.filters["data"] = _data
_templates.filters["zip"] = lambda keys, values: zip(keys, values, strict=True)


def html_page(d: Dossier, labels: Labels) -> str:
    return _templates.get_template("dossier.html").render(
        d=d, labels=labels, message_head=MESSAGE_HEAD, dash=NONE
    )


# Markdown --------------------------------------------------------------------------------

_MD_MARKS = str.maketrans({ch: "\\" + ch for ch in "\\`*_[]|#~"})


def md(text: str) -> str:
    """Inline text: HTML and Markdown marks escaped, lines joined by <br>."""
    safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "<br>".join(safe.translate(_MD_MARKS).splitlines())


def _md_block(text: str | None) -> list[str]:
    if not text:
        return [NONE, ""]
    return [*(f"> {md(line)}" if line.strip() else ">" for line in text.splitlines()), ""]


def _md_table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    head = list(header)
    lines = ["| " + " | ".join(md(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(md(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def markdown(d: Dossier, labels: Labels) -> str:
    c = d.case
    out = [
        f"# 案件档案（一案一档）：{md(c.number)}",
        "",
        f"生成时间 {labels.time(d.generated_at)} · 生成人 {md(d.generated_by)} · "
        f"事件 {len(d.events)} 条 · 消息 {len(d.messages)} 条 · 督办 {len(d.orders)} 件 · "
        f"附件 {len(d.attachments)} 个",
        "",
    ]
    if d.masked:
        out += ["*按查阅人权限，电话、证件号、邮箱及联系地址已隐去。*", ""]
    out += ["## 一、基本情况", "", *_md_table(("项目", "内容"), labels.case_rows(d))]
    out += ["### 诉求内容", "", *_md_block(c.summary), "### 办结说明", "", *_md_block(c.resolution)]
    out += ["## 二、领导包案（五个一）", ""]
    if d.owner is None:
        out += ["未确定包案领导。", ""]
    else:
        out += [*_md_table(("项目", "内容"), labels.owner_rows(d)), "### 化解方案", ""]
        out += _md_block(d.owner.plan)
    out += ["## 三、督办", ""]
    if not d.orders:
        out += ["无督办件。", ""]
    for o in d.orders:
        out += [
            f"### 督办件 #{o.id}",
            "",
            *_md_table(("项目", "内容"), labels.order_rows(o, d.generated_at)),
        ]
        out += [
            "督办指示：",
            "",
            *_md_block(o.instruction),
            "书面回复：",
            "",
            *_md_block(o.response),
        ]
    out += ["## 四、往来消息", ""]
    if not d.messages:
        out += ["无消息。", ""]
    for m in d.messages:
        out += [f"### {' · '.join(md(v) for v in labels.message_head(m))}", ""]
        out += _md_block(m.text)
        if m.meta:
            out += [f"`{_data(m.meta).replace('`', chr(39))}`", ""]
    out += ["## 五、附件", ""]
    for a in d.attachments:
        where = f"（{md(a.url)}）" if a.url else ""
        out.append(f"- 消息 {a.message_id} 附件 {a.index + 1}：{md(a.reference)}{where}")
    out += ["" if d.attachments else "无附件。", ""]
    out += ["## 六、办理记录", ""]
    out += _md_table(
        ("时间", "事项", "操作人", "状态", "说明", "数据"),
        (
            (
                labels.time(e.at),
                labels.event_kind(e),
                e.actor,
                labels.status_change(e),
                e.reason or "",
                _data(e.data),
            )
            for e in d.events
        ),
    )
    return "\n".join(out)


# JSON ------------------------------------------------------------------------------------

CASE_FIELDS = (
    "number",
    "status",
    "channel",
    "reply_channel",
    "reply_to",
    "summary",
    "language",
    "category",
    "subcategory",
    "department",
    "urgent",
    "collective",
    "place",
    "location",
    "created_at",
    "accepted_at",
    "accept_due_at",
    "reply_due_at",
    "first_reply_at",
    "complete_due_at",
    "closed_at",
    "paused_since",
    "outcome",
    "legal_matter",
    "resolution",
    "satisfaction",
    "solved",
    "rating",
    "visit_status",
    "second_review",
    "escalation_level",
    "merged_into",
    "classified_by",
    "confidence",
)


def as_json(d: Dossier, encode: Callable[[Any], Any]) -> Any:
    """The dossier as plain data; ``encode`` makes datetimes and enums JSON-ready."""
    o = d.owner
    return encode(
        {
            "generated_at": d.generated_at,
            "generated_by": d.generated_by,
            "masked": d.masked,
            "case": {name: getattr(d.case, name) for name in CASE_FIELDS} | {"overdue": d.overdue},
            "ownership": None
            if o is None
            else {
                "leader": o.leader,
                "supervising_leader": o.supervising_leader,
                "working_group": o.working_group,
                "plan": o.plan,
                "assigned_by": o.assigned_by,
                "assigned_at": o.assigned_at,
                "updated_at": o.updated_at,
            },
            "supervision": [
                {
                    "id": s.id,
                    "status": s.status,
                    "overdue": s.overdue(d.generated_at),
                    "issued_by": s.issued_by,
                    "issued_at": s.issued_at,
                    "due_at": s.due_at,
                    "instruction": s.instruction,
                    "response": s.response,
                    "responded_by": s.responded_by,
                    "responded_at": s.responded_at,
                    "reminders": s.reminders,
                    "reminded_at": s.reminded_at,
                }
                for s in d.orders
            ],
            "messages": [
                {
                    "direction": m.direction,
                    "id": m.id,
                    "at": m.at,
                    "channel": m.channel,
                    "author": m.author,
                    "address": m.address,
                    "text": m.text,
                    "status": m.status,
                    "attempts": m.attempts,
                    "last_error": m.last_error,
                    "updated_at": m.updated_at,
                    "attachments": [a.reference for a in m.attachments],
                    "meta": m.meta,
                }
                for m in d.messages
            ],
            "attachments": [
                {
                    "message_id": a.message_id,
                    "index": a.index,
                    "reference": a.reference,
                    "url": a.url,
                }
                for a in d.attachments
            ],
            "events": [
                {
                    "kind": e.kind,
                    "at": e.at,
                    "actor": e.actor,
                    "from_status": e.from_status,
                    "to_status": e.to_status,
                    "reason": e.reason,
                    "data": e.data,
                }
                for e in d.events
            ],
        }
    )


# The dossier is a document to read and print: nothing in it may run or load.
DOCUMENT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
}


@router.get(
    "/{number}/dossier",
    # Errors are JSON like everywhere (a response_class would declare them text/html).
    responses={
        200: {
            "description": "HTML, Markdown (format=md) or JSON (format=json)",
            "content": {"text/html": {"schema": {"type": "string"}}, "text/markdown": {}},
        }
    },
)
async def case_dossier(
    number: str,
    user: UserDep,
    services: ServicesDep,
    format: Literal["html", "md", "json"] = "html",
) -> Response:
    """The complete dossier (一案一档): every event, message (with delivery states),
    attachment reference, supervision order and the ownership, as one document."""
    built = await dossier.build(number, user=user, uow=services.uow(), now=services.now())
    labels = Labels(services.taxonomy, services.settings.timezone)
    if format == "json":
        return JSONResponse(as_json(built, jsonable_encoder), headers=DOCUMENT_HEADERS)
    if format == "md":
        return Response(
            markdown(built, labels),
            media_type="text/markdown; charset=utf-8",
            headers={
                **DOCUMENT_HEADERS,
                "Content-Disposition": f'inline; filename="dossier-{number}.md"',
            },
        )
    return HTMLResponse(html_page(built, labels), headers=DOCUMENT_HEADERS)
