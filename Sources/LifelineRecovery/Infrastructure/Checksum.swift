import Crypto
import Foundation

/// SHA-256 of a stream of bytes, as lowercase hex: the checksums of disk images and
/// backups. swift-crypto's implementation uses the CPU's SHA instructions where it has them.
public struct Checksum {
    private var hasher = SHA256()

    public init() {}

    public mutating func update(_ bytes: some DataProtocol) {
        hasher.update(data: bytes)
    }

    /// The hex digest of everything given so far.
    public func finalize() -> String {
        hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    public static func hex(_ bytes: some DataProtocol) -> String {
        var checksum = Checksum()
        checksum.update(bytes)
        return checksum.finalize()
    }
}
