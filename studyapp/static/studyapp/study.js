/* Participant pages work without this script; with it, a trial page reports how long the reasoning
   text was on screen and how far into it the participant scrolled, the consent page the width of
   the screen, and a completion page may count down to Prolific (stoppable). Nothing else. */
(function () {
  "use strict";

  function setField(form, name, value) {
    var field = form.querySelector('input[name="' + name + '"]');
    if (field) { field.value = value; }
  }

  // Consent: the viewport width, for sensitivity analyses by screen size.
  var viewport = document.querySelector('input[name="viewport_width"]');
  if (viewport) { viewport.value = String(document.documentElement.clientWidth || window.innerWidth); }

  // Trial pages: time the trace was on screen (page visible, trace intersecting the viewport) and the
  // largest share of the trace that has been above the bottom of the viewport.
  var trace = document.querySelector("[data-reading]");
  var form = document.querySelector("form.ratings");
  if (trace && form) {
    var visibleMs = 0, since = null, depth = 0, onScreen = false;
    var now = function () { return (window.performance && performance.now) ? performance.now() : Date.now(); };
    var running = function () { return onScreen && document.visibilityState === "visible"; };
    var update = function () {
      if (running() && since === null) { since = now(); }
      if (!running() && since !== null) { visibleMs += now() - since; since = null; }
    };
    var measureDepth = function () {
      var box = trace.getBoundingClientRect();
      if (box.height <= 0) { return; }
      var seen = (window.innerHeight - box.top) / box.height;
      depth = Math.max(depth, Math.min(1, Math.max(0, seen)));
    };
    if ("IntersectionObserver" in window) {
      new IntersectionObserver(function (entries) {
        onScreen = entries[entries.length - 1].isIntersecting;
        update();
      }).observe(trace);
    }
    document.addEventListener("visibilitychange", update);
    window.addEventListener("scroll", measureDepth, { passive: true });
    window.addEventListener("resize", measureDepth);
    measureDepth();
    form.addEventListener("submit", function () {
      if (since !== null) { visibleMs += now() - since; since = now(); }
      setField(form, "trace_visible_ms", String(Math.round(visibleMs)));
      setField(form, "trace_scroll_depth", depth.toFixed(3));
    });
  }

  // Completion: an optional countdown back to Prolific, visible, which the participant can stop.
  var countdown = document.querySelector("[data-countdown]");
  if (countdown) {
    var left = parseInt(countdown.getAttribute("data-seconds"), 10);
    var shown = countdown.querySelector(".seconds");
    var timer = null;
    countdown.hidden = false;
    shown.textContent = String(left);
    timer = window.setInterval(function () {
      left -= 1;
      shown.textContent = String(left);
      if (left <= 0) { window.clearInterval(timer); window.location.assign(countdown.getAttribute("data-url")); }
    }, 1000);
    countdown.querySelector("button").addEventListener("click", function () {
      window.clearInterval(timer);
      countdown.textContent = "Staying on this page. Use the button above when you are ready.";
    });
  }
}());
