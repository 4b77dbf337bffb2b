import ArgumentParser
import LifelineRecovery

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Create recovery servers and move them through failover, failback and test failover.",
        discussion: """
            Every action is checked, applied and its stage job enqueued in one transaction, and \
            returns at once; --wait blocks until the server rests again (in a state that only \
            an action leaves). Each stage job runs on a queue of the stage's own: \
            recovery.provision, .vm, .network, .finalize, .backup and .cleanup.

            Stages act on the infrastructure the workers are started with (LIFELINE_INFRA): \
            simulated (the default; files under $LIFELINE_HOME/infra/), or command (a program \
            per stage, named in infra/commands.json or LIFELINE_INFRA_COMMANDS). The \
            simulated one takes LIFELINE_SIM_FAULTS=finalize:fail-first=3 (or \
            STAGE:fail-chance=0.1) to rehearse failures, and LIFELINE_SIM_THROUGHPUT=50MiB \
            to slow its copies.

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
