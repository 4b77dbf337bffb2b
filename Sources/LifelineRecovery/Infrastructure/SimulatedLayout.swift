import Foundation

/// Where the simulated infrastructure keeps things, under `$LIFELINE_HOME/infra/`:
///
/// ```
/// machines/M/rp-001/disk-0.img, SHA256SUMS   recovery points (disk images)
/// servers/S/vm.json                          the VM: {"state": "running"|"stopped", ...}
/// servers/S/mount                            the mounted recovery point
/// servers/S/workload                         present while the workload runs on S
/// servers/S/hot/disk-0.img, *.checkpoint     finalized disks on high-performance storage
/// servers/S/test-vm.json                     the temporary VM of a test failover
/// servers/S/failback-backup                   the backup of a failback not yet confirmed or cancelled
/// cloud-backups/S/backup-J/disk-0.img, SHA256SUMS   the backup backup job J made
/// cloud-backups/S/partial-J/disk-0.img, *.checkpoint   a backup job J is writing
/// fences/S, fences/S.next                    the newest stage attempt to enter S (see StageFence)
/// locks/machines/M                           held while M's recovery points are generated
/// ```
struct SimulatedLayout {
    let root: URL

    func machine(_ machine: String) -> URL { root.appendingPathComponent("machines/\(machine)") }
    func recoveryPoint(_ machine: String, _ point: String) -> URL { self.machine(machine).appendingPathComponent(point) }
    func server(_ server: String) -> URL { root.appendingPathComponent("servers/\(server)") }
    func vm(_ server: String) -> URL { self.server(server).appendingPathComponent("vm.json") }
    func testVM(_ server: String) -> URL { self.server(server).appendingPathComponent("test-vm.json") }
    func mount(_ server: String) -> URL { self.server(server).appendingPathComponent("mount") }
    func workload(_ server: String) -> URL { self.server(server).appendingPathComponent("workload") }
    func hot(_ server: String) -> URL { self.server(server).appendingPathComponent("hot") }
    func backups(_ server: String) -> URL { root.appendingPathComponent("cloud-backups/\(server)") }
    /// The backup backup job `job` made: named for the job, so an attempt that finds it sealed
    /// (its predecessor died before its completion was recorded) has nothing left to do.
    func backup(_ server: String, job: Int64) -> URL { backups(server).appendingPathComponent("backup-\(job)") }
    /// Names the backup of the failback in progress, from its seal until the failback is
    /// confirmed, which keeps the backup to recover the local server from, or cancelled, which
    /// removes it: the VM runs again, and its disks move on from the backup.
    func failbackBackup(_ server: String) -> URL { self.server(server).appendingPathComponent("failback-backup") }

    /// The backup ``failbackBackup(_:)`` names: nil without one, or when it names none of
    /// the form ``backup(_:job:)`` makes (read as a path, an odd name could reach the others).
    func failbackBackupMade(_ server: String) -> URL? {
        guard let name = try? String(contentsOf: failbackBackup(server), encoding: .utf8), name.hasPrefix("backup-"),
              let job = Int64(name.dropFirst("backup-".count)), job > 0
        else { return nil }
        return backup(server, job: job)
    }
    /// Where backup job `job` writes until its copy is whole: its attempts resume it, and no
    /// other job does, since the disks may have changed since.
    func partialBackup(_ server: String, job: Int64) -> URL { backups(server).appendingPathComponent("partial-\(job)") }
    func fence(_ server: String) -> URL { root.appendingPathComponent("fences/\(server)") }
    func generating(_ machine: String) -> URL { root.appendingPathComponent("locks/machines/\(machine)") }
    func faults(_ server: String) -> URL { root.appendingPathComponent("faults/\(server)") }
    func faults(_ server: String, _ stage: Stage) -> URL { faults(server).appendingPathComponent("\(stage.rawValue).runs") }

    static func disk(_ index: Int) -> String { "disk-\(index).img" }

    /// The machine's recovery points, oldest first.
    func recoveryPoints(_ machine: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: self.machine(machine).path)) ?? []
        return names.filter { $0.hasPrefix("rp-") && !$0.hasSuffix(".tmp") }.sorted()
    }

    /// The backups of `server` left unfinished, by any job.
    func partialBackups(_ server: String) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: backups(server).path)) ?? []
        return names.filter { $0.hasPrefix("partial") }.sorted().map { backups(server).appendingPathComponent($0) }
    }

    /// The checksums recorded beside a set of disks: file name → SHA-256.
    func checksums(in directory: URL) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent("SHA256SUMS").path) else { return [:] }
        var sums: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count == 2 { sums[String(parts[1])] = String(parts[0]) }
        }
        return sums
    }

    func writeChecksums(_ sums: [String: String], in directory: URL) throws {
        let text = sums.keys.sorted().map { "\(sums[$0]!)  \($0)\n" }.joined()
        try FileSystem.write(Data(text.utf8), to: directory.appendingPathComponent("SHA256SUMS"))
    }
}

/// The state file of a simulated VM.
struct SimulatedVM: Codable {
    var state: String
    var recoveryPoint: String

    enum CodingKeys: String, CodingKey {
        case state
        case recoveryPoint = "recovery_point"
    }
}
