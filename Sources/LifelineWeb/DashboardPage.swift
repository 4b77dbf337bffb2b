/// The dashboard's one page: the panels its script fills in.
extension Dashboard {
    static let page = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Lifeline</title>
        <link rel="stylesheet" href="/app.css">
        <script src="/app.js" defer></script>
        </head>
        <body>
        <header>
          <h1>Lifeline</h1>
          <span id="live" role="status">connecting…</span>
          <label>Token <input id="token" type="password" autocomplete="off" placeholder="for actions"></label>
        </header>
        <main>
          <section aria-labelledby="queues-title">
            <h2 id="queues-title">Queues</h2>
            <div class="scroll"><table id="queues"><thead><tr>
              <th>queue</th><th>available</th><th>scheduled</th><th>running</th><th>retryable</th>
              <th>completed</th><th>discarded</th><th>cancelled</th><th>throughput (5 min)</th><th>oldest waiting</th><th>paused</th><th>limit</th><th></th>
            </tr></thead><tbody></tbody></table></div>
            <p id="throughput"></p>
          </section>
          <section aria-labelledby="workers-title">
            <h2 id="workers-title">Workers</h2>
            <div class="scroll"><table id="workers"><thead><tr>
              <th>worker</th><th>running</th><th>lease expired</th>
            </tr></thead><tbody></tbody></table></div>
          </section>
          <section aria-labelledby="servers-title">
            <h2 id="servers-title">Recovery servers</h2>
            <div class="scroll"><table id="servers"><thead><tr>
              <th>server</th><th>state</th><th>VM</th><th>stage</th><th>progress</th><th>actions</th>
            </tr></thead><tbody></tbody></table></div>
          </section>
          <section id="server" aria-labelledby="server-title" hidden>
            <h2 id="server-title">Server</h2>
            <h3>History</h3>
            <ol id="history"></ol>
          </section>
          <section aria-labelledby="jobs-title">
            <h2 id="jobs-title">Jobs</h2>
            <form id="filters">
              <label>state <select name="state">
                <option value="">any</option><option>available</option><option>scheduled</option><option>running</option>
                <option>retryable</option><option>completed</option><option value="discarded">discarded (failed)</option>
                <option>cancelled</option>
              </select></label>
              <label>queue <input name="queue" size="12"></label>
              <label>kind <input name="kind" size="12"></label>
              <label>server <input name="server" size="10"></label>
              <label><input name="retried" type="checkbox" value="true"> retried</label>
              <button type="submit">Filter</button>
            </form>
            <div class="scroll"><table id="jobs"><thead><tr>
              <th>id</th><th>kind</th><th>queue</th><th>state</th><th>attempt</th><th>server</th><th>created</th><th>last error</th>
            </tr></thead><tbody></tbody></table></div>
            <p><button id="newer" type="button">← Newer</button> <button id="older" type="button">Older →</button>
              <span id="shown"></span></p>
          </section>
          <section id="job" aria-labelledby="job-title" hidden>
            <h2 id="job-title">Job</h2>
            <p id="job-actions"></p>
            <dl id="job-fields"></dl>
            <h3>Timeline</h3>
            <ol id="timeline"></ol>
          </section>
          <section aria-labelledby="events-title">
            <h2 id="events-title">Latest events</h2>
            <ul id="events"></ul>
          </section>
        </main>
        </body>
        </html>
        """
}
