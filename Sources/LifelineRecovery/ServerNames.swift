import LifelineQueue

/// Server and machine names become file names under `infra/`: letters, digits, '.', '_'
/// and '-', starting with a letter or digit, 1 to 63 characters. No '/', no '..', no control
/// characters, so a name can never escape its directory.
public enum ServerNames {
    public static func check(_ name: String, what: String = "server name") throws(JobInputError) {
        let bytes = Array(name.utf8)
        let allowed = bytes.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
        guard (1...63).contains(bytes.count), allowed, let first = bytes.first,
              (first >= 0x30 && first <= 0x39) || (first >= 0x41 && first <= 0x5A) || (first >= 0x61 && first <= 0x7A)
        else {
            throw JobInputError("invalid \(what) '\(JobInputError.quoted(name))': use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
    }
}
