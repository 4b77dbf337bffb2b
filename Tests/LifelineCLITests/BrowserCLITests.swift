import Foundation
import LifelineQueue
import LifelineTestKit
import Testing

/// The dashboard in a real browser: headless Chromium (Debian's `chromium`, which
/// Scripts/test.sh installs), driven over the DevTools protocol by Tests/Browser/drive_dashboard.py.
@Suite("The dashboard in a browser", .serialized, .enabled(if: Chromium.path != nil, "needs chromium on PATH"))
struct BrowserCLITests {
    @Test("jobs and servers show, the latest events at once and a new one without a reload, markup stays text, a retry needs the token")
    func dashboard() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let failed = try await cli.enqueue([
            "exec", "--max-attempts", "1", "--args", #"{"argv": ["sh", "-c", "echo '<script>alert(1)</script>' >&2; exit 3"]}"#,
        ])
        // Completed on its second attempt: its first attempt's error is history.
        _ = try await cli.enqueue(["flaky", "--args", #"{"fail_times": 1}"#, "--backoff", "0s"])
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB"]).status == 0)
        // A stage's job cancelled: the API retries it only through its server's actions.
        let stage = try #require(try await cli.json(["server", "create", "web-2", "--disk-size", "64KiB", "--json"]).first?["job"]?.intValue)
        #expect(try await cli.run(["jobs", "cancel", "\(stage)"]).status == 0)
        // As many attempts as there are, as the stages that never give up have.
        _ = try await cli.enqueue(["noop", "--max-attempts", "\(JobLimits.maxAttempts.upperBound)"])
        let token = "t-\(UInt64.random(in: 1...UInt64.max))"
        let server = try await ServeCLITests.Server(cli, token: token)
        let screenshot = cli.home.appendingPathComponent("dashboard.png").path

        let driver = try await BackgroundCommand.run(
            "/usr/bin/env", ["python3", Self.script("drive_dashboard.py"), server.base.absoluteString, cli.binary.path, token, "\(failed)", screenshot, "\(stage)"],
            environment: cli.environment
        )
        #expect(driver.terminationStatus == 0, "\(driver.stderr)")
        let seen = try JSONValue(parsing: driver.stdout)

        #expect(seen["jobs_shown"]?.stringValue?.contains("exec") == true && seen["jobs_shown"]?.stringValue?.contains("discarded") == true)
        #expect(seen["jobs_shown"]?.stringValue?.contains("0/∞") == true, "\(seen["jobs_shown"] ?? "")")
        #expect(seen["jobs_shown"]?.stringValue?.contains("2/20") == true && seen["jobs_shown"]?.stringValue?.contains("flaky failure") == false,
                "a completed job shows no last error, as in jobs list: \(seen["jobs_shown"] ?? "")")
        #expect(seen["servers_shown"]?.stringValue?.contains("web-1") == true)
        #expect(seen["workers_shown"] == "no jobs running", "\(seen["workers_shown"] ?? "")")
        #expect(seen["history"]?.stringValue?.contains("(new) → creating: create") == true, "\(seen["history"] ?? "")")
        #expect(seen["live"] == "live")
        #expect(seen["lists_brief"] == true, "the table's lists leave out args")
        #expect(seen["events_on_load"] == true, "the latest events show before anything new happens")
        #expect(seen["event_without_reload"] == true && seen["new_job_listed"] == true)
        #expect(seen["timeline"]?.stringValue?.contains("discarded") == true)
        #expect(seen["args_as_text"]?.stringValue?.contains("<script>alert(1)</script>") == true, "markup shows as its characters")
        #expect(seen["scripts_on_page"] == 1 && seen["alert_ran"] == false, "and runs nowhere")
        #expect(seen["without_token"]?.stringValue?.hasPrefix("refused: actions need the token") == true)
        #expect(seen["with_token"] == "done")
        #expect(seen["note_after_redraw"] == "done", "the answer outlives the redraw that follows it")
        #expect(seen["offered_discarded"] == ["Retry"] && seen["offered_available"] == ["Cancel"], "what the state allows: \(seen)")
        #expect(try await cli.job(failed)["state"] == "available", "the retry from the page took effect")
        #expect(seen["deep_link"]?.stringValue?.hasSuffix(": noop") == true, "a job's link opens it on a load: \(seen["deep_link"] ?? "")")
        #expect((seen["screenshot_bytes"]?.intValue ?? 0) > 10_000)
        #expect(seen["cancel_asked"]?.stringValue?.hasPrefix("Cancel job ") == true && seen["cancel_note"] == "", "asked first; answered no, nothing sent")
        #expect(seen["missing_link"]?.stringValue?.hasPrefix("Job 999999: no job 999999") == true, "\(seen["missing_link"] ?? "")")
        #expect(seen["bad_link"] == "Job abc: a job id is a positive whole number", "\(seen["bad_link"] ?? "")")
        #expect(seen["offered_stage"] == [] && seen["stage_actions"] == "A stage of server web-2: only its server's actions retry it.", "\(seen)")
    }

    @Test("the page stays live across a restart of serve on another database, with answers that are no stream (503) in between, which a browser gives up on")
    func reconnect() async throws {
        let (first, second) = (try CLIRunner(), try CLIRunner())
        defer { first.removeAll(); second.removeAll() }
        for _ in 1...12 { _ = try await first.enqueue(["noop"]) }
        _ = try await second.enqueue(["noop"])
        let driver = try await BackgroundCommand.run(
            "/usr/bin/env", ["python3", Self.script("drive_reconnect.py"), first.binary.path, first.home.path, second.home.path],
            environment: first.environment
        )
        #expect(driver.terminationStatus == 0, "\(driver.stderr)")
        let seen = try JSONValue(parsing: driver.stdout)
        #expect(seen["first_live"] == true && seen["reconnecting"] == "reconnecting…", "\(seen)")
        #expect((seen["refused_streams"]?.intValue ?? 0) >= 2, "the page asks again after the browser gives up: \(seen)")
        #expect(seen["second_live"] == true, "the first log's events are gone: \(seen)")
        #expect(seen["new_event"] == true, "an event of the second log arrives: \(seen)")
    }

    static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Browser/\(name)").path
    }
}

enum Chromium {
    static let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map { "\($0)/chromium" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}
