// The annotate page's one script: text selection, keyboard shortcuts, the save queue, pickers, arrows.
//
// Every action is a POST carrying the set version the page holds. Actions go out one at a time, in
// order, each with the version the previous one left; a failed save (no network, a 5xx) is shown and
// retried, never dropped; a conflict (409) offers to reload and reapply. Responses are fragments that
// htmx swaps out of band: the blocks of text and the side-list rows the action touched.
(() => {
  "use strict";

  const root = document.getElementById("annotate");
  if (!root || !window.htmx) return;

  const $ = (selector, scope = document) => scope.querySelector(selector);
  const $$ = (selector, scope = document) => Array.from(scope.querySelectorAll(selector));
  const textPanel = () => $("#text");
  const csrfToken = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
  const setParam = root.dataset.set || "";
  const urls = {
    act: (action) => root.dataset.actUrl.replace("ACTION", action),
    undo: root.dataset.undoUrl,
    submit: root.dataset.submitUrl,
    workspace: root.dataset.workspaceUrl,
    blocks: root.dataset.blocksUrl,
    filter: root.dataset.filterUrl,
    candidates: root.dataset.candidatesUrl,
    relationTypes: root.dataset.relationTypesUrl,
    newEntity: root.dataset.newEntityUrl,
    attributes: root.dataset.attributesUrl,
  };
  const withSet = (url, params = {}) => {
    const query = new URLSearchParams(params);
    if (setParam) query.set("set", setParam);
    return `${url}?${query}`;
  };

  let current = ""; // the item the keyboard acts on: s<id> span, g<id> suggestion, r<id> relation
  let tailPicking = ""; // while choosing a relation's tail: the head span
  let refused = null; // the last action a conflict refused, to apply again after a reload

  // ---------------------------------------------------------------- announcing

  function announce(message) {
    const region = $("#announce");
    region.textContent = "";
    window.requestAnimationFrame(() => { region.textContent = message; });
  }

  function showSaveStatus(message, { failed = false, retry = null } = {}) {
    const status = $("#save-status");
    status.textContent = message;
    status.classList.toggle("failed", failed);
    if (retry) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Retry now";
      button.addEventListener("click", retry, { once: true });
      status.append(button);
    }
  }

  // ---------------------------------------------------------------- the save queue

  const setVersion = () => $("#set-state").dataset.version;
  let queue = Promise.resolve();

  function readOnly() {
    // A submitted set (or curated gold) takes no changes: say so instead of sending what would fail.
    const state = $("#set-state");
    if (state.dataset.editable === "1") return false;
    const status = state.dataset.status === "in_progress" ? "not yours to change" : state.dataset.status.replace("_", " ");
    announce(`Read only: this set is ${status}.${$("#reopen-form") ? " Reopen it to change it." : ""}`);
    return true;
  }

  function post(url, params, label) {
    if (readOnly()) return Promise.resolve(0);
    const job = queue.then(() => send(url, params, label, 0));
    queue = job.catch(() => undefined);
    return job;
  }

  const RETRY_DELAYS = [1000, 2000, 4000, 8000, 15000];

  async function send(url, params, label, attempt) {
    const body = new URLSearchParams(params);
    body.set("version", setVersion());
    if (setParam) body.set("set", setParam);
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken, "HX-Request": "true" },
      });
    } catch (error) {
      return retryLater(url, params, label, attempt, "the server could not be reached");
    }
    if (response.status >= 500) {
      return retryLater(url, params, label, attempt, `the server answered ${response.status}`);
    }
    const redirect = response.headers.get("HX-Redirect");
    if (redirect) {
      window.location.assign(redirect);
      return response.status;
    }
    if (response.status === 409) refused = { url, params, label };
    applyFragments(await response.text());
    showSaveStatus("");
    return response.status;
  }

  function retryLater(url, params, label, attempt, why) {
    if (attempt >= RETRY_DELAYS.length) {
      return new Promise((resolve) => {
        showSaveStatus(`Not saved: ${label} (${why}).`, {
          failed: true,
          retry: () => resolve(send(url, params, label, 0)),
        });
      });
    }
    const delay = RETRY_DELAYS[attempt];
    showSaveStatus(`Not saved yet: ${label} (${why}). Trying again in ${delay / 1000} s…`, { failed: true });
    return new Promise((resolve) => {
      window.setTimeout(() => resolve(send(url, params, label, attempt + 1)), delay);
    });
  }

  // Blocks of text keep their element and take the new content: a new element would lose the size the
  // browser remembers for it (blocks off screen are not laid out), and the page would jump while
  // reading. Everything else in the answer htmx swaps out of band.
  function swapIn(html) {
    const answer = document.createElement("template");
    answer.innerHTML = html;
    $$(":scope > .blk", answer.content).forEach((fresh) => {
      const old = document.getElementById(fresh.id);
      if (!old || !textPanel().contains(old)) return;
      old.replaceChildren(...fresh.childNodes);
      old.className = fresh.className;
      if (fresh.dataset.lazy) old.dataset.lazy = "1";
      else delete old.dataset.lazy;
      fresh.remove();
    });
    window.htmx.swap(document.body, answer.innerHTML, { swapStyle: "none" });
  }

  function applyFragments(html) {
    generation += 1;
    deferred = []; // read before this change: the blocks still lazy load again as they show
    swapIn(html);
    observeLazy();
    // The answer's sentence ("Accepted …") is the outcome: it stays, and the next item is said after it.
    afterChange($("#announce").textContent.trim());
  }

  function afterChange(outcome = "") {
    const hint = $("#focus-hint");
    const wanted = hint && hint.dataset.item;
    const focusWasLost = !document.activeElement || document.activeElement === document.body || !document.activeElement.isConnected;
    if (wanted && exists(wanted)) setCurrent(wanted, { scroll: false, quiet: true });
    else if (current && exists(current)) setCurrent(current, { scroll: false, quiet: true });
    else if (current) moveAfterRemoval(outcome);
    if (hint) hint.dataset.item = "";
    applyFilter();
    syncTabStops();
    if (focusWasLost && outcome) (rowOf(current) || textPanel()).focus({ preventScroll: true });
    const readOnly = $("#set-state").dataset.editable !== "1";
    $("#undo-button").disabled = readOnly || $("#set-state").dataset.undo === "0";
    const versionInput = $("#submit-form input[name=version]");
    if (versionInput) versionInput.value = setVersion();
  }

  // ---------------------------------------------------------------- one tab stop per list

  // Each list is one Tab stop: its current row, or its first. Up and Down move between rows (and make
  // the row current), Left and Right between the row and its buttons.
  function syncTabStops() {
    $$(".rows").forEach((list) => {
      const rows = $$(".row:not([hidden])", list);
      const stop = rows.find((row) => row.dataset.item === current) || rows[0];
      $$('.row[tabindex="0"]', list).forEach((row) => { if (row !== stop) row.tabIndex = -1; });
      if (stop) stop.tabIndex = 0;
    });
  }

  function rowKeys(event) {
    const row = event.target.closest(".rows .row");
    if (!row || event.ctrlKey || event.metaKey || event.altKey) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const rows = $$(".row:not([hidden])", row.closest(".rows"));
      const next = rows[rows.indexOf(row) + (event.key === "ArrowDown" ? 1 : -1)];
      if (next) {
        setCurrent(next.dataset.item);
        next.focus();
      }
      return true;
    }
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      const stops = [row, ...$$(".row-actions button", row)];
      const index = stops.indexOf(event.target);
      const next = stops[(index + (event.key === "ArrowRight" ? 1 : -1) + stops.length) % stops.length];
      next.focus();
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- blocks that load as needed

  // A long article sends its first blocks with their annotations; the others come as text alone
  // (data-lazy), with empty groups in the side lists. A block loads, text marks and rows together, when
  // it (or its group) scrolls into view, or when navigation, a relation arc or the filter needs it.
  const LAZY_CHUNK = 8;
  const loading = new Map();
  let deferred = []; // answers that arrived while the person was selecting text: applied after
  let generation = 0; // counts the answers to actions: a block read before one of them is out of date
  let mouseIsDown = false;

  const blockEl = (index) => document.getElementById(`blk-${index}`);
  const isLazy = (index) => Boolean(blockEl(index)?.dataset.lazy);
  const allBlocks = () => $$(".blk", textPanel());

  function selecting() {
    const selection = window.getSelection();
    return mouseIsDown || Boolean(selection && !selection.isCollapsed && textPanel()?.contains(selection.anchorNode));
  }

  function applyBlocks(html) {
    swapIn(html);
    if (current) setCurrent(current, { scroll: false, quiet: true });
    applyFilter();
    syncTabStops();
    drawArrows();
    observeLazy();
  }

  function flushDeferred() {
    if (selecting() || !deferred.length) return;
    const waiting = deferred;
    deferred = [];
    waiting.forEach(applyBlocks);
  }

  // Loads the lazy blocks from `first` on (or back from it, `direction` -1), at most LAZY_CHUNK of them,
  // stopping at the first block that is already loaded. `quiet` loads (from scrolling) wait while the
  // person is selecting text, so that the text under the selection is not replaced.
  function loadBlocks(from, { direction = 1, quiet = false } = {}) {
    let first = from;
    let last = from;
    while (direction > 0 && last + 1 - first < LAZY_CHUNK && isLazy(last + 1)) last += 1;
    while (direction < 0 && last + 1 - first < LAZY_CHUNK && isLazy(first - 1)) first -= 1;
    if (!isLazy(from)) return Promise.resolve(false);
    const key = `${first}-${last}`;
    if (!loading.has(key)) {
      const asked = generation;
      const job = fetch(withSet(urls.blocks, { first, last }), { credentials: "same-origin", headers: { "HX-Request": "true" } })
        .then((response) => (response.ok ? response.text() : ""))
        .then((html) => {
          loading.delete(key);
          if (asked !== generation) return loadBlocks(from, { direction, quiet }); // an action changed the set meanwhile
          if (!html) return false;
          if (quiet && selecting()) deferred.push(html);
          else applyBlocks(html);
          return true;
        });
      loading.set(key, job);
    }
    return loading.get(key);
  }

  function blockAt(offset) {
    // The block holding a code-point offset: blocks are in text order, so a binary search.
    const blocks = allBlocks();
    let low = 0;
    let high = blocks.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (Number(blocks[middle].dataset.s) <= offset) low = middle;
      else high = middle - 1;
    }
    return blocks[low] ? Number(blocks[low].id.slice(4)) : -1;
  }

  const lazyGroups = (scope = document) => $$(".rows .group[data-lazy]", scope);

  function loadVisible(entries) {
    entries.filter((entry) => entry.isIntersecting && entry.target.dataset.lazy).forEach((entry) => {
      loadBlocks(Number(entry.target.id.slice(4)), { quiet: true });
    });
  }

  // Made again each time: reloading the workspace replaces the text and the side panel they watch.
  let textObserver = null;

  function observeLazy() {
    textObserver?.disconnect();
    textObserver = new IntersectionObserver(loadVisible, { rootMargin: "800px 0px" });
    $$(".blk[data-lazy]", textPanel()).forEach((block) => textObserver.observe(block));
    // The side lists show the rows of the blocks loaded so far; where the rows stop, a button loads the
    // next blocks (watching the empty groups instead would load one after the other, then the whole article).
    $$(".rows .group .more").forEach((button) => button.remove());
    $$(".rows").forEach((list) => {
      const next = lazyGroups(list)[0];
      if (!next) return;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary outline more";
      button.dataset.action = "more";
      button.dataset.block = next.dataset.block;
      button.textContent = "Show more, from further on in the article";
      next.append(button);
    });
  }

  // ---------------------------------------------------------------- the current item

  const exists = (item) => Boolean($(`[data-item="${item}"]`));
  let lastPosition = { list: "", index: -1 };

  function setCurrent(item, { scroll = true, quiet = false } = {}) {
    $$(".current").forEach((element) => element.classList.remove("current"));
    current = item;
    if (!item) {
      drawArrows();
      return;
    }
    const marks = $$(`#text mark[data-item="${item}"]`);
    const row = $(`.row[data-item="${item}"]`);
    marks.forEach((mark) => mark.classList.add("current"));
    if (row) {
      row.classList.add("current");
      const list = row.closest(".rows");
      lastPosition = { list: list.id, index: $$(".row", list).indexOf(row) };
    }
    const block = (marks[0] || row)?.closest(".blk, .group");
    const index = block ? Number(block.dataset.block ?? block.id.slice(4)) : -1;
    if ((!row || !marks.length) && index >= 0 && isLazy(index)) {
      // Its block has not loaded yet: load it, then show the item again.
      loadBlocks(index).then(() => current === item && setCurrent(item, { scroll, quiet: true }));
    }
    if (scroll) (marks[0] || row)?.scrollIntoView({ block: "nearest", inline: "nearest" });
    if (scroll && row && marks.length) revealRow(row);
    if (!quiet && row) announce(rowName(row));
    syncTabStops();
    drawArrows();
  }

  // The row is shown inside the side list only: on a narrow screen the list sits below the text, and
  // scrolling the page to the row would take the text, where the item is, off the screen.
  function revealRow(row) {
    const panel = row.closest(".side-panel");
    if (!panel) return;
    const box = row.getBoundingClientRect();
    const frame = panel.getBoundingClientRect();
    if (box.top < frame.top) panel.scrollTop -= frame.top - box.top;
    else if (box.bottom > frame.bottom) panel.scrollTop += box.bottom - frame.bottom;
  }

  function moveAfterRemoval(outcome = "") {
    // The current item went away (accepted, rejected, deleted): take the one that now sits in its place,
    // and say so after what happened, in one message (a second one would replace the first at once).
    const hadFocus = document.activeElement?.closest?.(".rows .row") || !document.activeElement?.isConnected;
    const rows = lastPosition.list ? $$(`#${lastPosition.list} .row:not([hidden])`) : [];
    const next = rows[Math.min(lastPosition.index, rows.length - 1)];
    setCurrent(next ? next.dataset.item : "", { quiet: true });
    const now = next ? `Now: ${rowName(next)}.` : "";
    announce([outcome, now].filter(Boolean).join(" "));
    if (next && hadFocus) next.focus({ preventScroll: true });
  }

  const rowName = (row) => row.querySelector(".row-main").textContent.replace(/\s+/g, " ").trim();

  // The next (delta 1) or previous (-1) row of a list from the current item, in text order, loading
  // the blocks in between that have not loaded yet: the list is one group of rows per block.
  async function step(listId, delta) {
    for (;;) {
      const groups = $$(".group", $(`#${listId}`));
      const row = rowOf(current);
      const own = row && $(`#${listId}`).contains(row) ? row : null;
      // From the current row; from the start (or the end, going back) when the current item is no row
      // of this list.
      let at = own ? groups.indexOf(own.closest(".group")) : delta > 0 ? -1 : groups.length;
      let found = null;
      if (own) {
        const rows = $$(".row", groups[at]);
        for (let index = rows.indexOf(own) + delta; !found && index >= 0 && index < rows.length; index += delta) {
          if (!rows[index].hidden) found = rows[index];
        }
      }
      let lazy = null;
      for (at += delta; !found && !lazy && at >= 0 && at < groups.length; at += delta) {
        if (groups[at].dataset.lazy) lazy = groups[at];
        else {
          const rows = $$(".row:not([hidden])", groups[at]);
          found = (delta > 0 ? rows[0] : rows[rows.length - 1]) || null;
        }
      }
      if (found) {
        setCurrent(found.dataset.item);
        return;
      }
      // A block in the way has not loaded: load it (and the next few), then look again.
      if (!lazy || !(await loadBlocks(Number(lazy.dataset.block), { direction: delta }))) break;
    }
    const left = $$(`#${listId} .row:not([hidden])`).length;
    if (!left) announce(listId === "suggestion-list" ? "No suggestions left." : "No entities yet.");
    else announce(delta > 0 ? "That was the last one." : "That was the first one.");
  }

  const kindOf = (item) => ({ s: "span", g: "suggestion", r: "relation" })[item[0]] || "";
  const idOf = (item) => item.slice(1);
  const rowOf = (item) => $(`.row[data-item="${item}"]`);

  // ---------------------------------------------------------------- offsets of the selection

  function codePointOffset(node, offset) {
    // Blocks carry the code-point offset where they start; count code points before the point inside it.
    const element = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
    const block = element.closest(".blk");
    if (!block) {
      const child = node.childNodes[offset];
      const blocks = $$(".blk", textPanel());
      return child && child.dataset ? Number(child.dataset.s) : Number(blocks[blocks.length - 1].dataset.e);
    }
    const before = document.createRange();
    before.setStart(block, 0);
    before.setEnd(node, offset);
    return Number(block.dataset.s) + Array.from(before.toString()).length;
  }

  function selectedText() {
    const selection = window.getSelection();
    if (!selection || !selection.rangeCount || selection.isCollapsed) return null;
    const range = selection.getRangeAt(0);
    const panel = textPanel();
    if (!panel.contains(range.startContainer) || !panel.contains(range.endContainer)) return null;
    let start = codePointOffset(range.startContainer, range.startOffset);
    let end = codePointOffset(range.endContainer, range.endOffset);
    let surface = range.toString();
    // A double click also takes the space after a word: trim white space at both edges.
    const trimmed = surface.trim();
    if (!trimmed) return null;
    start += Array.from(surface.slice(0, surface.indexOf(trimmed))).length;
    end -= Array.from(surface.slice(surface.indexOf(trimmed) + trimmed.length)).length;
    surface = trimmed;
    return { start, end, surface, rect: range.getBoundingClientRect() };
  }

  function showTypePicker() {
    const picker = $("#type-picker");
    const selection = selectedText();
    if (!selection) {
      picker.hidden = true;
      return;
    }
    picker.hidden = false;
    picker.style.left = `${Math.max(window.scrollX + selection.rect.left, 8)}px`;
    picker.style.top = `${window.scrollY + selection.rect.bottom + 6}px`;
  }

  function clearSelection() {
    window.getSelection()?.removeAllRanges();
    lastSelection = null;
    $("#type-picker").hidden = true;
  }

  // ---------------------------------------------------------------- actions

  function createSpan(typeId) {
    const picker = $("#type-picker");
    const fromPicker = !picker.hidden && picker.contains(document.activeElement);
    const selection = selectedText() || (fromPicker ? lastSelection : null);
    if (!selection) return false;
    clearSelection();
    if (fromPicker) textPanel().focus({ preventScroll: true });
    post(urls.act("create-span"), { start: selection.start, end: selection.end, surface: selection.surface, entity_type: typeId }, "new entity");
    return true;
  }

  function changeType(typeId) {
    if (createSpan(typeId)) return;
    if (kindOf(current) === "span") {
      post(urls.act("change-span"), { span: idOf(current), entity_type: typeId }, "type change");
    } else if (kindOf(current) === "suggestion" && rowOf(current)?.dataset.kind === "entity") {
      post(urls.act("correct"), { suggestion: idOf(current), entity_type: typeId }, "corrected suggestion");
    } else {
      announce("Select some text first, or move to an entity or a suggestion.");
    }
  }

  // Resizing by keyboard: each press moves an edge by a word (by a character with Alt) and the
  // presses of one gesture are saved once, when the keys rest. The gesture stays on the item it started
  // on: a suggestion, once corrected, becomes a span, and the page follows it (the focus hint).
  const RESIZE_SETTLE_MS = 450;
  let resizing = null; // { item, start, end, timer }
  let articleChars = null;

  function textChars() {
    // The article's code points, read once from the blocks (the text never changes on this page).
    if (!articleChars) articleChars = Array.from($$(".blk", textPanel()).map((block) => block.textContent).join(""));
    return articleChars;
  }

  const isSpace = (char) => /\s/u.test(char || "");
  const isWordChar = (char) => /[\p{L}\p{N}\p{M}_]/u.test(char || "");

  function wordStep(chars, position, direction) {
    // Past the white space next to the edge, then past one word (letters, digits) or one other character.
    let at = position;
    if (direction < 0) {
      while (at > 0 && isSpace(chars[at - 1])) at -= 1;
      if (isWordChar(chars[at - 1])) while (at > 0 && isWordChar(chars[at - 1])) at -= 1;
      else if (at > 0) at -= 1;
    } else {
      while (at < chars.length && isSpace(chars[at])) at += 1;
      if (isWordChar(chars[at])) while (at < chars.length && isWordChar(chars[at])) at += 1;
      else if (at < chars.length) at += 1;
    }
    return at;
  }

  function movedEdge(chars, edge, position, direction, byCharacter) {
    // The edge moved one word (one character with Alt), then on past white space in the same direction:
    // a span never starts or ends with white space.
    let at = byCharacter ? position + direction : wordStep(chars, position, direction);
    const blank = () => isSpace(edge === "start" ? chars[at] : chars[at - 1]);
    while (at > 0 && at < chars.length && blank()) at += direction;
    return at;
  }

  function moveBoundary(edge, direction, byCharacter) {
    const item = resizing ? resizing.item : current;
    const row = rowOf(item);
    if (!row || row.dataset.start === undefined) {
      announce("Move to an entity or an entity suggestion first.");
      return;
    }
    const chars = textChars();
    let start = resizing ? resizing.start : Number(row.dataset.start);
    let end = resizing ? resizing.end : Number(row.dataset.end);
    if (edge === "start") start = movedEdge(chars, "start", start, direction, byCharacter);
    else end = movedEdge(chars, "end", end, direction, byCharacter);
    if (start < 0 || end > chars.length || start >= end) {
      announce("An entity needs at least one character.");
      return;
    }
    if (resizing) window.clearTimeout(resizing.timer);
    resizing = { item, start, end, timer: window.setTimeout(saveResize, RESIZE_SETTLE_MS) };
    $$(`#text mark[data-item="${item}"]`).forEach((mark) => mark.classList.add("resizing"));
    announce(`Resizing to “${chars.slice(start, end).join("")}”.`);
  }

  function saveResize() {
    // The end of a resize gesture: one save, one version, one undo, one history row.
    if (!resizing) return;
    const { item, start, end, timer } = resizing;
    window.clearTimeout(timer);
    resizing = null;
    $$("mark.resizing").forEach((mark) => mark.classList.remove("resizing"));
    const row = rowOf(item);
    if (row && Number(row.dataset.start) === start && Number(row.dataset.end) === end) return;
    if (kindOf(item) === "span") post(urls.act("change-span"), { span: idOf(item), start, end }, "boundary change");
    else post(urls.act("correct"), { suggestion: idOf(item), start, end }, "corrected suggestion");
  }

  function accept(item = current) {
    if (kindOf(item) !== "suggestion") return announce("Move to a suggestion first (] and [).");
    setCurrent(item, { scroll: false, quiet: true });
    post(urls.act("accept"), { suggestion: idOf(item) }, "accept");
  }

  function removeItem(item = current) {
    setCurrent(item, { scroll: false, quiet: true });
    if (kindOf(item) === "suggestion") post(urls.act("reject"), { suggestion: idOf(item) }, "reject");
    else if (kindOf(item) === "span") post(urls.act("delete-span"), { span: idOf(item) }, "delete");
    else if (kindOf(item) === "relation") post(urls.act("delete-relation"), { relation: idOf(item) }, "delete relation");
  }

  // ---------------------------------------------------------------- many at once

  let lastSelection = null; // the last text selection: the bulk form's "inside the selected text"
  document.addEventListener("selectionchange", () => {
    const selection = selectedText();
    if (selection) lastSelection = selection;
    else flushDeferred();
  });

  function decideMany(verdict, filters) {
    post(urls.act("bulk"), { verdict, ...filters }, verdict === "accept" ? "accept all" : "reject all");
  }

  function decideInsideSelection(verdict) {
    const selection = selectedText();
    if (!selection) return announce("Select some text first: A accepts, X rejects every suggestion inside it.");
    clearSelection();
    decideMany(verdict, { start: selection.start, end: selection.end });
  }

  function acceptWithLink(item = current) {
    if (kindOf(item) !== "suggestion" || rowOf(item)?.dataset.kind !== "entity") {
      return announce("Move to an entity suggestion first (] and [).");
    }
    setCurrent(item, { scroll: false, quiet: true });
    post(urls.act("accept-with-link"), { suggestion: idOf(item) }, "accept with link");
  }

  function undo() {
    if ($("#set-state").dataset.undo === "0") return announce("Nothing to undo.");
    post(urls.undo, {}, "undo");
  }

  function submitAndNext() {
    post(urls.submit, {}, "submit");
  }

  // ---------------------------------------------------------------- relations

  function startRelation() {
    if (kindOf(current) !== "span") return announce("Move to the entity the relation starts from (} and {), then press ;.");
    tailPicking = current;
    root.classList.add("picking-tail");
    $$(`#text mark[data-item="${current}"]`).forEach((mark) => mark.classList.add("head-pick"));
    announce("Relation: move to the tail entity with } and {, then press Enter, or click it. Esc cancels.");
  }

  function stopRelation() {
    tailPicking = "";
    root.classList.remove("picking-tail");
    $$(".head-pick").forEach((mark) => mark.classList.remove("head-pick"));
  }

  async function chooseTail(tail) {
    const head = tailPicking;
    stopRelation();
    if (head === tail) return announce("A relation needs two different entities.");
    await openPanel("relation", withSet(urls.relationTypes, { head: idOf(head), tail: idOf(tail) }));
  }

  // ---------------------------------------------------------------- panels

  async function openPanel(name, url) {
    closePanels();
    await window.htmx.ajax("GET", url, { target: `#${name}-panel-body`, swap: "innerHTML" });
    const panel = $(`#${name}-panel`);
    panel.hidden = false;
    const first = name === "link"
      ? $("#kb-query")
      : $("button[data-action=relate], #attribute-form select, #attribute-form input", panel) || $("button", panel);
    if (first) {
      first.focus();
      if (first.select) first.select();
    }
  }

  function closePanels() {
    $$(".panel").forEach((panel) => { panel.hidden = true; });
  }

  function openLinkPanel(item = current) {
    if (kindOf(item) !== "span") return announce("Move to an entity first (} and {), then press /.");
    setCurrent(item, { scroll: false, quiet: true });
    openPanel("link", withSet(urls.candidates, { span: idOf(item) }));
  }

  function openAttributesPanel(item = current) {
    if (kindOf(item) !== "span") return announce("Move to an entity first (} and {), then press =.");
    setCurrent(item, { scroll: false, quiet: true });
    openPanel("attributes", withSet(urls.attributes, { span: idOf(item) }));
  }

  function linkTo(item, kbEntity) {
    closePanels();
    textPanel().focus();
    const params = kbEntity === null ? { span: idOf(item), nil: "1" } : { span: idOf(item), kb_entity: kbEntity };
    post(urls.act("link-span"), params, "link");
  }

  // ---------------------------------------------------------------- arrows between related spans

  // Arrows run only where there is no text: in the band of leading above a line and, between two lines, down
  // the panel's side margin (as brat routes its arcs), so that an arrow never strikes through words, at any
  // width. Both ends on one line: a low arc in the band above it. Ends on different lines: up into the band
  // above the head's line, along it to the nearer side margin, down to the band above the tail's line, and
  // along it to the tail.
  function drawArrows() {
    const svg = $("#arrows");
    if (!svg) return;
    $$("path.arc, text", svg).forEach((element) => element.remove());
    let rows = [];
    if ($("#all-relations")?.getAttribute("aria-pressed") === "true") rows = $$("#relation-list .row.relation");
    else if (kindOf(current) === "relation") rows = [rowOf(current)];
    else if (kindOf(current) === "span") rows = $$(`.row.relation[data-head="${current}"], .row.relation[data-tail="${current}"]`);
    const origin = svg.getBoundingClientRect();
    const panel = textPanel().getBoundingClientRect();
    const lineHeight = parseFloat(getComputedStyle(textPanel()).lineHeight);
    const margins = [(panel.left - origin.left) / 2, origin.width - (origin.right - panel.right) / 2];
    const placed = []; // the boxes of the labels drawn so far
    let sideLanes = 0; // arrows already sent down a side margin: each next one runs a little further out
    rows.filter(Boolean).forEach((row) => {
      const head = $(`#text mark[data-item="${row.dataset.head}"]`);
      const tail = $(`#text mark[data-item="${row.dataset.tail}"]`);
      if (!head || !tail) {
        // An end in a block not loaded yet: load it; the arcs are drawn again when it arrives.
        [[head, row.dataset.headStart], [tail, row.dataset.tailStart]].forEach(([mark, start]) => {
          const index = mark ? -1 : blockAt(Number(start));
          if (index >= 0 && isLazy(index)) loadBlocks(index);
        });
        return;
      }
      const a = head.getClientRects()[0];
      const b = tail.getClientRects()[0];
      if (!a || !b) return; // hidden (a collapsed block)
      const x1 = a.left + a.width / 2 - origin.left;
      const y1 = a.top - origin.top;
      const x2 = b.left + b.width / 2 - origin.left;
      const y2 = b.top - origin.top;
      // The free band above a line: the line's leading less the height of a mark on it.
      const band = Math.max(8, lineHeight - Math.max(a.height, b.height));
      const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
      path.setAttribute("class", row.dataset.directed === "1" ? "arc" : "arc symmetric");
      const label = document.createElementNS("http://www.w3.org/2000/svg", "text");
      label.setAttribute("text-anchor", "middle");
      label.textContent = row.querySelector("strong").textContent.replace(/[—→↔]/g, "").trim();
      svg.append(path, label);
      const sameLine = Math.abs(y1 - y2) < lineHeight / 2;
      let spots; // where the label may go, best first: [x, y of its middle]
      if (sameLine) {
        const top = Math.min(y1, y2);
        const apex = top - Math.min(band - 3, 6 + Math.abs(x2 - x1) / 20);
        const control = top + (apex - top) / 0.75; // a cubic's peak is 3/4 of the way to its control points
        path.setAttribute("d", `M ${x1} ${y1} C ${x1} ${control}, ${x2} ${control}, ${x2} ${y2 - 2}`);
        spots = [0.5, 0.3, 0.7, 0.15, 0.85].map((along) => [x1 + (x2 - x1) * along, apex]);
      } else {
        const side = (x1 + x2) / 2 < origin.width / 2 ? 0 : 1;
        // Each next arrow down a margin runs 3px further out and 3px higher in the bands: arrows that share
        // a stretch stay apart.
        const apart = 3 * (sideLanes % 3);
        sideLanes += 1;
        const xm = margins[side] + (side ? apart : -apart);
        const lane1 = y1 - band / 2 + 3 - apart;
        const lane2 = y2 - band / 2 + 3 - apart;
        path.setAttribute("d", `M ${x1} ${y1} V ${lane1} H ${xm} V ${lane2} H ${x2} V ${y2 - 2}`);
        // Along the head's band first, then along the tail's.
        const along = [0.5, 0.25, 0.75];
        spots = along.map((f) => [x1 + (xm - x1) * f, y1 - band / 2]).concat(along.map((f) => [x2 + (xm - x2) * f, y2 - band / 2]));
      }
      const place = ([x, middle]) => {
        label.setAttribute("x", String(x));
        label.setAttribute("y", String(middle + 4)); // 11px text: its middle is about 4px above its baseline
        return label.getBBox();
      };
      // Labels over the same words would be written over each other: take the first free spot along the
      // arrow; with none free, raise the label a line at a time (above the band: the last resort).
      let box = place(spots[0]);
      for (let raised = 0; raised < 4 && placed.some((other) => overlaps(box, other)); raised += 1) {
        const lift = raised * (box.height + 2);
        const free = spots.map(([x, y]) => place([x, y - lift])).findIndex((spot) => !placed.some((other) => overlaps(spot, other)));
        box = place(free >= 0 ? [spots[free][0], spots[free][1] - lift] : [spots[0][0], spots[0][1] - lift]);
        if (free >= 0) break;
      }
      placed.push(box);
    });
  }

  function overlaps(a, b) {
    return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  }

  // ---------------------------------------------------------------- filtering the lists

  const filterQuery = () => ($("#filter")?.value || "").trim().toLowerCase();
  // A long article's lists hold the rows of the blocks loaded so far: the server says which blocks have
  // rows the filter matches, and the page loads them (at most FILTER_LOADS requests' worth), so the
  // filter finds what is further on. `searched` is its last answer.
  const FILTER_LOADS = 12;
  let searched = { query: "", blocks: [] };
  let filterTimer = 0;

  function applyFilter() {
    const query = filterQuery();
    $$(".rows .row").forEach((row) => {
      row.hidden = Boolean(query) && !row.dataset.filter.includes(query);
    });
    const note = $("#filter-note");
    if (!note) return;
    let text = "";
    if (query && lazyGroups($("#span-list")).length) {
      const unloaded = searched.blocks.filter(isLazy).length;
      if (searched.query !== query) text = "Looking for matches in the parts of the article not loaded yet…";
      else if (unloaded) text = `${unloaded} more ${unloaded === 1 ? "part" : "parts"} of the article ${unloaded === 1 ? "has" : "have"} matches; they load as you scroll the text or press “Show more”.`;
    }
    note.hidden = !text;
    note.textContent = text;
  }

  function searchFilter() {
    window.clearTimeout(filterTimer);
    const query = filterQuery();
    if (!query || !urls.filter || !lazyGroups($("#span-list")).length) return;
    filterTimer = window.setTimeout(async () => {
      const response = await fetch(withSet(urls.filter, { q: query }), { credentials: "same-origin" });
      if (!response.ok || filterQuery() !== query) return;
      searched = { query, blocks: (await response.json()).blocks };
      applyFilter();
      let loads = 0;
      for (const index of searched.blocks) {
        if (loads >= FILTER_LOADS || filterQuery() !== query) break;
        if (isLazy(index)) {
          loads += 1;
          await loadBlocks(index);
        }
      }
      applyFilter();
    }, 300);
  }

  // ---------------------------------------------------------------- reload after a conflict

  async function reloadWorkspace() {
    await window.htmx.ajax("GET", withSet(urls.workspace), { target: "#workspace", swap: "outerHTML" });
    $("#conflict").innerHTML = "";
    loading.clear(); // the new blocks start lazy again
    deferred = [];
    generation += 1;
    observeLazy();
    afterChange();
  }

  // ---------------------------------------------------------------- typing

  const typeKeys = new Map($$("#type-picker button[data-key]").filter((b) => b.dataset.key).map((b) => [b.dataset.key.toLowerCase(), b.dataset.type]));

  function moveCaret(event) {
    const selection = window.getSelection();
    const panel = textPanel();
    if (!selection.rangeCount || !panel.contains(selection.anchorNode)) {
      const walker = document.createTreeWalker(panel, NodeFilter.SHOW_TEXT);
      const first = walker.nextNode();
      if (!first) return;
      selection.collapse(first, 0);
    }
    const direction = event.key === "ArrowRight" || event.key === "ArrowDown" ? "forward" : "backward";
    const unit = event.key === "ArrowUp" || event.key === "ArrowDown" ? "line" : event.ctrlKey ? "word" : "character";
    selection.modify(event.shiftKey ? "extend" : "move", direction, unit);
    showTypePicker();
  }

  // Elements whose keys are their own: shortcuts never fire while one of them has focus.
  const CONTROLS = "a[href], button, summary, input, textarea, select, [contenteditable]:not([contenteditable=false])";
  const FIELDS = "input, textarea, select, [contenteditable]:not([contenteditable=false])";
  const RESIZE_KEYS = ["<", ">", ",", "."];

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented) return;
    const help = $("#help");
    if (event.key === "Escape") {
      if ($("#type-picker").contains(event.target) || $(".panel:not([hidden])")?.contains(event.target)) {
        textPanel().focus({ preventScroll: true });
      }
      stopRelation();
      closePanels();
      clearSelection();
      if (help.open) help.close();
      return;
    }
    const relationPanel = $("#relation-panel");
    if (!relationPanel.hidden && relationPanel.contains(event.target) && /^[1-9]$/.test(event.key)) {
      $(`button[data-action=relate][data-key="${event.key}"]`, relationPanel)?.click();
      event.preventDefault();
      return;
    }
    if (event.target.id === "kb-query" && event.key === "ArrowDown") {
      $(".candidate")?.focus();
      event.preventDefault();
      return;
    }
    if (event.target.closest(".candidates") && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      const buttons = $$(".candidate");
      const index = buttons.indexOf(event.target.closest(".candidate"));
      (buttons[index + (event.key === "ArrowDown" ? 1 : -1)] || $("#kb-query")).focus();
      event.preventDefault();
      return;
    }
    const picker = $("#type-picker");
    if (event.key === "Tab" && !event.shiftKey && document.activeElement === textPanel() && !picker.hidden) {
      // The type picker sits after the page in the DOM: Tab from a selection goes to it, not past it.
      $("button", picker)?.focus();
      event.preventDefault();
      return;
    }
    if (picker.contains(event.target) && event.key.startsWith("Arrow")) {
      const buttons = $$("button", picker);
      const index = buttons.indexOf(event.target.closest("button"));
      const forward = event.key === "ArrowRight" || event.key === "ArrowDown";
      buttons[(index + (forward ? 1 : -1) + buttons.length) % buttons.length].focus();
      event.preventDefault();
      return;
    }
    if (rowKeys(event)) {
      event.preventDefault();
      return;
    }
    // A focused control keeps its own keys: Enter on a button presses that button, never the page's
    // "accept the current suggestion". Shortcuts act only from the text, a row, or the page itself.
    // Ctrl+Z and Ctrl+Enter are no control's own keys: they still work from a button or a link, not from
    // a text field (where Ctrl+Z undoes typing).
    const withModifier = (event.ctrlKey || event.metaKey) && !event.target.closest(FIELDS);
    if (!withModifier && (event.target.closest(CONTROLS) || event.target.closest("dialog"))) return;
    if (document.activeElement === textPanel() && event.key.startsWith("Arrow") && !event.altKey) {
      moveCaret(event);
      event.preventDefault();
      return;
    }
    if (resizing && !RESIZE_KEYS.includes(event.key)) saveResize(); // another action ends the gesture
    if (event.ctrlKey || event.metaKey) {
      if (event.key.toLowerCase() === "z") { undo(); event.preventDefault(); }
      else if (event.key === "Enter") { submitAndNext(); event.preventDefault(); }
      return;
    }
    const byCharacter = event.altKey;
    if (event.altKey && !RESIZE_KEYS.includes(event.key)) return;
    const handled = {
      "]": () => step("suggestion-list", 1),
      "[": () => step("suggestion-list", -1),
      "}": () => step("span-list", 1),
      "{": () => step("span-list", -1),
      Enter: () => {
        if (tailPicking && kindOf(current) === "span") chooseTail(current);
        else if (event.shiftKey) acceptWithLink();
        else accept();
      },
      A: () => decideInsideSelection("accept"),
      X: () => decideInsideSelection("reject"),
      Delete: () => removeItem(),
      Backspace: () => removeItem(),
      "<": () => moveBoundary("start", -1, byCharacter),
      ">": () => moveBoundary("start", 1, byCharacter),
      ",": () => moveBoundary("end", -1, byCharacter),
      ".": () => moveBoundary("end", 1, byCharacter),
      ";": () => startRelation(),
      "/": () => openLinkPanel(),
      "=": () => openAttributesPanel(),
      "?": () => (help.open ? help.close() : help.showModal()),
    }[event.key];
    if (handled) {
      handled();
      event.preventDefault();
    } else if (typeKeys.has(event.key.toLowerCase()) && !event.shiftKey) {
      changeType(typeKeys.get(event.key.toLowerCase()));
      event.preventDefault();
    }
  });

  // ---------------------------------------------------------------- clicks

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-action]");
    if (button && root.contains(button)) {
      // A row's buttons act on the row's item; other buttons (panels, toolbar) name theirs or act on the current.
      const item = button.dataset.item || button.closest(".rows .row")?.dataset.item || current;
      const action = button.dataset.action;
      if (action === "focus") setCurrent(item);
      else if (action === "accept") accept(item);
      else if (action === "reject" || action === "delete" || action === "delete-relation") removeItem(item);
      else if (action === "link") openLinkPanel(item);
      else if (action === "attributes") openAttributesPanel(item);
      else if (action === "link-to") linkTo(item, button.dataset.kb);
      else if (action === "link-nil") linkTo(item, null);
      else if (action === "type") changeType(button.dataset.type);
      else if (action === "relate") {
        closePanels();
        textPanel().focus();
        post(urls.act("create-relation"), { head: idOf(button.dataset.head), tail: idOf(button.dataset.tail), relation_type: button.dataset.relationType }, "relation");
      } else if (action === "close-panel") { closePanels(); textPanel().focus(); }
      else if (action === "all-relations") {
        const on = button.getAttribute("aria-pressed") !== "true";
        button.setAttribute("aria-pressed", String(on));
        drawArrows();
        announce(on ? "Every relation is drawn." : "Only the current item's relations are drawn.");
      } else if (action === "more") {
        const list = button.closest(".rows");
        const before = $$(".row", list).length;
        loadBlocks(Number(button.dataset.block)).then(() => {
          // The first new row takes the focus the button had (the button is gone with its group).
          const first = $$(".row", list)[before];
          if (first) first.focus();
        });
      } else if (action === "undo") undo();
      else if (action === "help") $("#help").showModal();
      else if (action === "reload") reloadWorkspace();
      else if (action === "reload-reapply") {
        const again = refused;
        reloadWorkspace().then(() => again && post(again.url, again.params, again.label));
      }
      return;
    }
    const rowLink = event.target.closest(".row-main");
    if (rowLink) {
      event.preventDefault();
      const item = rowLink.closest(".row").dataset.item;
      if (tailPicking && kindOf(item) === "span") chooseTail(item);
      else {
        setCurrent(item);
        // The row, not its link, takes the focus: the shortcuts act on it (never on a focused link).
        rowOf(item)?.focus({ preventScroll: true });
      }
      return;
    }
    const mark = event.target.closest("#text mark[data-item]");
    if (mark && window.getSelection().isCollapsed) {
      if (tailPicking && kindOf(mark.dataset.item) === "span") chooseTail(mark.dataset.item);
      else setCurrent(mark.dataset.item);
    }
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.id === "submit-form") {
      event.preventDefault();
      submitAndNext();
    } else if (form.id === "attribute-form") {
      event.preventDefault();
      closePanels();
      textPanel().focus();
      const params = Object.fromEntries(new FormData(form));
      params.span = idOf(form.dataset.item);
      post(urls.act("set-attributes"), params, "attributes");
    } else if (form.id === "bulk-form") {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(form));
      const verdict = event.submitter?.value || "accept";
      const filters = { entity_type: data.entity_type || "", source: data.source || "", min_score: data.min_score || "" };
      if (data.within) {
        if (!lastSelection) return announce("Select some text first, then decide inside it.");
        Object.assign(filters, { start: lastSelection.start, end: lastSelection.end });
      }
      decideMany(verdict, filters);
    } else if (form.id === "new-entity-form") {
      event.preventDefault();
      closePanels();
      const params = Object.fromEntries(new FormData(form));
      params.span = idOf(form.dataset.item);
      post(urls.newEntity, params, "new KB entity");
    }
  });

  // Dragging an edge of the current entity or suggestion with the mouse: the gesture is saved once, when
  // the button is released (one version, one undo, one history row), like a keyboard resize.
  const EDGE_GRIP_PX = 6;
  let dragging = null; // { item, edge }

  function edgeUnder(event) {
    const marks = current ? $$(`#text mark[data-item="${current}"]`) : [];
    if (!marks.length || rowOf(current)?.dataset.start === undefined) return null;
    const first = marks[0].getBoundingClientRect();
    const last = marks[marks.length - 1].getBoundingClientRect();
    const within = (box) => event.clientY >= box.top && event.clientY <= box.bottom;
    if (within(first) && Math.abs(event.clientX - first.left) <= EDGE_GRIP_PX) return "start";
    if (within(last) && Math.abs(event.clientX - last.right) <= EDGE_GRIP_PX) return "end";
    return null;
  }

  function offsetAt(event) {
    const caret = document.caretPositionFromPoint?.(event.clientX, event.clientY);
    if (caret) return codePointOffset(caret.offsetNode, caret.offset);
    const range = document.caretRangeFromPoint?.(event.clientX, event.clientY);
    return range ? codePointOffset(range.startContainer, range.startOffset) : null;
  }

  document.addEventListener("mousedown", (event) => {
    if (event.button === 0 && textPanel()?.contains(event.target)) mouseIsDown = true;
    if (event.button !== 0 || !textPanel()?.contains(event.target)) return;
    const edge = edgeUnder(event);
    if (!edge) return;
    const row = rowOf(current);
    dragging = { item: current, edge };
    resizing = { item: current, start: Number(row.dataset.start), end: Number(row.dataset.end), timer: 0 };
    event.preventDefault(); // no text selection while the edge moves
  });

  document.addEventListener("mousemove", (event) => {
    const over = !dragging && textPanel()?.contains(event.target) && edgeUnder(event);
    textPanel()?.classList.toggle("over-edge", Boolean(over));
    if (!dragging || !resizing) return;
    const at = offsetAt(event);
    if (at === null) return;
    const chars = textChars();
    if (dragging.edge === "start" && at < resizing.end) resizing.start = at;
    if (dragging.edge === "end" && at > resizing.start) resizing.end = at;
    while (resizing.start < resizing.end && isSpace(chars[resizing.start])) resizing.start += 1;
    while (resizing.end > resizing.start && isSpace(chars[resizing.end - 1])) resizing.end -= 1;
    $$(`#text mark[data-item="${dragging.item}"]`).forEach((mark) => mark.classList.add("resizing"));
  });

  document.addEventListener("mouseup", (event) => {
    if (mouseIsDown) {
      mouseIsDown = false;
      window.setTimeout(flushDeferred, 0);
    }
    if (dragging) {
      dragging = null;
      const { start, end } = resizing;
      announce(`Resized to “${textChars().slice(start, end).join("")}”.`);
      saveResize();
      return;
    }
    if (textPanel()?.contains(event.target)) window.setTimeout(showTypePicker, 0);
  });
  document.addEventListener("input", (event) => {
    if (event.target.id !== "filter") return;
    applyFilter();
    searchFilter();
  });
  window.addEventListener("resize", drawArrows);
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.target.id === "workspace" || event.target.closest?.("#workspace")) drawArrows();
  });
  // A long article's suggestions come from a background job: when it ends, the text and lists load again.
  document.body.addEventListener("suggestions-ready", () => reloadWorkspace());

  afterChange();
  observeLazy();
})();
