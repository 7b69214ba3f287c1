// warden console: live updates. The server sends an event per change
// (a call held or decided, a flag, a kill); the page then fetches itself
// again and swaps in its main part. No polling, no inline script.
"use strict";
(function () {
  var src = document.body.dataset.live;
  if (!src) {
    return;
  }
  var status = document.getElementById("live-status");
  var refreshing = false, again = false;
  function refresh() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    fetch(location.href, { credentials: "same-origin" })
      .then(function (r) {
        if (r.redirected || !r.ok) {
          throw new Error("status " + r.status);
        }
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main");
        var cur = document.getElementById("main");
        // Keep a half-typed form: only swap when no field has focus.
        var active = document.activeElement;
        if (fresh && cur && !(active && active.tagName === "INPUT" && active.type === "text")) {
          keepHeldInPlace(cur, fresh);
          cur.replaceWith(fresh);
        }
      })
      .catch(function () {})
      .finally(function () {
        refreshing = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }
  // A held call that leaves the list (decided, expired, withdrawn by its
  // agent) must not let the ones below move up under the approver's
  // pointer, or a click meant for one lands on another: the held calls
  // on the page stay where they are, a gone one becomes a note of the
  // same height, and new ones are added below.
  function keepHeldInPlace(cur, fresh) {
    var was = cur.querySelector("#pending"), now = fresh.querySelector("#pending");
    if (!was || !now) {
      return;
    }
    was.querySelectorAll("section.held").forEach(function (sec) {
      if (!sec.classList.contains("gone") && !now.querySelector("#" + CSS.escape(sec.id))) {
        sec.style.minHeight = sec.offsetHeight + "px";
        sec.classList.add("gone");
        sec.replaceChildren(document.createTextNode("This call was decided or withdrawn; reload to tidy the list."));
      }
    });
    now.querySelectorAll("section.held").forEach(function (sec) {
      if (!was.querySelector("#" + CSS.escape(sec.id))) {
        var none = was.querySelector("#none-pending");
        if (none) {
          none.remove();
        }
        was.appendChild(sec);
      }
    });
    now.replaceWith(was);
  }
  var es = new EventSource(src);
  es.addEventListener("ready", function () {
    status.className = "online";
    document.body.dataset.connected = "1";
  });
  es.addEventListener("change", refresh);
  es.onerror = function () {
    status.className = "offline";
  };
})();
