// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Lifeline",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lifeline", targets: ["lifeline"]),
        .library(name: "LifelineQueue", targets: ["LifelineQueue"]),
        .library(name: "LifelineSQLite", targets: ["LifelineSQLite"]),
        .library(name: "LifelinePostgres", targets: ["LifelinePostgres"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
        // postgres-nio's own: TLS to the database takes NIOSSL's context.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
        // Without its swift-configuration support (a default trait), which nothing here uses: 47
        // fewer files to build.
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1", traits: ["FullFoundation"]),
        // Hummingbird's own: the web target names NIO's IOError (a port already taken).
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-http-types", exact: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", exact: "2.0.1"),
    ],
    targets: [
        // The POSIX pieces Swift cannot say safely: programs started under a reaper, a flock with a deadline.
        .target(name: "CLifelineSystem"),
        // SQLite's process-wide settings, made through its variadic C API.
        .target(name: "CLifelineSQLite", dependencies: [.product(name: "GRDBSQLite", package: "GRDB.swift")]),
        // Job model, states, retry policy, the storage protocol and the worker runtime. No SQL.
        .target(
            name: "LifelineQueue",
            dependencies: ["CLifelineSystem", .product(name: "Logging", package: "swift-log")]
        ),
        // The recovery-server lifecycle: states, the pure state machine, stage jobs and the
        // infrastructure they act on.
        .target(
            name: "LifelineRecovery",
            dependencies: [
                "CLifelineSystem", "LifelineQueue", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The GRDB-backed JobStore and server store over the system libsqlite3.
        .target(
            name: "LifelineSQLite",
            dependencies: [
                "CLifelineSQLite",
                "CLifelineSystem",
                "LifelineQueue",
                "LifelineRecovery",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // The JobStore and ServerStore on PostgreSQL, for pools on many hosts.
        .target(
            name: "LifelinePostgres",
            dependencies: [
                "LifelineQueue",
                "LifelineRecovery",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `lifeline serve`: the JSON API over either store, on Hummingbird.
        .target(
            name: "LifelineWeb",
            dependencies: [
                "LifelineQueue", "LifelineRecovery", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The JobStore and ServerStore conformance suites, fixtures and event-based waits, shared by every store's tests.
        .target(
            name: "LifelineTestKit",
            dependencies: ["CLifelineSystem", "LifelineQueue", "LifelineRecovery"]
        ),
        .executableTarget(
            name: "lifeline",
            dependencies: [
                "LifelineQueue",
                "LifelineRecovery",
                "LifelineSQLite",
                "LifelinePostgres",
                "LifelineWeb",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "LifelineQueueTests",
            dependencies: [
                "LifelineQueue",
                "LifelineTestKit",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "LifelineRecoveryTests",
            dependencies: [
                "LifelineRecovery",
                "LifelineTestKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "LifelineSQLiteTests",
            dependencies: [
                "CLifelineSQLite", "LifelineQueue", "LifelineRecovery", "LifelineSQLite", "LifelineTestKit",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "LifelinePostgresTests",
            dependencies: ["LifelineQueue", "LifelineRecovery", "LifelinePostgres", "LifelineTestKit"]
        ),
        .testTarget(
            name: "LifelineCommandTests",
            dependencies: ["lifeline", "LifelineRecovery", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(
            name: "LifelineCLITests",
            dependencies: [
                "LifelineQueue", "LifelineRecovery", "LifelineSQLite", "LifelineTestKit",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
