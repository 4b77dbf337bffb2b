import ArgumentParser
import LifelineRecovery

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Create recovery servers and move them through failover, failback and test failover.",
        discussion: """
            Every action is checked, applied and its stage job enqueued in one transaction, and \
            returns at once; --wait blocks until the server rests again.

            Examples:
              lifeline server create web-2 --disk-size 4MiB --wait
              lifeline server failover web-2 --wait
              lifeline server failback web-2 --wait
              lifeline server confirm-failback web-2 --wait
            """,
        subcommands: [
            ServerCreateCommand.self,
            ServerActionCommand<Failover>.self, ServerActionCommand<TestFailover>.self,
            ServerActionCommand<CancelFailover>.self, ServerActionCommand<Failback>.self,
            ServerActionCommand<ConfirmFailback>.self, ServerActionCommand<CancelFailback>.self,
            ServerActionCommand<StopTest>.self, ServerActionCommand<Retry>.self, ServerActionCommand<Delete>.self,
            ServerListCommand.self, ServerShowCommand.self, ServerHistoryCommand.self, ServerPointsCommand.self, ServerWaitCommand.self,
        ]
    )
}
