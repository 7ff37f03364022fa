// watchbill's only script: the wall keeps itself current, and code samples copy on click.
"use strict";

(function () {
  const body = document.body;
  const boardUrl = body.dataset.board;
  const eventsUrl = body.dataset.events;
  const board = document.getElementById("board");
  const live = document.getElementById("live");

  if (board && boardUrl && eventsUrl) {
    let refreshing = false;
    let again = false;
    let handoffTimer = null;

    // Fetches the board and swaps it in; a refresh asked for while one runs runs after it.
    async function refresh() {
      if (refreshing) {
        again = true;
        return;
      }
      refreshing = true;
      try {
        const response = await fetch(boardUrl, { credentials: "same-origin" });
        if (response.ok) {
          board.innerHTML = await response.text();
          scheduleHandoff();
          if (live) live.textContent = "live";
        }
      } catch (error) {
        if (live) live.textContent = "reconnecting…";
      } finally {
        refreshing = false;
        if (again) {
          again = false;
          refresh();
        }
      }
    }

    // A handoff changes the wall with no event: refresh just after the earliest one shown.
    function scheduleHandoff() {
      if (handoffTimer) clearTimeout(handoffTimer);
      const teams = board.querySelector("[data-next-change]");
      const next = teams ? Number(teams.dataset.nextChange) : 0;
      if (!next) return;
      const wait = Math.max(next * 1000 - Date.now() + 1000, 1000);
      handoffTimer = setTimeout(refresh, Math.min(wait, 2147483647));
    }

    const source = new EventSource(eventsUrl);
    source.addEventListener("changed", refresh);
    source.addEventListener("open", function () {
      if (live) live.textContent = "live";
    });
    source.addEventListener("error", function () {
      if (live) live.textContent = "reconnecting…";
    });
    scheduleHandoff();
    // Relative times ("in 3h") age; a quiet refresh every minute keeps them true.
    setInterval(refresh, 60000);
  }

  document.addEventListener("click", function (event) {
    const target = event.target.closest ? event.target.closest("code.copy") : null;
    if (target && navigator.clipboard) {
      navigator.clipboard.writeText(target.textContent).then(function () {
        target.classList.add("copied");
        setTimeout(function () { target.classList.remove("copied"); }, 1200);
      }, function () {});
    }
  });
})();
