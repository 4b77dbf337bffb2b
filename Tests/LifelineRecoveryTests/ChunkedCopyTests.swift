import Foundation
@testable import LifelineQueue
@testable import LifelineRecovery
import Testing

@Suite("Chunked copies")
struct ChunkedCopyTests {
    /// Not a whole number of chunks, so the last one is short.
    static let source = Data((0..<(9 << 20) + 123).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })

    /// /dev/shm is tmpfs where the temporary directory is not: the kernel cannot copy between
    /// the two, and the copy writes the bytes it read instead.
    static let otherMount: URL? = {
        func device(_ path: String) -> UInt64? {
            var info = stat()
            return stat(path, &info) == 0 ? UInt64(info.st_dev) : nil
        }
        let shm = "/dev/shm"
        guard let there = device(shm), let here = device(FileManager.default.temporaryDirectory.path), there != here else { return nil }
        return URL(fileURLWithPath: shm)
    }()

    /// Copies `source` from under `root` to under `destinationRoot`, from a checkpoint at
    /// `resumeAt` bytes (that much already copied), and returns the digest and the copy.
    func copy(root: URL, to destinationRoot: URL, resumeAt: Int) async throws -> (digest: String, copied: Data) {
        try FileSystem.makeDirectory(root)
        try FileSystem.makeDirectory(destinationRoot)
        let source = root.appendingPathComponent("disk-0.img")
        let destination = destinationRoot.appendingPathComponent("disk-0.img")
        let checkpoint = destinationRoot.appendingPathComponent("disk-0.img.checkpoint")
        try Self.source.write(to: source)
        if resumeAt > 0 {
            // Past the checkpoint, bytes that a crash may have torn: written again.
            try (Self.source.prefix(resumeAt) + Data(repeating: 0xFF, count: 1000)).write(to: destination)
            try FileSystem.writeCheckpoint(checkpoint, Int64(resumeAt))
        }
        let fence = StageFence(file: root.appendingPathComponent("fences/web-1"), server: "web-1", token: .init(job: 1, attempt: 1))
        try FileSystem.makeDirectory(root.appendingPathComponent("fences"))
        let copy = ChunkedCopy(
            source: source, destination: destination, checkpoint: checkpoint, throttle: Throttle(bytesPerSecond: nil), fence: fence
        ) { _ in }
        let digest = try await copy.run { _ in }
        return (digest, try Data(contentsOf: destination))
    }

    @Test("a copy's system error names the file it wrote, in one line")
    func errorNamesFile() {
        let disk = URL(fileURLWithPath: "/infra/servers/e1/hot/disk-0.img")
        // As FileHandle's sync throws it, and as the kernel's copy fails.
        for error: any Error in [NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC)), POSIXError(.ENOSPC)] {
            #expect(HandlerEnd(error: FileSystem.naming(error, disk)) == .threw("/infra/servers/e1/hot/disk-0.img: no space left on device"))
        }
        #expect(HandlerEnd(error: FileSystem.naming(CancellationError(), disk)) == HandlerEnd(error: CancellationError()), "other errors as they are")
    }

    @Test("a copy gives the source's bytes and their SHA-256, whole or resumed from a checkpoint", arguments: [0, 5 << 20])
    func sameFileSystem(resumeAt: Int) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lifeline-copy-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let (digest, copied) = try await copy(root: root, to: root.appendingPathComponent("hot"), resumeAt: resumeAt)
        #expect(copied == Self.source)
        #expect(digest == Checksum.hex(Self.source))
    }

    @Test(
        "a copy to another file system, which the kernel cannot copy to, writes the bytes it read: the same bytes and SHA-256",
        .enabled(if: otherMount != nil, "/dev/shm is missing or on the temporary directory's file system"),
        arguments: [0, 5 << 20]
    )
    func otherFileSystem(resumeAt: Int) async throws {
        let name = "lifeline-copy-\(UUID().uuidString)"
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        let elsewhere = try #require(Self.otherMount).appendingPathComponent(name)
        defer {
            try? FileManager.default.removeItem(at: root)
            try? FileManager.default.removeItem(at: elsewhere)
        }
        let (digest, copied) = try await copy(root: root, to: elsewhere, resumeAt: resumeAt)
        #expect(copied == Self.source)
        #expect(digest == Checksum.hex(Self.source))
    }
}
