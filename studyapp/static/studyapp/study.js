/* Participant pages work without this script; with it, a trial page reports how long the reasoning
   text was on screen and whether, how soon and how long its end was (and, with a judgement, how soon
   after the text was on screen it was chosen), trial and questionnaire pages report the paradata the
   consent page names (times away, pastes, copies from the problem, key presses, clicks and taps, signs
   of automation: counts only, never what was typed, pasted or copied), the consent page the width of
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

  // Trial pages: how long the trace was on screen (any of it in the viewport while the tab is in
  // front), and the same for its last line ([data-trace-end], one line high over it, wholly in the
  // viewport): whether it ever was, how long after the page began loading it first was, and for how
  // long in all. Without IntersectionObserver nothing is measured and the fields stay empty.
  var trace = document.querySelector("[data-reading]");
  var traceEnd = document.querySelector("[data-trace-end]");
  var form = document.querySelector("form.ratings");
  if (trace && traceEnd && form && "IntersectionObserver" in window) {
    // A stopwatch that runs while its element is on screen and the tab is in front. Times are
    // performance.now()'s, counted from the start of the page's loading; a change seen by the observer
    // is timed when the browser saw it (entry.time), not when the callback got to run.
    var stopwatch = function () {
      var watch = { onScreen: false, since: null, total: 0, first: null };
      watch.update = function (at) {
        var when = typeof at === "number" ? at : performance.now();
        var running = watch.onScreen && document.visibilityState === "visible";
        if (running && watch.since === null) {
          watch.since = when;
          if (watch.first === null) { watch.first = when; }
        }
        if (!running && watch.since !== null) {
          watch.total += Math.max(0, when - watch.since);
          watch.since = null;
        }
      };
      watch.elapsed = function () {
        return watch.total + (watch.since === null ? 0 : performance.now() - watch.since);
      };
      return watch;
    };
    var traceWatch = stopwatch(), endWatch = stopwatch();
    new IntersectionObserver(function (entries) {
      var entry = entries[entries.length - 1];
      traceWatch.onScreen = entry.isIntersecting;
      traceWatch.update(entry.time);
    }).observe(trace);
    new IntersectionObserver(function (entries) {
      var entry = entries[entries.length - 1];
      endWatch.onScreen = entry.isIntersecting && entry.intersectionRatio >= 0.99;
      endWatch.update(entry.time);
    }, { threshold: 1 }).observe(traceEnd);
    document.addEventListener("visibilitychange", function () {
      traceWatch.update();
      endWatch.update();
    });
    // Verification and simulation: the time from the text first being on screen to the (last) choice
    // of the judgement, sent as choice_ms; empty if the choice came before the text was ever on screen.
    var chosenAt = null;
    form.addEventListener("change", function (event) {
      var name = event.target && event.target.name;
      if (name === "judgement" || name === "prediction") { chosenAt = performance.now(); }
    });
    form.addEventListener("submit", function () {
      if (chosenAt !== null && traceWatch.first !== null && chosenAt >= traceWatch.first) {
        setField(form, "choice_ms", String(Math.round(chosenAt - traceWatch.first)));
      }
      var seen = endWatch.first !== null;
      setField(form, "trace_visible_ms", String(Math.round(traceWatch.elapsed())));
      setField(form, "trace_end_seen", seen ? "1" : "0");
      setField(form, "trace_end_first_seen_ms", seen ? String(Math.round(endWatch.first)) : "");
      setField(form, "trace_end_visible_ms", String(Math.round(endWatch.elapsed())));
    });
  }

  // Paradata, on pages whose form carries its fields. "Away" is any time the tab is hidden or the
  // window is out of focus (another tab, window or application, a chatbot beside the study, say); a
  // page that opens without focus starts away but counts a time away only once it has been left.
  var answerForm = document.querySelector('form input[name="paradata"]');
  answerForm = answerForm && answerForm.form;
  if (answerForm) {
    var counts = { away: 0, paste: 0, copy: 0, key: 0, pointer: 0 };
    var awayTotal = 0, awaySince = null, everHere = false;
    var isAway = function () { return document.visibilityState !== "visible" || !document.hasFocus(); };
    var awayChanged = function () {
      var now = performance.now(), away = isAway();
      if (away && awaySince === null) {
        awaySince = now;
        if (everHere) { counts.away += 1; }
      } else if (!away && awaySince !== null) {
        if (everHere) { awayTotal += now - awaySince; }
        awaySince = null;
      }
      if (!away) { everHere = true; }
    };
    awayChanged();
    document.addEventListener("visibilitychange", awayChanged);
    window.addEventListener("blur", awayChanged);
    window.addEventListener("focus", awayChanged);
    // Whether a node (an element or a text node) lies inside an element matching `selector`.
    var within = function (node, selector) {
      var element = node && (node.nodeType === 1 ? node : node.parentElement);
      return Boolean(element && element.closest(selector));
    };
    var copied = function (event) {
      var selection = window.getSelection();
      var from = within(event.target, "[data-stimulus]") || (selection && (
        within(selection.anchorNode, "[data-stimulus]") || within(selection.focusNode, "[data-stimulus]")));
      if (from) { counts.copy += 1; }
      if (within(event.target, "[data-protect]")) { event.preventDefault(); }
    };
    document.addEventListener("copy", copied);
    document.addEventListener("cut", copied);
    document.addEventListener("paste", function () { counts.paste += 1; });
    document.addEventListener("keydown", function (event) { if (!event.repeat) { counts.key += 1; } });
    document.addEventListener("pointerdown", function () { counts.pointer += 1; });
    // The study's protect_problem_text: no selecting, dragging or context menu on the problem and text.
    ["selectstart", "dragstart", "contextmenu"].forEach(function (type) {
      document.addEventListener(type, function (event) {
        if (within(event.target, "[data-protect]")) { event.preventDefault(); }
      });
    });
    var automationSignals = function () {
      var signals = [], root = document.documentElement;
      if (navigator.webdriver === true) { signals.push("webdriver"); }
      if (/HeadlessChrome|PhantomJS/.test(navigator.userAgent || "")) { signals.push("headless"); }
      if (window.callPhantom || window._phantom) { signals.push("phantom"); }
      if (window.__nightmare) { signals.push("nightmare"); }
      if (window._Selenium_IDE_Recorder || document.__selenium_unwrapped || document.__webdriver_evaluate ||
          (root && root.getAttribute("webdriver") !== null)) { signals.push("selenium"); }
      return signals.join(";");
    };
    answerForm.addEventListener("submit", function () {
      var away = awayTotal + (awaySince !== null && everHere ? performance.now() - awaySince : 0);
      setField(answerForm, "paradata", "1");
      setField(answerForm, "away_count", String(counts.away));
      setField(answerForm, "away_ms", String(Math.round(away)));
      setField(answerForm, "paste_count", String(counts.paste));
      setField(answerForm, "copy_count", String(counts.copy));
      setField(answerForm, "key_count", String(counts.key));
      setField(answerForm, "pointer_count", String(counts.pointer));
      setField(answerForm, "automation_signals", automationSignals());
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
      countdown.textContent = countdown.getAttribute("data-stayed");  // in the page's language
    });
  }
}());
