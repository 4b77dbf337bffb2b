import ArgumentParser

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Inspect and manage jobs: list, show, retry, cancel, prune.",
        discussion: """
            Examples:
              lifeline jobs list --failed --since 1h
              lifeline jobs show 1
              lifeline jobs retry --state discarded --queue nightly --dry-run
            """,
        subcommands: [JobsListCommand.self, JobsShowCommand.self, JobsRetryCommand.self, JobsCancelCommand.self,
                      JobsPruneCommand.self]
    )
}
