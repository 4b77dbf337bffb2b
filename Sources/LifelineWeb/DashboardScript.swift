import LifelineQueue
import LifelineRecovery

/// The dashboard's script: reads the API, draws the panels, follows the live event stream,
/// and sends the actions the token allows.
extension Dashboard {
    static let script = """
        "use strict";
        const $ = (id) => document.getElementById(id);
        const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; };
        const row = (cells) => { const tr = document.createElement("tr"); for (const c of cells) { const td = c instanceof Node ? wrap(c) : el("td", c); tr.append(td); } return tr; };
        const wrap = (node) => { const td = document.createElement("td"); td.append(node); return td; };
        const stateText = (state) => el("span", state, "state " + state);
        // The stages that never give up have the most attempts there are: "∞", as the CLI says.
        const attemptsText = (max) => (max >= \(JobLimits.maxAttempts.upperBound) ? "∞" : String(max));
        // Pages go back by id: each "Older" remembers where its page started, for "Newer".
        const pageSize = 50;
        let pageStarts = [], before = null, shownLast = null, chosenJob = null, chosenServer = null, refreshTimer = null;
        // The filters last applied with the button: what is typed meanwhile waits for it.
        let filters = new URLSearchParams();
        // What the live line says when the queue reads again after an error.
        let liveText = "connecting…";
        // The recovery stages' job kinds: only their servers' actions retry them. Cleanups run
        // until they succeed, retrying by themselves: a cancel would only start them again.
        const stageKinds = [\(Stage.allCases.map { "\"\($0.kind)\"" }.joined(separator: ", "))];
        const cleanupKinds = [\(Stage.allCases.filter(\.isCleanup).map { "\"\($0.kind)\"" }.joined(separator: ", "))];
        // Actions that cannot be taken back ask first.
        const destructive = new Set(["delete", "cancel-failover", "confirm-failback", "stop-test", "cancel"]);

        $("token").value = sessionStorage.getItem("lifeline-token") || "";
        $("token").addEventListener("change", () => sessionStorage.setItem("lifeline-token", $("token").value));

        async function get(path) {
          const response = await fetch(path, { headers: { Accept: "application/json" } });
          if (!response.ok) throw new Error((await response.json()).error || response.statusText);
          return response.json();
        }

        // An action's answer, refusal or not, is shown next to the button that asked for it,
        // and kept per place (a queue, a server, a job) through the re-renders that follow.
        const notes = new Map();
        function note(place, text, className) {
          const span = el("span", text, className);
          span.setAttribute("role", "status");
          span.dataset.place = place;
          return span;
        }
        // A note stays through the redraws that follow its action, and goes after a while: the
        // place has moved on since (a server through its next states).
        const noteLife = 20000;
        function keptNote(place) {
          const kept = notes.get(place);
          if (kept && Date.now() - kept.at > noteLife) notes.delete(place);
          return notes.has(place) ? [note(place, kept.text, kept.className)] : [];
        }
        function actionButton(label, place, path, what) {
          const button = el("button", label);
          button.type = "button";
          button.addEventListener("click", () => {
            if (destructive.has(label.toLowerCase()) && !confirm(`${label} ${what}? This cannot be undone.`)) return;
            act(path, button, place);
          });
          return button;
        }
        async function act(path, button, place) {
          const container = button.parentNode;
          const shown = container.querySelector(".refusal, .done") || note(place, "", "refusal");
          container.append(shown);
          shown.textContent = "…";
          const response = await fetch(path, { method: "POST", headers: { Authorization: "Bearer " + $("token").value } });
          const answer = await response.json().catch(() => ({}));
          const kept = { text: response.ok ? "done" : "refused: " + (answer.error || response.statusText), className: response.ok ? "done" : "refusal", at: Date.now() };
          notes.set(place, kept);
          // The panel may have been drawn again meanwhile: show it wherever the place is now.
          for (const node of [shown, ...document.querySelectorAll(".refusal, .done")].filter((n) => n.dataset.place === place)) {
            node.textContent = kept.text;
            node.className = kept.className;
          }
          scheduleRefresh();
        }

        function seconds(value) {
          if (value === null || value === undefined) return "-";
          if (value < 60) return value.toFixed(1) + " s";
          if (value < 3600) return (value / 60).toFixed(1) + " min";
          return (value / 3600).toFixed(1) + " h";
        }

        async function loadQueues() {
          const [queues, stats] = await Promise.all([get("/api/queues"), get("/api/stats")]);
          const body = $("queues").tBodies[0];
          body.replaceChildren();
          for (const queue of queues) {
            const c = queue.counts || {};
            const toggle = document.createElement("span");
            const place = "queue:" + queue.name;
            toggle.append(actionButton(queue.paused ? "Resume" : "Pause", place, "/api/queues/" + encodeURIComponent(queue.name) + (queue.paused ? "/resume" : "/pause"), "queue " + queue.name), ...keptNote(place));
            const oldest = (stats.oldest_waiting_seconds || {})[queue.name];
            const recent = ((stats.windows_by_queue || {})[queue.name] || []).find((w) => w.minutes === 5);
            const throughput = recent ? `${recent.completed_per_minute.toFixed(1)}/min, ${recent.failed_attempts} failed` : "0.0/min";
            body.append(row([queue.name, c.available ?? 0, c.scheduled ?? 0, c.running ?? 0, c.retryable ?? 0, c.completed ?? 0, c.discarded ?? 0, c.cancelled ?? 0, throughput, seconds(oldest), queue.paused ? "paused" : "no", queue.limit ?? "none", toggle]));
          }
          // Who runs what, and whose jobs wait for their leases to run out (a worker that died or stopped).
          const workers = $("workers").tBodies[0];
          const running = stats.running_by_worker || {}, expired = stats.expired_leases_by_worker || {};
          workers.replaceChildren(...Object.keys(running).sort().map((name) => {
            const tr = row([name, running[name], expired[name] ? `${expired[name]}: its worker stopped renewing` : "0"]);
            if (expired[name]) tr.lastChild.className = "state failed";
            return tr;
          }));
          if (!workers.children.length) workers.append(row(["no jobs running", "", ""]));
          const windows = stats.windows || [];
          $("throughput").textContent = windows.map((w) => `last ${w.minutes} min: ${w.completed} completed (${w.completed_per_minute.toFixed(1)}/min), ${w.failed_attempts} failed attempts (${w.retries} retries, ${w.discarded} discarded)`).join(" · ");
        }

        function progressCell(server) {
          const p = server.progress;
          if (!p || !p.total) return "-";
          const box = document.createElement("span");
          const bar = document.createElement("progress");
          bar.max = p.total; bar.value = p.done;
          const percent = Math.floor((100 * p.done) / p.total);
          bar.setAttribute("aria-label", server.name + " progress " + percent + "%");
          let text = ` ${percent}%`;
          // The rate its worker measured over the last 10 s, while one runs it.
          if (p.rate > 0 && server.current_job_state === "running" && !server.stalled_since) text += ` · ${(p.rate / 1048576).toFixed(1)} MiB/s · ETA ${seconds(Math.max(p.total - p.done, 0) / p.rate)}`;
          box.append(bar, el("span", text));
          return box;
        }

        // Whether a server is at work: its progress moves without events, so it is read on a timer.
        let serversAtWork = false;
        async function loadServers() {
          const servers = await get("/api/servers");
          const body = $("servers").tBodies[0];
          body.replaceChildren();
          for (const server of servers) {
            const actions = document.createElement("span");
            const place = "server:" + server.name;
            for (const action of server.allowed_actions || []) {
              actions.append(actionButton(action, place, "/api/servers/" + encodeURIComponent(server.name) + "/" + action, "server " + server.name));
            }
            actions.append(...keptNote(place));
            const link = el("a", server.name);
            link.href = "#server-" + encodeURIComponent(server.name);
            body.append(row([link, stateText(server.state), server.vm_state ?? "-", server.current_stage ?? "-", progressCell(server), actions]));
            // Across the row, so that a long error widens no column and hides no button. A
            // stalled stage's bar stands still: said, or it would read as slow work.
            const notes = [];
            if (server.stalled_since) notes.push(`stalled since ${server.stalled_since}: its worker stopped renewing the lease of job ${server.current_job}; a worker's next claim takes the job back`);
            if (server.last_error) notes.push("last error: " + server.last_error);
            for (const note of notes) {
              const cell = el("td", note, "wide-error");
              cell.colSpan = 6;
              const tr = document.createElement("tr");
              tr.append(cell);
              body.append(tr);
            }
          }
          serversAtWork = servers.some((server) => server.current_job !== null && server.current_job !== undefined);
        }

        function jobQuery() {
          const query = new URLSearchParams(filters);
          // One more than a page: whether an older page exists.
          query.set("limit", pageSize + 1);
          if (before) query.set("before", before);
          return query;
        }

        async function loadJobs() {
          // The table shows no args: a job's may take megabytes.
          const found = await get("/api/jobs?brief=true&" + jobQuery());
          const jobs = found.slice(0, pageSize);
          const body = $("jobs").tBodies[0];
          body.replaceChildren();
          for (const job of jobs) {
            const link = el("a", job.id);
            link.href = "#job-" + job.id;
            // A completed job's last error is history, as in `jobs list`, unless retried ones are asked for.
            const last = job.state !== "completed" || filters.get("retried") === "true" ? (job.errors || []).at(-1) : null;
            const tr = row([link, job.kind, job.queue, stateText(job.state), job.attempt + "/" + attemptsText(job.max_attempts), job.server ?? "-", job.created_at, last ? last.error : ""]);
            tr.lastChild.className = "error";
            if (job.id === chosenJob) tr.className = "chosen";
            body.append(tr);
          }
          shownLast = jobs.length ? jobs.at(-1).id : null;
          $("shown").textContent = jobs.length ? `jobs ${jobs[0].id} to ${shownLast}` : "no jobs";
          $("older").disabled = found.length <= pageSize;
          $("newer").disabled = pageStarts.length === 0;
        }

        // A server's every move, oldest first, with what caused it.
        async function showServer(name) {
          chosenServer = name;
          let history;
          try {
            history = await get("/api/servers/" + encodeURIComponent(name) + "/history");
          } catch (error) {
            // Not the last server shown: this one, and why it cannot be, once.
            chosenServer = null;
            $("server").hidden = false;
            $("server-title").textContent = "Server " + name + ": " + error.message;
            $("history").replaceChildren();
            return;
          }
          $("server").hidden = false;
          $("server-title").textContent = "Server " + name;
          $("history").replaceChildren(...history.map((move) =>
            el("li", `${move.at} ${move.from ?? "(new)"} → ${move.to ?? "(removed)"}: ${move.cause}` + (move.job ? ` (job ${move.job})` : ""))));
        }

        async function showJob(id) {
          chosenJob = id;
          let job, events;
          try {
            [job, events] = await Promise.all([get("/api/jobs/" + encodeURIComponent(id)), get("/api/events?limit=1000&job=" + encodeURIComponent(id))]);
          } catch (error) {
            chosenJob = null;
            $("job").hidden = false;
            $("job-title").textContent = "Job " + id + ": " + error.message;
            for (const part of ["job-actions", "job-fields", "timeline"]) $(part).replaceChildren();
            return;
          }
          $("job").hidden = false;
          $("job-title").textContent = `Job ${job.id}: ${job.kind}`;
          const fields = $("job-fields");
          fields.replaceChildren();
          for (const key of ["state", "queue", "attempt", "max_attempts", "timeout_seconds", "server", "run_at", "created_at", "attempted_at", "finished_at",
                             "lease_owner", "lease_expires_at", "heartbeat_at", "idempotency_key"]) {
            fields.append(el("dt", key), el("dd", key === "max_attempts" ? attemptsText(job[key]) : job[key] ?? "-"));
          }
          if (job.state === "running" && job.attempted_at) {
            const expired = job.lease_expires_at && new Date(job.lease_expires_at) < new Date();
            fields.append(el("dt", "running for"), el("dd", seconds(Math.max(0, Date.now() - new Date(job.attempted_at)) / 1000) + (expired ? " (lease expired: its worker stopped renewing it)" : "")));
          }
          for (const key of ["args", "progress", "result"]) fields.append(el("dt", key), el("dd", JSON.stringify(job[key])));
          const actions = $("job-actions");
          actions.replaceChildren();
          // What the job allows, as the API refuses the rest: a retry of a discarded, cancelled,
          // retryable or scheduled job, but a recovery stage's (its server's actions retry it);
          // a cancel of one not yet final, but a cleanup stage's.
          const final = ["completed", "discarded", "cancelled"].includes(job.state);
          const retried = ["discarded", "cancelled", "retryable", "scheduled"].includes(job.state);
          const stage = stageKinds.includes(job.kind), cleanup = cleanupKinds.includes(job.kind);
          const offered = (final || cleanup ? [] : ["cancel"]).concat(retried && !stage ? ["retry"] : []);
          for (const action of offered) actions.append(actionButton(action === "retry" ? "Retry" : "Cancel", "job:" + job.id, `/api/jobs/${job.id}/${action}`, "job " + job.id));
          if (retried && stage) {
            actions.append(el("span", cleanup ? `A cleanup of server ${job.server}: it retries by itself until it succeeds.`
                                              : `A stage of server ${job.server}: only its server's actions retry it.`));
          }
          actions.append(...keptNote("job:" + job.id));
          // Events and errors in the order they happened (the times sort as text).
          const entries = events.map((event) => {
            const detail = event.data && Object.keys(event.data).length ? " " + JSON.stringify(event.data) : "";
            return { at: event.at, item: el("li", `${event.at} ${event.type}${detail}`) };
          });
          for (const error of job.errors || []) entries.push({ at: error.at, item: el("li", `${error.at} attempt ${error.attempt} failed: ${error.error}`, "state failed") });
          entries.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
          $("timeline").replaceChildren(...entries.map((entry) => entry.item));
          // Its row stands out in the table, which the refresh that drew this panel reads anew.
          for (const tr of $("jobs").tBodies[0].rows) tr.classList.toggle("chosen", tr.firstChild.textContent === String(job.id));
        }

        function refresh() {
          refreshTimer = null;
          drawEvents();
          Promise.all([loadQueues(), loadServers(), loadJobs()]).then(() => { $("live").textContent = liveText; }).catch(readFailed);
          if (chosenJob) showJob(chosenJob).catch(() => {});
          if (chosenServer) showServer(chosenServer).catch(() => {});
        }
        function scheduleRefresh() { if (!refreshTimer) refreshTimer = setTimeout(refresh, 300); }
        // The stream may stay open through a store's outage and bring no event after it: the
        // page reads again every 2 s until it can.
        function readFailed(error) {
          $("live").textContent = "cannot read the queue: " + error.message;
          setTimeout(scheduleRefresh, 2000);
        }

        let lastSeen = null, opened = false, retryTimer = null;
        function listen() {
          // Like events --follow: the last 10 events, then each as it comes; a reconnect
          // resumes after the last one seen (the browser sends Last-Event-ID, this page ?after).
          const stream = new EventSource("/api/events/stream" + (lastSeen === null ? "" : "?after=" + lastSeen));
          stream.onopen = () => {
            liveText = $("live").textContent = "live";
            // What happened while the stream was down shows at once.
            if (opened) scheduleRefresh();
            opened = true;
          };
          stream.onerror = () => {
            liveText = $("live").textContent = "reconnecting…";
            // The browser retries a dropped stream itself, but gives up for good on an answer that
            // is no stream (a 503 while the store restarts): the page then tries again itself.
            if (stream.readyState === EventSource.CLOSED && !retryTimer) {
              retryTimer = setTimeout(() => { retryTimer = null; listen(); }, 2000);
            }
          };
          // The log is another one (serve restarted on another database): what was shown goes.
          stream.addEventListener("restart", (message) => {
            lastSeen = message.lastEventId;
            $("events").replaceChildren();
            arrived = [];
            scheduleRefresh();
          });
          // Events are drawn with the refresh, at most a few times a second: a flood of thousands a
          // second (a big drain) would otherwise keep the page busy drawing each.
          stream.onmessage = (message) => {
            lastSeen = message.lastEventId;
            arrived.push(message.data);
            if (arrived.length > shownEvents) arrived.splice(0, arrived.length - shownEvents);
            scheduleRefresh();
          };
        }
        const shownEvents = 30;
        let arrived = [];
        function drawEvents() {
          const list = $("events");
          for (const data of arrived) {
            const event = JSON.parse(data);
            const move = event.type === "state_changed" ? ` ${event.data.from ?? "(new)"} → ${event.data.to ?? "(removed)"}` : "";
            list.prepend(el("li", `#${event.seq} ${event.at} ${event.type}` + (event.job ? ` job ${event.job}` : "") + (event.server ? ` server ${event.server}` : "") + move));
          }
          arrived = [];
          while (list.children.length > shownEvents) list.lastChild.remove();
        }

        $("filters").addEventListener("submit", (event) => {
          event.preventDefault();
          filters = new URLSearchParams();
          for (const [key, value] of new FormData($("filters"))) if (value) filters.set(key, value);
          pageStarts = []; before = null;
          loadJobs().then(() => { $("live").textContent = liveText; }).catch(readFailed);
        });
        $("older").addEventListener("click", () => { pageStarts.push(before); before = shownLast; loadJobs(); });
        $("newer").addEventListener("click", () => { before = pageStarts.pop() ?? null; loadJobs(); });
        // A link's place (#job-ID, #server-NAME) opens its panel, on a click and on a load.
        function route() {
          const place = decodeURIComponent(location.hash.slice(1));
          // A job's place is its id; anything else there (#job-abc) is asked for as it is, and refused by name.
          const job = place.slice(4);
          const shown = place.startsWith("job-") ? showJob(/^[1-9][0-9]*$/.test(job) ? Number(job) : job).then(() => $("job"))
            : place.startsWith("server-") ? showServer(place.slice(7)).then(() => $("server")) : null;
          // The panel opens below the tables: brought into view, as a link's target is.
          shown?.then((panel) => panel.scrollIntoView({ block: "start" })).catch(() => {});
        }
        window.addEventListener("hashchange", route);
        listen();
        refresh();
        route();
        // A server at work moves without events (a copy's progress): read every 2 seconds then.
        setInterval(() => { if (serversAtWork && !document.hidden) loadServers().catch(() => {}); }, 2000);
        // Throughput windows slide and waiting jobs age without events: the queues are read every 10 seconds.
        setInterval(() => { if (!document.hidden) loadQueues().catch(() => {}); }, 10000);
        """
}
