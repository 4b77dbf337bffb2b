import Foundation
import LifelineQueue
import LifelineTestKit
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `lifeline serve`, driven over HTTP as a client would.
@Suite("lifeline serve", .serialized)
struct ServeCLITests {
    /// A running `lifeline serve` on a free loopback port, stopped when the test ends.
    final class Server {
        let process: BackgroundCommand
        let base: URL

        /// The second line serve prints: how actions get their token.
        let tokenLine: String

        init(_ cli: CLIRunner, token: String? = nil, environment: [String: String] = [:], host: String? = nil) async throws {
            process = try cli.start(["serve", "--port", "0"] + (host.map { ["--host", $0] } ?? []), extraEnvironment: environment.merging(token.map { ["LIFELINE_TOKEN": $0] } ?? [:]) { $1 })
            let line = try await process.nextLine()
            let address = try #require(line.split(separator: " ").last.map(String.init), "serve printed: \(line)")
            base = try #require(URL(string: address))
            tokenLine = try await process.nextLine()
        }

        deinit { process.signal(SIGKILL) }

        func get(_ path: String) async throws -> (status: Int, headers: [String: String], body: JSONValue) {
            let (data, response) = try await URLSession.shared.data(from: try #require(URL(string: path, relativeTo: base)))
            let http = try #require(response as? HTTPURLResponse)
            let headers = Dictionary(uniqueKeysWithValues: http.allHeaderFields.map { ("\($0.key)".lowercased(), "\($0.value)") })
            return (http.statusCode, headers, try JSONValue(parsing: data))
        }

        /// The samples of `/metrics`, by series (name with labels, as printed).
        func metrics() async throws -> [String: Double] {
            let (data, response) = try await URLSession.shared.data(from: try #require(URL(string: "/metrics", relativeTo: base)))
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            #expect((response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            var samples: [String: Double] = [:]
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
                samples[String(line[..<space])] = value
            }
            return samples
        }

        func post(_ path: String, token: String?, body: String? = nil, headers: [String: String] = [:]) async throws -> (status: Int, body: JSONValue) {
            let answer = try await send("POST", path, body: body, headers: headers.merging(token.map { ["Authorization": "Bearer \($0)"] } ?? [:]) { $1 })
            return (answer.response.statusCode, try JSONValue(parsing: answer.data))
        }

        func send(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) async throws -> (response: HTTPURLResponse, data: Data) {
            var request = URLRequest(url: try #require(URL(string: path, relativeTo: base)))
            request.httpMethod = method
            request.httpBody = body.map { Data($0.utf8) }
            for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
            let (data, response) = try await URLSession.shared.data(for: request)
            return (try #require(response as? HTTPURLResponse), data)
        }
    }

    @Test("every read route answers in the CLI's JSON shapes, with headers that load and cache nothing")
    func readRoutes() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let first = try await cli.enqueue(["noop"])
        let second = try await cli.enqueue(["sleep", "--args", #"{"ms": 5}"#])
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB"]).status == 0)
        let server = try await Server(cli)
        #expect(try await server.get("/api/jobs?limit=1&before=\(second)").body.arrayValue?.map { $0["id"]?.intValue } == [first])
        #expect(try await server.get("/api/jobs?retried=true").body == [])

        let health = try await server.get("/healthz")
        #expect(health.status == 200 && health.body == ["store": "ok"])
        #expect(health.headers["content-security-policy"]?.hasPrefix("default-src 'none'") == true)
        #expect(health.headers["x-content-type-options"] == "nosniff" && health.headers["cache-control"] == "no-store")

        #expect(try await server.get("/api/jobs").body == .array(try cli.json(["jobs", "list", "--json"])))
        #expect(try await server.get("/api/jobs?state=available&kind=noop").body == .array(try cli.json(["jobs", "list", "--kind", "noop", "--json"])))
        #expect(try await server.get("/api/jobs/\(first)").body == (try cli.json(["jobs", "show", "\(first)", "--json"]).first), "jobs show --json, events and all")
        #expect(try await server.get("/api/queues").body == .array(try cli.json(["queues", "list", "--json"])))
        #expect(try await server.get("/api/servers").body == .array(try cli.json(["server", "list", "--json"])))
        #expect(try await server.get("/api/servers/web-1").body == (try cli.json(["server", "show", "web-1", "--json"]).first))
        #expect(try await server.get("/api/servers/web-1/history").body == .array(try cli.json(["server", "history", "web-1", "--json"])))
        let events = try await cli.json(["events", "--json"])
        #expect(try await server.get("/api/events").body == .array(events))
        #expect(try await server.get("/api/events?after=1&limit=1").body == .array(Array(events.dropFirst().prefix(1))))
        #expect(try await server.get("/api/stats").body["counts"] == (try cli.json(["stats", "--json"]).first?["counts"]))
    }

    @Test("a deleted server's history is still served, as the CLI shows it")
    func deletedServerHistory() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try RecoveryCLITests.RunningWorker(cli)
        #expect(try await cli.run(["server", "create", "gone-1", "--disk-size", "64KiB", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "delete", "gone-1", "--wait"]).status == 0)
        let server = try await Server(cli)
        let history = try await server.get("/api/servers/gone-1/history")
        let shown = try await cli.json(["server", "history", "gone-1", "--json"])
        #expect(history.status == 200 && history.body == .array(shown), "\(history.body)")
        #expect(history.body.arrayValue?.count ?? 0 >= 4)
        // The server itself is gone: said as the CLI says it, with when and why.
        let gone = try await server.get("/api/servers/gone-1")
        let cliGone = try await cli.run(["server", "show", "gone-1"])
        #expect(gone.status == 404 && cliGone.status == 4, "\(gone)")
        #expect(cliGone.stderr == "lifeline: \(try #require(gone.body["error"]?.stringValue))\n", "the CLI's words: \(cliGone.stderr)")
        #expect(cliGone.stderr.contains("now: removed at"), "\(cliGone.stderr)")
        withExtendedLifetime(worker) {}
    }

    @Test("a Last-Event-ID that is not an event number is refused, naming the header")
    func badLastEventID() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let server = try await Server(cli)
        for value in ["abc", "-1", "99999999999999999999"] {
            let refused = try await server.send("GET", "/api/events/stream", headers: ["Last-Event-ID": value])
            #expect(refused.response.statusCode == 400, "\(value)")
            let message = try JSONValue(parsing: refused.data)["error"]?.stringValue
            #expect(message == "the Last-Event-ID header must be a whole number from 0 to \(Int64.max)")
        }
    }

    @Test("refusals answer one line of JSON with 400 or 404", arguments: [
        ("/api/jobs?state=bogus", 400, "unknown state 'bogus'"),
        ("/api/jobs?limit=0", 400, "limit must be a whole number from 1 to 1000"),
        ("/api/jobs?before=0", 400, "before must be a whole number from 1"),
        ("/api/jobs/abc", 400, "a job id is a positive whole number"),
        // Plain digits only: another spelling of a number names no job's URL.
        ("/api/jobs/+1", 400, "a job id is a positive whole number"),
        ("/api/jobs/01", 400, "a job id is a positive whole number"),
        ("/api/events?job=%2B1", 400, "a job id is a positive whole number"),
        ("/api/jobs/999", 404, "no job 999 (pruned with its events, or never enqueued)"),
        ("/api/servers/nope", 404, "no server 'nope'; servers: none now"),
        ("/api/servers/nope/history", 404, "no server 'nope' now or in the past; servers: none now"),
        ("/api/jobs?queue=a%3Cb", 400, "invalid queue name 'a<b'"),
        ("/api/jobs?server=a%3Cb", 400, "invalid server name 'a<b'"),
        ("/api/events?server=a%3Cb", 400, "invalid server name 'a<b'"),
        ("/api/servers/..%2f..%2fetc", 400, "invalid server name '../../etc'"),
        ("/api/servers/..%2f..%2fetc/history", 400, "invalid server name '../../etc'"),
        ("/api/events?after=-1", 400, "after must be a whole number"),
        ("/api/jobs?stat=discarded", 400, "unknown parameter 'stat'; parameters: state, queue, kind, server, retried, since, limit, before, brief"),
        ("/api/jobs?retried=maybe", 400, "retried takes true, not 'maybe'"),
        ("/api/jobs?retried=false", 400, "retried takes true, not 'false'; leave it out for every job"),
        ("/api/jobs?queue=default%00x", 400, "parameter 'queue' holds a control character"),
        ("/api/events?server=web1%00zz", 400, "parameter 'server' holds a control character"),
        ("/api/events?jobs=1", 400, "unknown parameter 'jobs'"),
        ("/api/stats?x=1", 400, "/api/stats takes no query parameters (got 'x')"),
        ("/api/events/stream?from=3", 400, "unknown parameter 'from'; parameters: after"),
        ("/api/jobs?limit=", 400, "parameter 'limit' has no value"),
        ("/api/jobs?limit=1&limit=50", 400, "parameter 'limit' is given twice"),
        ("/api/jobs?since=soon", 400, "since: "),
        ("/api/events?type=bogus", 400, "unknown event type 'bogus'; event types: enqueued, "),
        ("/nowhere", 404, "no such path: /nowhere; the dashboard is /, the API is under /api/ (described at /api/openapi.json)"),
    ])
    func refusals(path: String, status: Int, message: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let answer = try await Server(cli).get(path)
        #expect(answer.status == status)
        #expect(answer.body["error"]?.stringValue?.contains(message) == true, "\(answer.body)")
    }

    @Test("brief=true lists jobs without their args and result, which may take megabytes; every other field as without it")
    func briefList() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop", "--args", "{\"blob\": \"\(String(repeating: "x", count: 100_000))\"}"])
        let server = try await Server(cli)
        let first = try #require(try await server.get("/api/jobs").body.arrayValue?.first)
        let brief = try #require(try await server.get("/api/jobs?brief=true").body.arrayValue?.first)
        guard case .object(var fields) = first else { Issue.record("\(first)"); return }
        fields["args"] = nil
        fields["result"] = nil
        #expect(brief == .object(fields))
        // Args as deep as enqueue takes list as any others do, brief or whole.
        let deep = String(repeating: "[", count: 255) + String(repeating: "]", count: 255)
        let deepJob = try await cli.enqueue(["noop", "--args", "{\"a\": \(deep)}"])
        let listed = try await server.get("/api/jobs?brief=true")
        #expect(listed.status == 200 && listed.body.arrayValue?.first?["id"]?.intValue == deepJob, "\(listed.status)")
        let whole = try await server.get("/api/jobs"), shown = try await server.get("/api/jobs/\(deepJob)")
        #expect(whole.status == 200 && shown.status == 200)
        #expect(try await cli.run(["jobs", "show", "\(deepJob)", "--json"]).status == 0)
        let refused = try await server.get("/api/jobs?brief=yes")
        #expect(refused.status == 400 && refused.body["error"] == "brief takes true, not 'yes'; leave it out for whole jobs", "\(refused)")
    }

    @Test("the API's lists take since and event types, and answer as the CLI's do")
    func filtersAsCLI() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"], count: 3)
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        let server = try await Server(cli)
        let events = try await server.get("/api/events?type=completed&type=enqueued&since=1h")
        let cliEvents = try await cli.json(["events", "--type", "completed", "--type", "enqueued", "--since", "1h", "--json"])
        #expect(events.status == 200 && events.body == .array(cliEvents) && cliEvents.count == 6, "\(events.body)")
        let jobs = try await server.get("/api/jobs?since=1h")
        let cliJobs = try await cli.json(["jobs", "list", "--since", "1h", "--json"])
        #expect(jobs.status == 200 && jobs.body == .array(cliJobs) && cliJobs.count == 3, "\(jobs.body)")
    }

    @Test("markup in a job's args is served as JSON data, never as a page")
    func markupIsData() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let script = "<script>alert(1)</script>"
        let id = try await cli.enqueue(["exec", "--args", #"{"argv": ["echo", "\#(script)"]}"#])
        let answer = try await Server(cli).get("/api/jobs/\(id)")
        #expect(answer.headers["content-type"]?.hasPrefix("application/json") == true && answer.headers["x-content-type-options"] == "nosniff")
        #expect(answer.body["args"]?["argv"]?.arrayValue?.last == .string(script))
    }

    @Test("actions need the token, refuse cross-site requests, and act and refuse as the CLI does")
    func actions() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let failed = try await cli.enqueue(["exec", "--args", #"{"argv": ["false"]}"#, "--max-attempts", "1"])
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        let waiting = try await cli.enqueue(["noop"])
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB"]).status == 0)
        let token = "t-\(UInt64.random(in: 1 << 62...UInt64.max))"
        let server = try await Server(cli, token: token)
        #expect(server.tokenLine == "actions need the token in LIFELINE_TOKEN")

        #expect(try await server.post("/api/jobs/\(failed)/retry", token: nil).status == 401)
        #expect(try await server.post("/api/jobs/\(failed)/retry", token: token + "x").status == 401)
        #expect(try await server.post("/api/jobs/\(failed)/retry", token: token, headers: ["Sec-Fetch-Site": "cross-site"]).status == 403)
        #expect(try await cli.job(failed)["state"] == "discarded", "a refused action changes nothing")
        let retried = try await server.post("/api/jobs/\(failed)/retry", token: token)
        #expect(retried.status == 200 && retried.body["state"] == "available")
        #expect(try await cli.job(failed)["state"] == "available")
        let again = try await server.post("/api/jobs/\(failed)/retry", token: token)
        let cliAgain = try await cli.run(["jobs", "retry", "\(failed)"])
        #expect(again.status == 409 && cliAgain.status == 3)
        #expect(cliAgain.stderr == "lifeline: \(try #require(again.body["error"]?.stringValue))\n", "the CLI's refusal, word for word")

        #expect(try await server.post("/api/jobs/\(waiting)/cancel", token: token).body == ["job": .int(waiting), "result": "cancelled"])
        #expect(try await server.post("/api/jobs/\(waiting)/cancel", token: token).body == ["job": .int(waiting), "result": "already cancelled"])
        #expect(try await server.post("/api/jobs/999/cancel", token: token).status == 404)
        let field = try await server.post("/api/jobs/\(waiting)/retry", token: token, body: #"{"x": 1}"#)
        #expect(field.status == 400 && field.body["error"] == "unknown field 'x': this action takes no fields", "\(field)")
        #expect(try await server.post("/api/queues/default/pause", token: token, body: "[]").status == 400)
        #expect(try await cli.json(["queues", "list", "--json"]).first { $0["name"] == "default" }?["paused"] == false, "a refused action changes nothing")

        #expect(try await server.post("/api/queues/default/pause", token: token).body["paused"] == true)
        #expect(try await cli.json(["queues", "list", "--json"]).first { $0["name"] == "default" }?["paused"] == true)
        #expect(try await server.post("/api/queues/default/resume", token: token).body["paused"] == false)
        let unknown = try await server.post("/api/queues/nosuch/pause", token: token)
        #expect(unknown.status == 404 && unknown.body["error"] == "no queue 'nosuch'; known queues: default, recovery.backup, recovery.cleanup, recovery.finalize, recovery.network, recovery.provision, recovery.vm", "\(unknown)")
        #expect(try await server.post("/api/queues/bad%20name/pause", token: token).status == 400, "a name no queue can have")

        // The CLI's refusal, word for word: the server is still being created.
        let refusal = try await cli.run(["server", "failover", "web-1"])
        let refused = try await server.post("/api/servers/web-1/failover", token: token)
        #expect(refusal.status == 3 && refused.status == 409)
        let said = try #require(refused.body["error"]?.stringValue)
        #expect(refusal.stderr == "lifeline: \(said)\n" && said.hasPrefix("server web-1: cannot failover: "), "\(said)")
        for key in ["", "a\\u0001b"] {
            let badKey = try await server.post("/api/servers/web-1/failover", token: token, body: #"{"idempotency_key": "\#(key)"}"#)
            #expect(badKey.status == 400 && badKey.body["error"] == "idempotency key must be 1 to 255 bytes without control characters", "\(badKey)")
        }
        #expect(try await server.post("/api/servers/web-1/explode", token: token).status == 400)
        #expect(try await server.post("/api/servers/nope/failover", token: token).status == 404)
        #expect(try await server.post("/api/servers/web-1/failover", token: token, body: "[1]").status == 400)
        let twice = try await server.post("/api/servers/web-1/failover", token: token, body: #"{"recovery_point": "rp-001", "recovery_point": "rp-002"}"#)
        #expect(twice.status == 400 && twice.body["error"]?.stringValue?.hasSuffix("field 'recovery_point' appears twice in one object") == true, "\(twice)")
        let large = try await server.post("/api/servers/web-1/failover", token: token, body: "{\"a\": \"" + String(repeating: "x", count: 100_000) + "\"}")
        #expect(large.status == 413 && large.body["error"] == "the body is larger than 64 KiB", "\(large)")
        #expect(!server.process.stdout.contains(token), "a token of the user's own is never printed")
    }

    @Test("HEAD answers wherever GET does; a method the API never takes, a GET where only POST acts, or a POST where only GET reads, gets 405; the token's scheme is case-insensitive, and a 401 names it")
    func methodsAndScheme() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["noop"])
        let token = "t-\(UInt64.random(in: 1 << 62...UInt64.max))"
        let server = try await Server(cli, token: token)
        for path in ["/", "/api/jobs", "/api/jobs/\(id)", "/healthz"] {
            let head = try await server.send("HEAD", path)
            #expect(head.response.statusCode == 200 && head.data.isEmpty, "HEAD \(path)")
            #expect(head.response.value(forHTTPHeaderField: "Content-Type") != nil, "HEAD \(path)")
        }
        // Each path says which methods it takes; a method no path takes gets those of the API.
        for method in ["DELETE", "PUT", "PATCH", "OPTIONS"] {
            let refused = try await server.send(method, "/api/jobs/\(id)", body: "{}")
            #expect(refused.response.statusCode == 405 && refused.response.value(forHTTPHeaderField: "Allow") == "GET, HEAD", "\(method)")
            #expect(try JSONValue(parsing: refused.data)["error"]?.stringValue?.hasPrefix("method \(method) is not taken") == true)
            let acting = try await server.send(method, "/api/jobs/\(id)/cancel", body: "{}")
            #expect(acting.response.statusCode == 405 && acting.response.value(forHTTPHeaderField: "Allow") == "POST", "\(method)")
            #expect(try await server.send(method, "/api/nowhere").response.statusCode == 404, "\(method) of a path that does not exist")
        }
        let madeUp = try await server.send("PROPFIND", "/api/jobs/\(id)")
        #expect(madeUp.response.statusCode == 405 && madeUp.response.value(forHTTPHeaderField: "Allow") == "GET, HEAD, POST")
        for path in ["/api/jobs/\(id)/cancel", "/api/jobs/\(id)/retry", "/api/queues/default/pause", "/api/servers/web-1/failover"] {
            let read = try await server.send("GET", path)
            #expect(read.response.statusCode == 405 && read.response.value(forHTTPHeaderField: "Allow") == "POST", "GET \(path)")
        }
        for path in ["/", "/app.js", "/app.css", "/api/jobs", "/api/jobs/\(id)", "/healthz", "/api/servers/web-1/history", "/api/events/stream"] {
            let post = try await server.send("POST", path, headers: ["Authorization": "Bearer \(token)"])
            #expect(post.response.statusCode == 405 && post.response.value(forHTTPHeaderField: "Allow") == "GET, HEAD", "POST \(path)")
        }
        #expect(try await server.send("GET", "/api/servers/web-1/bogus").response.statusCode == 404)
        #expect(try await server.send("GET", "/api/servers/web-1/history").response.statusCode == 404, "a real read of a missing server")
        let unauthorized = try await server.send("POST", "/api/jobs/\(id)/cancel")
        #expect(unauthorized.response.statusCode == 401 && unauthorized.response.value(forHTTPHeaderField: "WWW-Authenticate") == "Bearer")
        let lowerCase = try await server.send("POST", "/api/jobs/\(id)/cancel", headers: ["Authorization": "bearer \(token)"])
        #expect(lowerCase.response.statusCode == 200, "\(String(decoding: lowerCase.data, as: UTF8.self))")
        #expect(try await cli.job(id)["state"] == "cancelled")
    }

    @Test("an action held up by another process's lock answers 503 saying so as the CLI does, naming a Lifeline writer; reads go on")
    func actionWhileLocked() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["noop"])
        let token = "t-\(UInt64.random(in: 1 << 62...UInt64.max))"
        let server = try await Server(cli, token: token, environment: ["LIFELINE_LOCK_TIMEOUT": "500ms"])
        let holder = try BackgroundCommand("/usr/bin/env", ["python3", "-c", """
            import fcntl, signal
            lock = open(\(try LifelineJSON.line(cli.home.appendingPathComponent("lifeline.db-writer").path)), "r+")
            fcntl.flock(lock, fcntl.LOCK_EX)
            print("held", flush=True)
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM]); signal.sigwait([signal.SIGTERM])
            """], environment: ProcessInfo.processInfo.environment)
        defer { holder.signal(SIGKILL) }
        #expect(try await holder.nextLine() == "held")
        let refused = try await server.post("/api/jobs/\(id)/cancel", token: token)
        #expect(refused.status == 503, "\(refused)")
        #expect(refused.body["error"]?.stringValue?.contains("process \(holder.processIdentifier) has held its writer lock") == true, "\(refused)")
        #expect(try await server.get("/api/jobs/\(id)").body["state"] == "available", "reads do not wait for the lock")
        holder.signal(SIGTERM)
        _ = try await holder.waitForExit(timeout: .seconds(60))
        #expect(try await server.post("/api/jobs/\(id)/cancel", token: token).status == 200)
        // SQLite's own lock, held by a program that is no Lifeline writer: said as the CLI says it.
        let foreign = try await OperatorSafetyCLITests.stoppedWriter(of: cli, takingWriterLock: false)
        defer { foreign.signal(SIGKILL) }
        let locked = try await server.post("/api/queues/default/pause", token: token)
        #expect(locked.status == 503, "\(locked)")
        #expect(locked.body["error"] == "the database stayed locked by another process for longer than the lock timeout (LIFELINE_LOCK_TIMEOUT); try again", "\(locked)")
    }

    @Test("an action's body is checked as the CLI checks its options; a completed job's cancel is refused as the CLI refuses it")
    func actionBodies() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let done = try await cli.enqueue(["noop"])
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB"]).status == 0)
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        let token = "t-\(UInt64.random(in: 1 << 62...UInt64.max))"
        let server = try await Server(cli, token: token)
        let before = try await cli.json(["events", "--json"]).count

        let cancel = try await server.post("/api/jobs/\(done)/cancel", token: token)
        let cliCancel = try await cli.run(["jobs", "cancel", "\(done)"])
        #expect(cancel.status == 409 && cliCancel.status == 3)
        #expect(cliCancel.stderr == "lifeline: \(try #require(cancel.body["error"]?.stringValue))\n", "the CLI's refusal, word for word")

        let missing = try await server.post("/api/servers/web-1/failover", token: token, body: #"{"recovery_point": "rp-009"}"#)
        let cliMissing = try await cli.run(["server", "failover", "web-1", "--recovery-point", "rp-009"])
        #expect(missing.status == 404 && cliMissing.status == 4, "\(missing)")
        #expect(cliMissing.stderr == "lifeline: \(try #require(missing.body["error"]?.stringValue))\n", "the CLI's refusal, word for word")
        for (action, body, message) in [
            ("failover", #"{"recovery_pont": "rp-001"}"#, "unknown field 'recovery_pont' (fields: recovery_point, idempotency_key)"),
            ("failover", #"{"recovery_point": 3}"#, "recovery_point must be a string"),
            ("test-failover", #"{"recovery_point": "../../etc"}"#, "invalid recovery point '../../etc'"),
            ("failback", #"{"recovery_point": "rp-001"}"#, "recovery_point goes with failover and test-failover"),
        ] {
            let answer = try await server.post("/api/servers/web-1/\(action)", token: token, body: body)
            #expect(answer.status == 400 && answer.body["error"]?.stringValue?.hasPrefix(message) == true, "\(body): \(answer)")
        }
        let query = try await server.post("/api/servers/web-1/failover?recovery_point=rp-001", token: token)
        #expect(query.status == 400 && query.body["error"]?.stringValue?.hasSuffix("an action's options go in its JSON body") == true, "\(query)")
        #expect(try await cli.json(["events", "--json"]).count == before, "a refused action changes nothing")
        #expect(try await cli.json(["server", "show", "web-1", "--json"]).first?["state"] == "standby")
        let point = try await server.post("/api/servers/web-1/test-failover", token: token, body: #"{"recovery_point": "rp-001"}"#)
        #expect(point.status == 202 && point.body["server"]?["recovery_point"] == "rp-001", "\(point)")
    }

    @Test("without LIFELINE_TOKEN, serve makes one up, prints it once, and it works")
    func madeUpToken() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["noop"])
        let server = try await Server(cli)
        let token = try #require(server.tokenLine.split(separator: " ").last.map(String.init))
        #expect(server.tokenLine.hasPrefix("actions need the header: Authorization: Bearer ") && token.count == 64)
        #expect(try await server.post("/api/jobs/\(id)/cancel", token: token).status == 200)
    }

    @Test("an attempt running when serve starts is measured when it ends; a paused queue says so beside its oldest waiting job")
    func metricsFromStart() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["sleep", "--args", #"{"ms": 1500}"#])
        let worker = try cli.start(["worker"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the job to run") { try await cli.job(id)["state"] == "running" }
        let server = try await Server(cli)
        try await waitUntil("the job to complete") { try await cli.job(id)["state"] == "completed" }
        try await waitUntil("its completion counted") { try await server.metrics()["lifeline_jobs_completed_total"] == 1 }
        #expect(try await server.metrics()[#"lifeline_job_duration_seconds_count{kind="sleep"}"#] == 1, "measured from its row's start")
        #expect(try await server.metrics()[#"lifeline_queue_paused{queue="default"}"#] == 0)
        #expect(try await cli.run(["queues", "pause", "default"]).status == 0)
        #expect(try await server.metrics()[#"lifeline_queue_paused{queue="default"}"#] == 1)
    }

    @Test("metrics count what the store holds at each scrape, and what happened since serve started")
    func metrics() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB"]).status == 0)
        let server = try await Server(cli)
        let before = try await server.metrics()
        #expect(before[#"lifeline_jobs{queue="default",state="available"}"#] == 1)
        #expect(before[#"lifeline_servers{state="creating"}"#] == 1)
        #expect(before[#"lifeline_server_transitional_seconds{server="web-1",state="creating"}"#] != nil)
        let batch = try cli.writeFile("jobs.jsonl", String(repeating: "{}\n", count: 4))
        #expect(try await cli.run(["enqueue", "noop", "--batch", batch]).status == 0)
        _ = try await cli.enqueue(["exec", "--args", #"{"argv": ["false"]}"#, "--max-attempts", "2", "--backoff", "10ms"])
        #expect(try await cli.run(["worker", "--drain", "--queues", "default"]).status == 0)
        // Counters follow the log a moment behind.
        try await waitUntil("the outcomes counted") {
            let samples = try await server.metrics()
            return samples["lifeline_jobs_completed_total"] == 5 && samples["lifeline_jobs_discarded_total"] == 1
        }
        let after = try await server.metrics()
        #expect(after[#"lifeline_jobs{queue="default",state="completed"}"#] == 5)
        #expect(after[#"lifeline_jobs{queue="default",state="discarded"}"#] == 1)
        #expect(after["lifeline_jobs_completed_total"] == 5, "the job enqueued before serve started counts too: it ran after")
        #expect(after["lifeline_job_retries_total"] == 1 && after["lifeline_jobs_discarded_total"] == 1)
        #expect(after["lifeline_job_attempts_failed_total"] == 2 && after["lifeline_lease_losses_total"] == 0)
        #expect(after[#"lifeline_job_duration_seconds_count{kind="noop"}"#] == 5)
        #expect(after[#"lifeline_job_duration_seconds_count{kind="exec"}"#] == 2)
        #expect(after["lifeline_jobs_running"] == 0)
        // Every family says what it is: a # HELP line before its # TYPE line.
        let text = String(decoding: try await URLSession.shared.data(from: try #require(URL(string: "/metrics", relativeTo: server.base))).0, as: UTF8.self)
        let typed = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
        #expect(typed.count >= 11)
        for family in typed {
            #expect(text.contains("# HELP \(family) ") && !text.contains("# HELP \(family) \n"), "\(family)")
        }
    }

    @Test("the dashboard and its assets come from the binary, allowed to load nothing from elsewhere")
    func dashboard() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let server = try await Server(cli)
        for (path, type) in [("/", "text/html"), ("/app.js", "text/javascript"), ("/app.css", "text/css")] {
            let (data, response) = try await URLSession.shared.data(from: try #require(URL(string: path, relativeTo: server.base)))
            let http = try #require(response as? HTTPURLResponse)
            #expect(http.statusCode == 200 && http.value(forHTTPHeaderField: "Content-Type")?.hasPrefix(type) == true)
            let policy = try #require(http.value(forHTTPHeaderField: "Content-Security-Policy"))
            #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && !policy.contains("unsafe"))
            let text = String(decoding: data, as: UTF8.self)
            #expect(!text.contains("http://") && !text.contains("https://"), "\(path) refers to nothing outside the server")
            if path == "/app.js" { #expect(!text.contains("innerHTML") && !text.contains("insertAdjacentHTML"), "user data only ever as text") }
        }
    }

    @Test("the event stream delivers each event once, in order, as it is committed, and resumes after Last-Event-ID")
    func eventStream() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let first = try await cli.enqueue(["noop"])
        let server = try await Server(cli)
        #expect(try await server.get("/api/events/latest").body == ["seq": 1])
        let stream = try StreamReader(port: try #require(server.base.port), request: "GET /api/events/stream HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 1\r\n\r\n")
        let later = try await cli.enqueue(["noop"])
        var seen: [JSONValue] = []
        var headers: [String] = []
        while seen.count < 2, let line = try await stream.nextLine() {
            if line.hasPrefix("data: ") {
                seen.append(try JSONValue(parsing: String(line.dropFirst(6))))
                if seen.count == 1 { _ = try await cli.enqueue(["noop"]) }
            } else if seen.isEmpty {
                headers.append(line.lowercased())
            }
        }
        #expect(headers.contains { $0.hasPrefix("content-type: text/event-stream") })
        #expect(seen.map { $0["seq"] } == [2, 3], "nothing before Last-Event-ID, then each new event once")
        #expect(seen.first?["job"]?.intValue == later && later != first)
        #expect(try await server.get("/api/events?job=\(first)").body.arrayValue?.count == 1)
    }

    @Test("told neither after nor Last-Event-ID, the event stream starts with the last 10 events, like events --follow")
    func eventStreamBacklog() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let ids = try await cli.enqueue(["noop"], count: 12)
        let server = try await Server(cli)
        #expect(try await server.get("/api/events/latest").body == ["seq": 12])
        let stream = try StreamReader(port: try #require(server.base.port), request: "GET /api/events/stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
        var seen: [JSONValue] = []
        while seen.count < 11, let line = try await stream.nextLine() {
            guard line.hasPrefix("data: ") else { continue }
            seen.append(try JSONValue(parsing: String(line.dropFirst(6))))
            if seen.count == 10 { _ = try await cli.enqueue(["noop"]) }
        }
        #expect(seen.compactMap { $0["seq"]?.intValue } == Array(3...13), "the last 10, then what comes")
        #expect(seen.first?["job"]?.intValue == ids[2])
    }

    @Test("the OpenAPI document describes every route, and every route it lists without parameters answers")
    func openAPI() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let server = try await Server(cli)
        let document = try await server.get("/api/openapi.json").body
        #expect(document["openapi"] == "3.1.0")
        guard case .object(let paths) = document["paths"] else { Issue.record("no paths"); return }
        #expect(Set(paths.keys) == [
            "/healthz", "/metrics", "/api/jobs", "/api/jobs/{id}", "/api/jobs/{id}/retry", "/api/jobs/{id}/cancel", "/api/queues",
            "/api/queues/{name}/pause", "/api/queues/{name}/resume", "/api/stats", "/api/servers", "/api/servers/{name}",
            "/api/servers/{name}/history", "/api/servers/{name}/{action}", "/api/events", "/api/events/latest", "/api/events/stream",
        ])
        for (path, item) in paths where !path.contains("{") && item["get"] != nil && !["/metrics", "/api/events/stream"].contains(path) {
            #expect(try await server.get(path).status == 200, "\(path)")
        }
        for (path, item) in paths where item["post"] != nil {
            #expect(item["post"]?["security"] != nil, "\(path) needs the token")
        }
        // Each shape lists exactly the fields the API's answers have.
        let created = try #require(try await cli.json(["server", "create", "web-1", "--disk-size", "64KiB", "--json"]).first)
        let answers: [(String, JSONValue?)] = [
            ("Job", try await server.get("/api/jobs").body.arrayValue?.first), ("JobWithEvents", try await server.get("/api/jobs/1").body),
            ("JobBrief", try await server.get("/api/jobs?brief=true").body.arrayValue?.first),
            ("Queue", try await server.get("/api/queues").body.arrayValue?.first), ("Stats", try await server.get("/api/stats").body),
            ("Server", try await server.get("/api/servers/web-1").body), ("Transition", try await server.get("/api/servers/web-1/history").body.arrayValue?.first),
            ("Event", try await server.get("/api/events").body.arrayValue?.first), ("ActionResult", created),
            ("Error", try await server.get("/api/jobs/99").body),
            ("Health", try await server.get("/healthz").body), ("Latest", try await server.get("/api/events/latest").body),
            ("CancelResult", try await cli.json(["jobs", "cancel", "1", "--json"]).first),
        ]
        for (name, answer) in answers {
            let schema = document["components"]?["schemas"]?[name]
            guard case .object(let properties)? = schema?["properties"], case .object(let fields)? = answer else {
                Issue.record("\(name): no properties, or no answer: \(String(describing: answer))")
                continue
            }
            // The answer has every field the shape requires, and none it does not list (only a
            // health answer's error is not always there).
            let required = Set((schema?["required"]?.arrayValue ?? []).compactMap(\.stringValue))
            #expect(required.isSubset(of: fields.keys) && Set(fields.keys).isSubset(of: properties.keys), "\(name): \(fields.keys.sorted())")
            #expect(name == "Health" || required == Set(properties.keys), "\(name): every field is always there")
        }
        // A brief list's items are the brief shape.
        let items = document["paths"]?["/api/jobs"]?["get"]?["responses"]?["200"]?["content"]?["application/json"]?["schema"]?["items"]
        #expect(items?["anyOf"] == [["$ref": "#/components/schemas/Job"], ["$ref": "#/components/schemas/JobBrief"]], "\(String(describing: items))")
        let states = document["components"]?["schemas"]?["Server"]?["properties"]?["state"]?["enum"]?.arrayValue ?? []
        #expect(states.contains("creating") && states.count == 15, "\(states)")
    }

    @Test("on loopback, a request naming another host is refused (no DNS rebinding)")
    func otherHost() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let server = try await Server(cli)
        let port = try #require(server.base.port)
        let rebound = try StreamReader(port: port, request: "GET /api/jobs HTTP/1.1\r\nHost: evil.example:\(port)\r\nConnection: close\r\n\r\n")
        #expect(try await rebound.nextLine()?.hasPrefix("HTTP/1.1 421") == true)
        let local = try StreamReader(port: port, request: "GET /api/jobs HTTP/1.1\r\nHost: localhost:\(port)\r\nConnection: close\r\n\r\n")
        #expect(try await local.nextLine()?.hasPrefix("HTTP/1.1 200") == true)
        // Names are compared as names (any case); whatever follows the port names another host.
        let hosts = [
            "LocalHost:\(port)": 200, "[::1]:\(port)": 200, "127.0.0.1": 200, "127.0.0.1:\(port).evil.example": 421,
            "127.0.0.1:\(port)@evil.example": 421, "[::1].evil.example": 421, "localhost:abc": 421, "localhost:1:2": 421,
        ]
        for (host, status) in hosts {
            let answer = try StreamReader(port: port, request: "GET /healthz HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n")
            #expect(try await answer.nextLine()?.hasPrefix("HTTP/1.1 \(status)") == true, "Host: \(host)")
        }
        let twice = try StreamReader(port: port, request: "GET /healthz HTTP/1.1\r\nHost: localhost:\(port)\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        #expect(try await twice.nextLine()?.hasPrefix("HTTP/1.1 400") == true, "two Host headers")
        // No browser sends a request without Host; a plain probe may.
        let bare = try StreamReader(port: port, request: "GET /healthz HTTP/1.0\r\n\r\n")
        #expect(try await bare.nextLine()?.hasSuffix(" 200 OK") == true)
    }

    @Test("a body declared over 64 KiB is refused before it is sent; a connection that sends nothing is closed, an event stream is not")
    func slowClients() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["noop"])
        let token = "t-\(UInt64.random(in: 1 << 62...UInt64.max))"
        let server = try await Server(cli, token: token)
        let port = try #require(server.base.port)
        let declared = try StreamReader(
            port: port,
            request: "POST /api/jobs/\(id)/cancel HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\nContent-Length: 100000000\r\n\r\n{}"
        )
        #expect(try await declared.nextLine()?.hasPrefix("HTTP/1.1 413") == true)
        #expect(try await cli.job(id)["state"] == "available")
        let silent = try StreamReader(port: port, request: "GET /api/jobs HTTP/1.1\r\nHost: loc")
        let stream = try StreamReader(port: port, request: "GET /api/events/stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try await stream.nextLine()?.hasPrefix("HTTP/1.1 200") == true)
        #expect(try await silent.nextLine(within: .seconds(45)) == nil, "closed after the idle timeout (30 s)")
        // The stream, quiet as long, still delivers.
        let later = try await cli.enqueue(["noop"])
        while let line = try await stream.nextLine(within: .seconds(45)), !line.hasPrefix("data: ") || !line.contains("\"job\":\(later)") {}
        #expect(try await cli.job(later)["id"]?.intValue == later)
    }

    @Test("/healthz answers 503 naming the damage once the database file is overwritten in place")
    func healthOfDamagedFile() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let server = try await Server(cli)
        #expect(try await server.get("/healthz").body == ["store": "ok"])
        let path = cli.home.appendingPathComponent("lifeline.db").path
        let file = try #require(FileHandle(forWritingAtPath: path))
        try file.write(contentsOf: Data(repeating: UInt8(ascii: "G"), count: 4096))
        try file.close()
        let damaged = try await server.get("/healthz")
        #expect(damaged.status == 503 && damaged.body["store"] == "unavailable", "\(damaged)")
        #expect(damaged.body["error"]?.stringValue?.contains("not a SQLite database") == true, "\(damaged.body)")
    }

    @Test("/metrics goes on answering once the database file is damaged: lifeline_store_up 0, no stale store gauges, the counters kept")
    func metricsOfDamagedFile() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let server = try await Server(cli)
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        try await waitUntil("its completion counted") { try await server.metrics()["lifeline_jobs_completed_total"] == 1 }
        let before = try await server.metrics()
        #expect(before["lifeline_store_up"] == 1 && before[#"lifeline_jobs{queue="default",state="completed"}"#] == 1, "\(before)")
        let path = cli.home.appendingPathComponent("lifeline.db").path
        let file = try #require(FileHandle(forWritingAtPath: path))
        try file.write(contentsOf: Data(repeating: UInt8(ascii: "G"), count: 4096))
        try file.close()
        let after = try await server.metrics()
        #expect(after["lifeline_store_up"] == 0, "\(after)")
        let names = Set(after.keys.map { String($0.prefix { $0 != "{" }) })
        let storeGauges: Set = [
            "lifeline_jobs", "lifeline_jobs_running", "lifeline_queue_oldest_waiting_seconds", "lifeline_queue_paused", "lifeline_servers",
            "lifeline_server_transitional_seconds",
        ]
        #expect(names.isDisjoint(with: storeGauges) && before.keys.contains("lifeline_jobs_running"), "\(names.sorted())")
        #expect(after["lifeline_jobs_completed_total"] == 1 && after[#"lifeline_job_duration_seconds_count{kind="noop"}"#] == 1, "\(after)")
    }

    @Test(
        "a queue serve cannot write (another user's, for root) is served read-only, said at start: reads answer, actions 503 with why",
        .enabled(if: getuid() == 0 && OperatorSafetyCLITests.workerUser != nil, "needs root, and a user other than root that can run the binary (setpriv, nobody)")
    )
    func readOnlyQueue() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let enqueued = try await OperatorSafetyCLITests.runAsWorkerUser(["enqueue", "noop", "--json"], cli)
        let id = try #require(try JSONValue(parsing: enqueued.stdout)["id"]?.intValue, "\(enqueued.stderr)")
        let token = "t-\(UInt64.random(in: 1 << 62...UInt64.max))"
        let server = try await Server(cli, token: token)
        try await waitUntil("the notice", timeout: .seconds(10)) { server.process.stderr.contains("serving it read-only") }
        #expect(server.process.stderr.hasPrefix("lifeline: \(cli.home.path)/lifeline.db belongs to nobody, not root: "), "\(server.process.stderr)")
        #expect(try await server.get("/api/jobs/\(id)").body["state"] == "available")
        #expect(try await server.get("/healthz").status == 200)
        let cancel = try await server.post("/api/jobs/\(id)/cancel", token: token)
        let why = try #require(cancel.body["error"]?.stringValue, "\(cancel)")
        #expect(cancel.status == 503 && why.hasPrefix("served read-only since serve started: \(cli.home.path)/lifeline.db belongs to nobody, not root: "), "\(cancel)")
        #expect(why.hasSuffix("; restart serve once it may write (nothing was written)"), "\(why)")
        #expect(try await cli.job(id)["state"] == "available")
    }

    @Test("a read of a damaged page answers 503 naming the damage, as the CLI does")
    func damagedPages() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let batch = try cli.writeFile("batch.jsonl", String(repeating: "{}\n", count: 2000))
        #expect(try await cli.run(["enqueue", "noop", "--batch", batch]).status == 0)
        let server = try await Server(cli)
        #expect(try await server.get("/healthz").status == 200)
        // Pages past the header, where the jobs are (not yet read into serve's cache): the
        // file still reads as a database.
        let file = try #require(FileHandle(forWritingAtPath: cli.home.appendingPathComponent("lifeline.db").path))
        try file.seek(toOffset: 3 * 4096)
        try file.write(contentsOf: Data(repeating: UInt8(ascii: "G"), count: 10 * 4096))
        try file.close()
        let stats = try await server.get("/api/stats")
        #expect(stats.status == 503 && stats.body["error"] == "the database file is damaged: database disk image is malformed", "\(stats)")
        // The health check's own read finds whole pages; it says the damage found all the same.
        let health = try await server.get("/healthz")
        #expect(health.status == 503 && health.body == ["store": "unavailable", "error": "the database file is damaged: database disk image is malformed"], "\(health)")
    }

    @Test("a health check keeps serve's hold on the database: another program's connection, closing, leaves the WAL in place, and what serve acknowledged stays")
    func healthKeepsHold() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let token = "health-check-token-0123456789"
        let server = try await Server(cli, token: token)
        #expect(try await server.get("/healthz").body == ["store": "ok"])
        let path = cli.home.appendingPathComponent("lifeline.db").path
        // A program's last connection checkpoints and deletes the WAL, unless another process
        // still holds the file: serve must, after its health check as before it.
        let read = { () async throws -> String in
            let reader = try await BackgroundCommand.run("/usr/bin/env", ["python3", "-c", """
                import sqlite3
                db = sqlite3.connect(\(try LifelineJSON.line(path)))
                print(db.execute("SELECT count(*) FROM jobs").fetchone()[0])
                db.close()
                """], environment: ProcessInfo.processInfo.environment)
            return reader.stdout
        }
        #expect(try await read() == "1\n")
        #expect(FileManager.default.fileExists(atPath: path + "-wal"), "the WAL serve reads stays")
        #expect(try await server.post("/api/queues/default/pause", token: token).status == 200)
        #expect(try await read() == "1\n")
        #expect(server.process.isRunning, "\(server.process.stderr)")
        #expect(try await cli.json(["queues", "list", "--json"]).first?["paused"] == true, "the acknowledged pause was kept")
    }

    @Test("served on another loopback address, the server answers requests addressed to it")
    func otherLoopbackAddress() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let server = try await Server(cli, host: "127.0.0.2")
        let port = try #require(server.base.port)
        #expect(server.base.host == "127.0.0.2")
        let answer = try StreamReader(host: "127.0.0.2", port: port, request: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.2:\(port)\r\nConnection: close\r\n\r\n")
        #expect(try await answer.nextLine()?.hasPrefix("HTTP/1.1 200") == true)
        let other = try StreamReader(host: "127.0.0.2", port: port, request: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.3:\(port)\r\nConnection: close\r\n\r\n")
        #expect(try await other.nextLine()?.hasPrefix("HTTP/1.1 421") == true)
    }

    @Test("a host other machines can reach needs LIFELINE_TOKEN; a missing database is not created")
    func refusedStarts() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let open = try await cli.run(["serve", "--host", "0.0.0.0", "--port", "0"])
        #expect(open.status == 64 && open.stderr.contains("set LIFELINE_TOKEN"))
        for weak in ["a", "fifteen-chars15"] {
            let refused = try await cli.run(["serve", "--host", "0.0.0.0", "--port", "0"], extraEnvironment: ["LIFELINE_TOKEN": weak])
            #expect(refused.status == 64 && refused.stderr.hasPrefix("lifeline: LIFELINE_TOKEN is too weak for --host 0.0.0.0"), "\(refused.stderr)")
        }
        // A token no request could give back is refused on any host, loopback too.
        for (host, spaced) in [("0.0.0.0", "  padded with spaces  "), ("127.0.0.1", " "), ("127.0.0.1", "0123456789abcdef0123\n")] {
            let refused = try await cli.run(["serve", "--host", host, "--port", "0"], extraEnvironment: ["LIFELINE_TOKEN": spaced])
            #expect(refused.status == 64 && refused.stderr.hasPrefix("lifeline: LIFELINE_TOKEN holds a space or a line break"), "\(refused.stderr)")
        }
        // A host that names nothing is said to, token or not: a token would not help.
        for environment in [[:], ["LIFELINE_TOKEN": "0123456789abcdef0123"]] {
            let nowhere = try await cli.run(["serve", "--host", "not a host", "--port", "0"], extraEnvironment: environment)
            #expect(nowhere.status == 64, "\(nowhere)")
            #expect(nowhere.stderr.hasPrefix("lifeline: --host not a host is neither an address nor a name this machine can resolve ("), "\(nowhere.stderr)")
            #expect(nowhere.stderr.split(separator: "\n").count == 1)
        }
        let empty = try await cli.run(["serve", "--host", "", "--port", "0"])
        #expect(empty.status == 64 && empty.stderr == "lifeline: --host is empty: give an address or a name, e.g. 127.0.0.1\n", "\(empty)")
        // Loopback in brackets, as serve prints an IPv6 address, is loopback: it gets as far as the database.
        let bracketed = try await cli.run(["serve", "--host", "[::1]", "--port", "0"])
        #expect(bracketed.status == 4, "\(bracketed.stderr)")
        let missing = try await cli.run(["serve", "--port", "0"])
        #expect(missing.status == 4)
        #expect(!FileManager.default.fileExists(atPath: cli.home.appendingPathComponent("lifeline.db").path))
        // A port another process listens on: said in one line, without pointing to --help.
        _ = try await cli.enqueue(["noop"])
        let first = try await Server(cli)
        let port = try #require(first.base.port)
        let taken = try await cli.run(["serve", "--port", "\(port)"])
        #expect(taken.status == 1, "\(taken)")
        #expect(taken.stderr == "lifeline: cannot listen on 127.0.0.1:\(port): address already in use; another process listens there: choose another --port\n")
    }

    /// Lines of a raw HTTP response, read as they arrive (a server-sent event stream never ends).
    final class StreamReader {
        private let handle: FileHandle
        private var buffer = Data()

        init(host: String = "127.0.0.1", port: Int, request: String) throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr(host)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            try #require(connected == 0, "cannot connect to port \(port)")
            handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            handle.write(Data(request.utf8))
        }

        /// The next line, waiting up to `within` for it; nil at the end of the stream.
        func nextLine(within: Duration = .seconds(10)) async throws -> String? {
            let deadline = ContinuousClock.now + within
            while true {
                if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffer[..<newline], as: UTF8.self).trimmingCharacters(in: .newlines)
                    buffer.removeSubrange(...newline)
                    return line
                }
                let handle = handle
                // Waits in poll, which gives up at the deadline; a read would wait for ever.
                let left = Int32(min(Double(Int32.max), max(0, (deadline - ContinuousClock.now) / .milliseconds(1)).rounded(.up)))
                let ready = await Task.detached {
                    var entry = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
                    return poll(&entry, 1, left) > 0
                }.value
                try #require(ready, "no line within \(within)")
                let chunk = await Task.detached { handle.availableData }.value
                if chunk.isEmpty { return nil }
                buffer += chunk
            }
        }
    }
}
