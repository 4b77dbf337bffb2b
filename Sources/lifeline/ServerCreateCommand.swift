import ArgumentParser
import Foundation
import LifelineQueue
import LifelineRecovery

struct ServerCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a recovery server for a protected machine.",
        discussion: """
            With the simulated infrastructure, the machine's recovery points (3 sets of disk images) \
            are generated under $LIFELINE_HOME/infra/machines/ if it has none.

            Example:
              lifeline server create db-1 --disks 2 --disk-size 4MiB --wait
            """
    )

    @Argument(help: "The server's name: letters, digits, '.', '_', '-'.")
    var name: String

    @Option(help: "The protected machine (default: the server's name).")
    var machine: String?

    @Option(name: .customLong("disk-size"), parsing: .unconditional, help: ArgumentHelp("The size of each disk, e.g. 64MiB, 2GiB.", valueName: "SIZE"))
    var diskSize = "64MiB"

    @Option(help: "The number of disks, 1 to 64.")
    var disks = 1

    @OptionGroup var options: ServerActionOptions

    func run() async throws {
        try ServerNames.check(name)
        try ServerNames.check(machine ?? name, what: "machine name")
        let size = try SizeText.parse(diskSize)
        guard size > 0 else { throw CLIFailure(.invalidInput, "--disk-size must be more than 0") }
        guard (1...64).contains(disks) else { throw CLIFailure(.invalidInput, "--disks must be 1 to 64") }
        let waitLimit = try options.waitLimit()
        try InfrastructureChoice.checkKind()
        let opened = try await options.store.openStore()
        let spec = ServerSpec(name: name, machine: machine ?? name, disks: disks, diskSize: size)
        let result = try await opened.servers.serverCreate(spec, idempotencyKey: options.idempotencyKey)
        try await options.report(result, action: "create", goal: .standby, waitLimit: waitLimit, opened: opened)
    }
}
