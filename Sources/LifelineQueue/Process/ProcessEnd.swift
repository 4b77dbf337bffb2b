import Synchronization

/// How a process ended: set once, awaited by any number of tasks, before or after it is set.
final class ProcessEnd<Value: Sendable>: Sendable {
    private let state = Mutex<(value: Value?, waiting: [CheckedContinuation<Value, Never>])>((nil, []))

    var value: Value {
        get async {
            await withCheckedContinuation { continuation in
                let value = state.withLock { state in
                    if state.value == nil { state.waiting.append(continuation) }
                    return state.value
                }
                if let value { continuation.resume(returning: value) }
            }
        }
    }

    var isSet: Bool {
        state.withLock { $0.value != nil }
    }

    /// Sets it, and wakes the tasks waiting for it.
    func set(_ value: Value) {
        let waiting = state.withLock { state in
            state.value = value
            return state.waiting.take()
        }
        for continuation in waiting { continuation.resume(returning: value) }
    }
}
