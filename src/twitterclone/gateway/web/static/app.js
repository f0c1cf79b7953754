// twitterclone web client: progressive enhancement only. Every page works without this file.
// - a character counter on compose boxes;
// - a live stream (Server-Sent Events): the unread badge, and new tweets on the home page;
// - resetting the inline compose box after HTMX posted it.
(function () {
  "use strict";

  function count(textarea) {
    var max = parseInt(textarea.getAttribute("data-max"), 10);
    var out = document.getElementById(textarea.getAttribute("aria-describedby").split(" ")[0]);
    if (!max || !out) return;
    var used = Array.from(textarea.value).length;
    var left = max - used;
    out.textContent = left >= 0 ? left + " characters left" : -left + " characters over the limit";
    out.classList.toggle("over", left < 0);
    var form = textarea.form;
    var button = form && form.querySelector("button[type=submit]");
    if (button) button.disabled = left < 0;
  }

  function counters(root) {
    root.querySelectorAll("textarea[data-max]").forEach(function (t) {
      if (t.dataset.counting) return;
      t.dataset.counting = "1";
      t.addEventListener("input", function () { count(t); });
      count(t);
    });
  }

  function setUnread(n) {
    var badge = document.getElementById("unread");
    var text = document.getElementById("unread-count");
    if (!badge || !text) return;
    badge.setAttribute("data-count", String(n));
    text.textContent = n > 0 ? String(n) : "";
  }

  function live() {
    var url = document.body.getAttribute("data-live");
    if (!url || !window.EventSource) return;
    var source = new EventSource(url);
    source.addEventListener("unread", function (e) { setUnread(parseInt(e.data, 10) || 0); });
    source.addEventListener("tweet", function (e) {
      var feed = document.getElementById("timeline");
      if (!feed) return;
      var holder = document.createElement("div");
      holder.innerHTML = e.data;
      var article = holder.firstElementChild;
      if (!article || document.getElementById(article.id)) return;
      article.classList.add("fresh");
      feed.insertBefore(article, feed.firstChild);
      if (window.htmx) window.htmx.process(article);
      var empty = feed.querySelector(".empty");
      if (empty) empty.remove();
    });
    source.addEventListener("signed-out", function () {
      source.close();
      var status = document.getElementById("live-status");
      if (status) status.textContent = "You were signed out. Reload the page to sign in again.";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    counters(document);
    live();
  });
  document.addEventListener("htmx:afterSwap", function (e) { counters(e.target.parentElement || document); });
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (e.detail.successful && form && form.hasAttribute && form.hasAttribute("data-reset-on-success")) {
      form.reset();
      counters(form);
      form.querySelectorAll("textarea[data-max]").forEach(count);
    }
  });
})();
