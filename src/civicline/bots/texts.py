"""What the bot says, in Chinese and English. Channel-neutral plain text."""

from __future__ import annotations

from civicline.domain.messages import Language

TEXTS: dict[str, dict[Language, str]] = {
    "publish_question": {
        Language.ZH: "\n您的诉求和办理答复可否在“阳光信访”公开"
        "（姓名、电话、门牌号等个人信息会隐去）？请回复“公开”或“不公开”。",
        Language.EN: "\nMay your complaint and its answer appear on the public board, with your "
        "name, phone and address hidden? Reply “PUBLISH” or “PRIVATE”.",
    },
    "publish_yes": {
        Language.ZH: "好的，案件 {number} 办结后将在“阳光信访”公开（隐去个人信息）。",
        Language.EN: "Thank you: case {number} will appear on the public board once it is "
        "answered, without your personal details.",
    },
    "publish_no": {
        Language.ZH: "好的，案件 {number} 不会公开。",
        Language.EN: "Understood: case {number} will not be published.",
    },
    "publish_nothing": {
        Language.ZH: "没有等待您答复是否公开的案件。如需反映新问题，请直接描述。",
        Language.EN: "No case is waiting for your answer about publication. To report a new "
        "problem, just describe it.",
    },
    "case_opened": {
        Language.ZH: "您的诉求已登记，案件编号 {number}，已转交{department}办理，"
        "将在{due}前答复。查询进度请发送“查询 {number}”。",
        Language.EN: "Your complaint is registered as case {number} and has gone to the "
        "{department}, who will answer by {due}. To check on it, send “status {number}”.",
    },
    "case_joined": {
        Language.ZH: "您的诉求已登记，案件编号 {number}。其他市民已反映同一问题（案件 {lead}），"
        "已合并办理，处理结果将同时告知您。",
        Language.EN: "Your complaint is registered as case {number}. Other citizens reported "
        "the same problem (case {lead}): it is handled as one, and you will get the answer too.",
    },
    "case_triage": {
        Language.ZH: "您的诉求已登记，案件编号 {number}。工作人员将尽快确定承办部门。"
        "查询进度请发送“查询 {number}”。",
        Language.EN: "Your complaint is registered as case {number}. Our staff will pass it "
        "to the right department shortly. To check on it, send “status {number}”.",
    },
    "status": {
        Language.ZH: "案件 {number}：{status}。承办部门：{department}。",
        Language.EN: "Case {number}: {status}. Department: {department}.",
    },
    "status_unknown": {
        Language.ZH: "没有找到案件 {number}，请核对编号。",
        Language.EN: "We found no case {number}. Please check the number.",
    },
    "greet": {
        Language.ZH: "您好！这里是12345市民热线在线留言。请描述您遇到的问题、地点和时间。",
        Language.EN: "Hello! This is the City Hotline 12345. Please tell us the problem, "
        "where and when it happened.",
    },
    "thanks": {
        Language.ZH: "不客气，感谢您对城市工作的支持。",
        Language.EN: "You are welcome. Thank you for helping your city.",
    },
    "out_of_scope": {
        Language.ZH: "抱歉，这里只受理向政府反映的问题和诉求。请描述您遇到的问题、地点和时间。",
        Language.EN: "Sorry, this service takes complaints and requests to the city "
        "government. Please tell us the problem, where and when it happened.",
    },
    "urgent_note": {
        Language.ZH: "【紧急】如有人身危险，请立即拨打110、119或120。",
        Language.EN: "[URGENT] If anyone is in danger, call 110, 119 or 120 now. ",
    },
    "triage_department": {Language.ZH: "待分派", Language.EN: "not yet assigned"},
    "help": {
        Language.ZH: "请直接描述您遇到的问题、地点和时间。查询进度：发送“查询 案件编号”；"
        "我的案件：发送“我的案件”；预约接访：发送“预约 接访点代码 日期 事项”；"
        "退订短信：发送“TD”；恢复：发送“订阅”。",
        Language.EN: "Just describe the problem, where and when. Check a case: “STATUS "
        "<case number>”. Your open cases: “MY CASES”. Book a reception: “BOOK <venue code> "
        "<day> <matter>”. Stop texts: “STOP”; resume: “START”.",
    },
    "book_usage": {
        Language.ZH: "预约接访请发送“预约 接访点代码 日期 事项”，如“预约 341800 2026-12-08 "
        "工资拖欠”。接访点和日期见 /visits 页面。",
        Language.EN: "To book a reception send “BOOK <venue code> <day> <matter>”, e.g. “BOOK "
        "341800 2026-12-08 unpaid wages”. Venues and days: the /visits page.",
    },
    "book_unknown_unit": {
        Language.ZH: "没有代码为 {unit} 的接访点。接访点和日期见 /visits 页面。",
        Language.EN: "There is no reception venue {unit}. Venues and days: the /visits page.",
    },
    "book_past": {
        Language.ZH: "{day} 已过，请选择今天或以后的日期。",
        Language.EN: "{day} is past: choose today or a later day.",
    },
    "book_closed_day": {
        Language.ZH: "{day} 该接访点不接访（节假日或非接访日）。接访日期见 /visits 页面。",
        Language.EN: "The venue receives no one on {day} (a holiday or not its day). Days: "
        "the /visits page.",
    },
    "book_full": {
        Language.ZH: "{day} 该接访点预约已满，请选择其他日期。",
        Language.EN: "{day} is fully booked at that venue: choose another day.",
    },
    "book_double": {
        Language.ZH: "您已预约该接访点 {day} 的接访。",
        Language.EN: "You already hold a booking at that venue on {day}.",
    },
    "book_not_found": {
        Language.ZH: "没有找到您的预约 {number}。",
        Language.EN: "No booking {number} of yours was found.",
    },
    "my_cases": {
        Language.ZH: "您的未办结案件：\n{lines}",
        Language.EN: "Your open cases:\n{lines}",
    },
    "no_cases": {Language.ZH: "您目前没有未办结的案件。", Language.EN: "You have no open cases."},
    "started": {
        Language.ZH: "您已恢复接收12345短信通知。",
        Language.EN: "You will receive City Hotline 12345 texts again.",
    },
    "rated": {
        Language.ZH: "感谢您对案件 {number} 的评价：{answer}。",
        Language.EN: "Thank you for your answer on case {number}: {answer}.",
    },
    "visit_reopened": {
        Language.ZH: "很抱歉未能让您满意。案件 {number} 已重新交办，承办部门将再次办理并答复您。",
        Language.EN: "We are sorry. Case {number} is reopened: the department will look at "
        "it again and answer you.",
    },
    "nothing_to_rate": {
        Language.ZH: "没有找到待评价的已办结案件。如需反映新问题，请直接描述。",
        Language.EN: "We found no closed case waiting for your rating. To report a new "
        "problem, just describe it.",
    },
    "feedback_noted": {
        Language.ZH: "您的意见已记入案件 {number}，工作人员会看到。",
        Language.EN: "Your feedback is added to case {number}; our staff will see it.",
    },
    "feedback_rate": {
        Language.ZH: "如需评价，请回复：1 满意，2 基本满意，3 不满意，4 问题未解决。",
        Language.EN: " To rate it, reply 1 satisfied, 2 basically satisfied, 3 dissatisfied, "
        "or 4 not solved.",
    },
    "no_case_for_feedback": {
        Language.ZH: "没有找到您的案件。如需反映新问题，请描述问题、地点和时间。",
        Language.EN: "We found no case of yours. To report a problem, tell us what, where "
        "and when.",
    },
    "ask_place": {
        Language.ZH: "请问问题发生在哪里？请输入地址（区、街道、小区或门牌号），"
        "或点击下方按钮发送位置。",
        Language.EN: "Where did it happen? Type the address (district, street, compound or "
        "number), or tap the button below to share your location.",
    },
    "share_location": {Language.ZH: "📍 发送位置", Language.EN: "📍 Share location"},
    "confirm_category": {
        Language.ZH: "我们理解您反映的是“{category}”类问题，将交{department}办理。"
        "请点击确认，或选择其他类别。",
        Language.EN: "We understood this as {category}, for the {department}. Please "
        "confirm, or pick another category.",
    },
    "choose_language": {
        Language.ZH: "请选择语言 / Please choose your language",
        Language.EN: "Please choose your language / 请选择语言",
    },
    "language_set": {
        Language.ZH: "已切换为中文。",
        Language.EN: "From now on we will write in English.",
    },
    "attachment_added": {
        Language.ZH: "附件已加入案件 {number}。",
        Language.EN: "Your file is added to case {number}.",
    },
    "attachment_pending": {
        Language.ZH: "已收到附件，将与您的诉求一并登记。",
        Language.EN: "File received: it will be filed with your complaint.",
    },
    "describe_first": {
        Language.ZH: "已收到。请用文字描述您遇到的问题、地点和时间。",
        Language.EN: "Received. Please tell us in words what the problem is, where and when.",
    },
    "phone_linked": {
        Language.ZH: "谢谢，已关联您的手机号：您的短信和热线来电将与本账号的案件合并显示。",
        Language.EN: "Thank you: your phone number is linked, so your texts and hotline calls "
        "join the cases on this account.",
    },
    "phone_not_linked": {
        Language.ZH: "该手机号已关联其他账号，未做更改。如需合并，请拨打12345。",
        Language.EN: "That phone number belongs to another account; nothing was changed. "
        "Call 12345 to merge them.",
    },
    "edit_added": {
        Language.ZH: "您修改后的内容已加入案件 {number}。",
        Language.EN: "Your edited message is added to case {number}.",
    },
    "choice_expired": {
        Language.ZH: "这个按钮已失效。如需反映问题，请直接描述。",
        Language.EN: "That button has expired. To report a problem, just describe it.",
    },
    "waiting_answered": {
        Language.ZH: "谢谢，您补充的内容已加入案件 {number}，我们将继续办理。",
        Language.EN: "Thank you: what you sent is added to case {number}, and we carry on with it.",
    },
    "legal_channel": {
        Language.ZH: "关于案件 {number}：您反映的事项属于涉法涉诉问题，依法应通过法定途径解决。"
        "请向人民法院提起诉讼，或依法申请仲裁、行政复议；如需法律援助，可拨打12348公共法律服务热线。",
        Language.EN: "About case {number}: your matter is one for the courts. It must go "
        "through the legal channels: a lawsuit at the people's court, arbitration, or an "
        "administrative review. For free legal aid, call the 12348 public legal service line.",
    },
    "comment_invite": {
        Language.ZH: "如有补充意见，请直接回复文字。",
        Language.EN: " If you would like to add a comment, just reply with it.",
    },
    "comment_noted": {
        Language.ZH: "感谢您的意见，已记入案件 {number}。",
        Language.EN: "Thank you: your comment is added to case {number}.",
    },
    "rate_request": {
        Language.ZH: "【回访】您的案件 {number} 已办结。请回复数字评价：1 满意，2 基本满意，"
        "3 不满意，4 问题未解决。",
        Language.EN: "Your case {number} is closed. How did we do? Reply 1 satisfied, "
        "2 basically satisfied, 3 dissatisfied, or 4 if the problem is not solved.",
    },
}

VISIT_LABELS: dict[int, dict[Language, str]] = {
    1: {Language.ZH: "满意", Language.EN: "satisfied"},
    2: {Language.ZH: "基本满意", Language.EN: "basically satisfied"},
    3: {Language.ZH: "不满意", Language.EN: "dissatisfied"},
    4: {Language.ZH: "问题未解决", Language.EN: "not solved"},
}

STATUS_NAMES: dict[str, dict[Language, str]] = {
    "received": {Language.ZH: "已登记", Language.EN: "registered"},
    "accepted": {Language.ZH: "已受理", Language.EN: "accepted"},
    "assigned": {Language.ZH: "已交办", Language.EN: "assigned to a department"},
    "in_progress": {Language.ZH: "办理中", Language.EN: "in progress"},
    "answered": {Language.ZH: "已答复", Language.EN: "answered"},
    "closed": {Language.ZH: "已办结", Language.EN: "closed"},
    "forwarded": {Language.ZH: "已转办", Language.EN: "forwarded"},
    "returned": {Language.ZH: "重新分派中", Language.EN: "being reassigned"},
    "merged": {Language.ZH: "已并案", Language.EN: "merged with another case"},
    "rejected": {Language.ZH: "不予受理", Language.EN: "not accepted"},
    "reopened": {Language.ZH: "重新办理", Language.EN: "reopened"},
}


def say(key: str, language: Language, **values: str) -> str:
    return TEXTS[key][language].format(**values)


PUBLISH_LABELS: dict[bool, dict[Language, str]] = {
    True: {Language.ZH: "同意公开", Language.EN: "Publish"},
    False: {Language.ZH: "不公开", Language.EN: "Keep private"},
}
