"""In-page JavaScript for the element primitives, shared by the CDP and Selenium backends.

Each script is a function `(selector, timeoutMs, ...args)`. When the selector matches at once it
acts synchronously (no promise: the cheapest round trip); otherwise it returns a promise that
polls every 20 ms until the selector matches or timeoutMs passes. A selector that never matched
yields `{missing: true}` (or a string saying what else was missing), which the backend turns into
`ElementNotFound`. Only these fixed scripts run: arguments travel as JSON literals, never spliced
into code as text.
"""

from __future__ import annotations


def _element_script(params: str, body: str) -> str:
    """A script running `body` (which sees `el` and `params`) once `selector` matches."""
    return f"""(selector, timeoutMs, {params}) => {{
  const act = (el) => {{ {body} }};
  const now = document.querySelector(selector);
  if (now) return act(now);
  return (async () => {{
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {{
      await new Promise((resolve) => setTimeout(resolve, 20));
      const el = document.querySelector(selector);
      if (el) return act(el);
    }}
    return {{missing: true}};
  }})();
}}"""


WAIT_FOR = _element_script("_", "return {ok: true};")

NAVIGATION_WATCH = """(() => {
  const key = Symbol.for('agentjit.navigations');
  if (window[key]) return window[key];
  const watch = {count: 0, blind: !window.navigation};
  const seen = () => { watch.count += 1; };
  if (window.navigation) window.navigation.addEventListener('navigate', seen);
  window.addEventListener('submit', seen, true);
  const forms = HTMLFormElement.prototype;
  const submit = forms.submit;
  forms.submit = function () { seen(); return submit.call(this); };
  Object.defineProperty(window, key, {value: watch});
  return watch;
})()"""
"""Counts, in this document, the navigations clicks may start: installed once per document on
the first click. A link or a script setting `location` fires the Navigation API's `navigate`
event at once; a form only schedules its navigation, but fires `submit` first (a submit
button, `requestSubmit`) or calls `form.submit()`, which is wrapped. (Adding and removing the
listeners, and re-wrapping, around every click cost more than the macrotask they save.)"""

CLICK = _element_script(
    "_",
    f"""// A script click needs no scrolling into view, and scrolling forces a layout.
  const watch = {NAVIGATION_WATCH};
  const before = watch.count;
  el.click();
  if (watch.count === before && !watch.blind) return {{ok: true}};
  // It may navigate: one macrotask, so a navigation it scheduled (a form submit) has been
  // requested before the reply leaves the page.
  return new Promise((resolve) => setTimeout(() => resolve({{ok: true}}), 0));""",
)

FILL = _element_script(
    "text",
    """el.focus();
  if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
    const proto = Object.getPrototypeOf(el);
    Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, text);
  } else if (el.isContentEditable) {
    el.textContent = text;
  } else {
    return {missing: 'the element is not a text field'};
  }
  el.dispatchEvent(new Event('input', {bubbles: true}));
  el.dispatchEvent(new Event('change', {bubbles: true}));
  return {ok: true};""",
)

SELECT = _element_script(
    "value",
    """if (!(el instanceof HTMLSelectElement)) return {missing: 'it is not a <select>'};
  const option = [...el.options].find((o) => o.value === value)
    || [...el.options].find((o) => o.text.trim() === value);
  if (!option) {
    const known = [...el.options].map((o) => o.value).join(', ');
    return {missing: `no option ${JSON.stringify(value)} (options: ${known})`};
  }
  el.value = option.value;
  el.dispatchEvent(new Event('input', {bubbles: true}));
  el.dispatchEvent(new Event('change', {bubbles: true}));
  return {ok: true};""",
)

FOCUS = _element_script("_", "el.focus(); return {ok: true};")

READ_TEXT = _element_script("_", "return {value: (el.innerText ?? el.textContent).trim()};")

READ_ATTRIBUTE = _element_script("name", "return {value: el.getAttribute(name)};")

READ_TEXTS = """(selector) => [...document.querySelectorAll(selector)].map(
  (el) => (el.innerText ?? el.textContent).trim())"""
