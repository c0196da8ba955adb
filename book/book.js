// The book's only script: the language choice, and linked lines lighting up together.
(function () {
  "use strict";
  var root = document.documentElement;

  // 中文 + English, 中文 or English: kept across pages.
  function setLang(lang) {
    root.setAttribute("data-lang", lang);
    try { localStorage.setItem("book-lang", lang); } catch (e) { /* file:// may refuse storage */ }
    document.querySelectorAll("[data-set-lang]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.getAttribute("data-set-lang") === lang));
    });
  }
  var saved = null;
  try { saved = localStorage.getItem("book-lang"); } catch (e) { /* ignore */ }
  setLang(saved || "both");
  document.querySelectorAll("[data-set-lang]").forEach(function (b) {
    b.addEventListener("click", function () { setLang(b.getAttribute("data-set-lang")); });
  });

  // A line with data-k has a partner with the same data-k on the other side of its pair.
  function partners(line) {
    var pair = line.closest(".pair");
    return pair ? pair.querySelectorAll('.l[data-k="' + line.getAttribute("data-k") + '"]') : [];
  }
  function light(line, on) {
    partners(line).forEach(function (l) { l.classList.toggle("hl", on); });
  }
  document.querySelectorAll(".l[data-k]").forEach(function (line) {
    line.addEventListener("mouseenter", function () { light(line, true); });
    line.addEventListener("mouseleave", function () { light(line, false); });
    // A tap (or a click) keeps the pair lit and, when the partner is off screen (a narrow
    // screen puts the programs one above the other), brings it into view.
    line.addEventListener("click", function () {
      document.querySelectorAll(".l.pin").forEach(function (l) { l.classList.remove("pin"); });
      partners(line).forEach(function (l) {
        l.classList.add("pin");
        if (l !== line) {
          var r = l.getBoundingClientRect();
          if (r.top < 0 || r.bottom > window.innerHeight) {
            l.scrollIntoView({ block: "center", behavior: "smooth" });
          }
        }
      });
    });
  });

  // `?only=ID` shows the page's heading and that one section (an example or a measurement):
  // a link to one thing, and what .ci/book-check screenshots.
  var only = new URLSearchParams(location.search).get("only");
  if (only && document.getElementById(only)) {
    document.querySelectorAll("main > section").forEach(function (s) { s.hidden = s.id !== only; });
  }

  // Checked by `cargo xtask book --check-dom`: the script ran in the browser that rendered it.
  root.setAttribute("data-ready", "1");
})();
