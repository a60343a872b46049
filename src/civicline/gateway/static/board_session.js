// A live Q&A session: new answers arrive as server-sent events and are added to the list.
// Without JavaScript the page still shows every answer given when it was loaded.
(function () {
  "use strict";
  var page = document.querySelector("[data-events]");
  var list = document.querySelector("[data-testid=qa-answers]");
  var labels = document.currentScript;
  if (!page || !list || !window.EventSource) { return; }
  var seen = {};
  list.querySelectorAll("li").forEach(function (_, i) { seen[i] = true; });
  var source = new EventSource(page.dataset.events + "?after=" + encodeURIComponent(page.dataset.last));
  function line(cls, label, text) {
    var p = document.createElement("p");
    p.className = cls;
    var strong = document.createElement("strong");
    strong.textContent = label;
    p.appendChild(strong);
    p.appendChild(document.createTextNode(text));
    return p;
  }
  source.addEventListener("answer", function (event) {
    var data = JSON.parse(event.data);
    if (seen["id" + data.id]) { return; }
    seen["id" + data.id] = true;
    var item = document.createElement("li");
    item.setAttribute("data-testid", "qa-answer");
    item.appendChild(line("question", labels.dataset.q, data.question));
    item.appendChild(line("reply", labels.dataset.a, data.answer));
    list.appendChild(item);
  });
}());
