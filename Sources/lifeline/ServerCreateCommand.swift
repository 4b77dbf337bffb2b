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

    @Option(name: .customLong("disk-size"), parsing: .unconditional, help: ArgumentHelp(
        "The size of each disk, up to 16TiB, e.g. 64MiB, 2GiB (default: as the machine's other servers, else 64MiB).", valueName: "SIZE"
    ))
    var diskSize: String?

    @Option(help: "The number of disks, 1 to 64 (default: as the machine's other servers, else 1).")
    var disks: Int?

    @OptionGroup var options: ServerActionOptions

    func run() async throws {
        try ServerNames.check(name)
        try ServerNames.check(machine ?? name, what: "machine name")
        let size = try diskSize.map(SizeText.parse)
        guard size ?? 1 > 0 else { throw CLIFailure(.invalidInput, "--disk-size must be more than 0") }
        guard disks.map((1...64).contains) ?? true else { throw CLIFailure(.invalidInput, "--disks must be 1 to 64") }
        let waitLimit = try options.waitLimit()
        try InfrastructureChoice.checkKind()
        let machine = machine ?? name
        let simulated = InfrastructureChoice.isSimulated ? SimulatedInfrastructure(root: options.store.infraRoot) : nil
        let points = simulated?.pointsLayout(machine: machine)
        let checked = { (servers: [ServerInfo]) throws -> (disks: Int, size: Int64, exists: Bool) in
            let layout = try Self.layout(of: name, machine: machine, disks: disks, size: size, among: servers, points: points)
            if !layout.exists, let lack = simulated?.lackOfRoom(machine: machine, disks: layout.disks, size: layout.size) {
                throw CLIFailure(.runtime, lack)
            }
            return layout
        }
        // A queue not made yet has no servers: a create refused then makes none.
        if try options.store.queueNotMadeYet() { _ = try checked([]) }
        let opened = try await options.store.openStore()
        let layout = try checked(try await opened.servers.serverList())
        let spec = ServerSpec(name: name, machine: machine, disks: layout.disks, diskSize: layout.size)
        let result = try await opened.servers.serverCreate(spec, idempotencyKey: options.idempotencyKey)
        try await options.report(result, action: "create", goal: .standby, waitLimit: waitLimit, opened: opened)
    }
}

extension ServerCreateCommand {
    /// The disks a new server of `machine` gets: those of the machine's other servers, which
    /// share its recovery points, else those of the points it already has (`points`: they
    /// outlive its servers), else those asked for, or one of 64MiB; a layout asked for that
    /// differs from the machine's is refused. A server of that name exists already: the
    /// create is its store's to refuse as a conflict, or to answer as a repeat of its
    /// idempotency key, so what was asked for goes to it as it is.
    static func layout(
        of name: String, machine: String, disks: Int?, size: Int64?, among all: [ServerInfo], points: (disks: Int, size: Int64)?
    ) throws -> (disks: Int, size: Int64, exists: Bool) {
        if let same = all.first(where: { $0.name == name }) {
            return (disks ?? same.disks, size ?? same.diskSize, true)
        }
        let siblings = all.filter { $0.machine == machine }
        guard let have = siblings.first.map({ (disks: $0.disks, size: $0.diskSize) }) ?? points else {
            return (disks ?? 1, size ?? 64 << 20, false)
        }
        guard disks ?? have.disks == have.disks, size ?? have.size == have.size else {
            let whose = siblings.isEmpty
                ? "machine \(machine)'s recovery points have" : "machine \(machine)'s servers (\(siblings.map(\.name).joined(separator: ", "))) have"
            throw CLIFailure(
                .invalidInput,
                "\(whose) \(have.disks) × \(SizeText.format(have.size)) disks, not \(disks ?? have.disks) × \(SizeText.format(size ?? have.size)): "
                    + "give --disks \(have.disks) --disk-size \(SizeText.format(have.size)), or leave both out"
            )
        }
        return (have.disks, have.size, false)
    }
}
