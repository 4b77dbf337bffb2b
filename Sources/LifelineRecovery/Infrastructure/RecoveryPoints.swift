import Foundation
import LifelineQueue

/// Generates a machine's recovery points: disk images of deterministic pseudo-random bytes
/// (so every run of a test sees the same data) with their SHA-256 checksums.
struct RecoveryPoints {
    static let count = 3

    let layout: SimulatedLayout

    /// Returns the machine's recovery points, generating them if it has none (a blocking
    /// call: run it on a thread of its own).
    func ensure(machine: String, disks: Int, size: Int64, cancellation: CancellationFlag) throws -> [String] {
        let existing = layout.recoveryPoints(machine)
        if !existing.isEmpty { return existing }
        for number in 1...Self.count {
            let name = String(format: "rp-%03d", number)
            let staging = layout.machine(machine).appendingPathComponent(name + ".tmp")
            try FileSystem.remove(staging)
            var sums: [String: String] = [:]
            do {
                for disk in 0..<disks {
                    let file = SimulatedLayout.disk(disk)
                    sums[file] = try generate(
                        staging.appendingPathComponent(file), size: size, seed: "\(machine)/\(name)/\(disk)", cancellation: cancellation
                    )
                }
            } catch {
                try? FileSystem.remove(staging)
                throw error
            }
            try layout.writeChecksums(sums, in: staging)
            // A recovery point appears whole or not at all.
            guard rename(staging.path, layout.recoveryPoint(machine, name).path) == 0 else {
                throw StageCheckFailure(message: "cannot create recovery point \(name)")
            }
        }
        return layout.recoveryPoints(machine)
    }

    /// Writes `size` bytes from a SplitMix64 stream seeded by `seed`; returns their SHA-256.
    private func generate(_ url: URL, size: Int64, seed: String, cancellation: CancellationFlag) throws -> String {
        try FileSystem.createFile(url)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var random = SplitMix64(seed: seed.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 })
        var hasher = Checksum()
        var remaining = size
        var block = [UInt8](repeating: 0, count: 1 << 20)
        while remaining > 0 {
            // A cancelled stage stops writing within a block.
            try cancellation.check()
            let count = Int(min(Int64(block.count), remaining))
            block.withUnsafeMutableBytes { raw in
                let words = raw.bindMemory(to: UInt64.self)
                for i in 0..<(count + 7) / 8 {
                    words[i] = random.next()
                }
            }
            let slice = block[0..<count]
            hasher.update(slice)
            try handle.write(contentsOf: Data(slice))
            remaining -= Int64(count)
        }
        try handle.synchronize()
        return hasher.finalize()
    }
}
